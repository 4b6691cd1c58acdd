"""Execution time and peak memory (RSS of the kernel) of each chapter, as the book build runs it.

    python benchmarks/chapter_resources.py                 # with the weights in your cache
    python benchmarks/chapter_resources.py --plant         # with stand-in checkpoints (offline)

``--plant`` writes randomly initialised checkpoints of the book's networks into a temporary
TORCH_HOME, so the pages load full-size weights through the normal path even on a machine that
cannot download the real ones. Prints one line per chapter; exits non-zero if a chapter fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbclient
import psutil
from myst_nb.core.read import read_myst_markdown_notebook

REPO = Path(__file__).resolve().parents[1]


def chapters() -> list[Path]:
    from cnnbook.notebooks import chapters as notebook_pages

    return notebook_pages(REPO)  # every notebook page of _toc.yml (the references page is not one)


def plant(home: Path) -> None:
    import torch
    import torchvision

    from cnnbook import models

    for name in models.BOOK_MODELS:
        path = home / "hub" / "checkpoints" / Path(models.default_weights(name).url).name
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(torchvision.models.get_model(name).state_dict(), path)


def run(path: Path) -> tuple[float, float]:
    """Execute one chapter in a fresh kernel; return (seconds, peak RSS of the kernel in MB)."""
    notebook = read_myst_markdown_notebook(path.read_text())
    client = nbclient.NotebookClient(notebook, kernel_name="python3", timeout=600,
                                     resources={"metadata": {"path": str(path.parent)}})
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            manager = client.km
            pid = getattr(getattr(manager, "provisioner", None), "pid", None) if manager else None
            if pid:
                try:
                    process = psutil.Process(pid)
                    rss = process.memory_info().rss + sum(c.memory_info().rss for c in process.children(True))
                    peak[0] = max(peak[0], rss)
                except psutil.Error:
                    pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        done.set()
        sampler.join()
    return time.perf_counter() - start, peak[0] / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plant", action="store_true", help="use stand-in checkpoints in a temporary TORCH_HOME")
    parser.add_argument("pages", nargs="*", help="chapter files (default: every page in _toc.yml)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.plant:
            plant(Path(tmp))
            os.environ["TORCH_HOME"] = tmp
            os.environ["CNNBOOK_OFFLINE"] = "1"
        print(f"machine: {os.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
              f"weights: {'stand-in checkpoints' if args.plant else 'your cache'}")
        print(f"{'chapter':<32} {'seconds':>8} {'peak RSS (MB)':>14}")
        for page in [Path(p).resolve() for p in args.pages] or chapters():
            seconds, rss = run(page)
            print(f"{page.stem:<32} {seconds:8.1f} {rss:14.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
