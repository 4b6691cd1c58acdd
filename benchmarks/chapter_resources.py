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
    from cnnbook.build.notebooks import chapters as notebook_pages

    return notebook_pages(REPO)  # every notebook page of _toc.yml (the references page is not one)


def plant(home: Path) -> None:
    import torch
    import torchvision

    from cnnbook import models, weights

    for name in models.BOOK_MODELS:
        path = home / "hub" / "checkpoints" / Path(weights.default_weights(name).url).name
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(torchvision.models.get_model(name).state_dict(), path)
        weights.trust(path)  # a stand-in: its hash is not the published file's


#: What every chapter's kernel holds before it computes anything: the libraries it imports.
LIBRARIES = "import matplotlib.pyplot\nimport torch\nimport torchvision\n"


def run(path: Path) -> tuple[float, float]:
    """Execute one chapter in a fresh kernel; return (seconds, peak RSS of the kernel in MB)."""
    return run_notebook(read_myst_markdown_notebook(path.read_text()), path.parent)


def libraries() -> float:
    """Peak RSS (MB) of a fresh kernel that only imports PyTorch, torchvision and matplotlib."""
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(LIBRARIES)])
    return run_notebook(notebook, REPO)[1]


def kernel_memory(kernel: psutil.Process) -> int:
    """Bytes the kernel holds: its resident memory, plus what its child processes hold privately.

    A child forked from the kernel shares the kernel's pages until it replaces itself or exits, and
    its RSS counts them again: importing these libraries runs ``uname -p`` that way, and while it
    started, its RSS read 515 MB beside a kernel of about 770 MB. What a child adds is its unique
    memory (USS).
    """
    total = kernel.memory_info().rss
    for child in kernel.children(recursive=True):
        try:
            total += child.memory_full_info().uss
        except psutil.Error:  # gone already, or not ours to read
            pass
    return total


def run_notebook(notebook, cwd: Path) -> tuple[float, float]:
    """Execute a notebook in a fresh kernel in ``cwd``; return (seconds, peak RSS in MB)."""
    client = nbclient.NotebookClient(notebook, kernel_name="python3", timeout=600,
                                     resources={"metadata": {"path": str(cwd)}})
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            manager = client.km
            pid = getattr(getattr(manager, "provisioner", None), "pid", None) if manager else None
            if pid:
                try:
                    peak[0] = max(peak[0], kernel_memory(psutil.Process(pid)))
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
