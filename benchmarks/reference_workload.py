"""A fixed reference workload, timed in the same run as the book, so that reports from different
machines can be compared: a chapter's time divided by the reference's is a figure that travels.

    python benchmarks/reference_workload.py                # prints the figures
    python benchmarks/reference_workload.py --threads 1

Two parts, because the book's chapters spend their time in two ways:

- ``train``: a fixed number of training steps of the lecture's small digits CNN
  (``cnnbook.train.digits_cnn``) on a fixed batch, where the time goes to per-step overhead rather
  than arithmetic, as in the chapters that train small networks (this is the unit chapters are
  divided by);
- ``matmul``: a 1024x1024 matrix product, the arithmetic throughput (GFLOP/s) of the same cores.

Both run with the number of threads a chapter's kernel gets in the build (see
``cnnbook.build.parallel.plan``).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from cnnbook.train import digits_cnn

TRAIN_STEPS = 200
BATCH = 64
MATMUL_SIZE = 1024
MATMUL_REPEATS = 20


def train_seconds(steps: int = TRAIN_STEPS) -> float:
    """Seconds for ``steps`` SGD steps of the digits CNN on one fixed batch of 26x26 images."""
    generator = torch.Generator().manual_seed(0)
    model = digits_cnn((1, 26, 26))
    images = torch.rand(BATCH, 1, 26, 26, generator=generator)
    labels = torch.randint(0, 10, (BATCH,), generator=generator)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for _ in range(steps):
        optimiser.zero_grad()
        loss_fn(model(images), labels).backward()
        optimiser.step()
    return time.perf_counter() - start


def matmul_gflops(size: int = MATMUL_SIZE, repeats: int = MATMUL_REPEATS) -> float:
    """Throughput of a ``size`` x ``size`` float32 matrix product, in GFLOP/s."""
    a, b = torch.rand(size, size), torch.rand(size, size)
    a @ b  # warm up
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def measure(threads: int, runs: int = 3) -> dict:
    """Both parts ``runs`` times with ``threads`` threads: their median, min and max."""
    if threads < 1 or runs < 1:
        raise ValueError(f"threads and runs must be at least 1, got threads={threads}, runs={runs}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        train_seconds(10)  # warm up: first calls allocate and pick kernels
        train = [train_seconds() for _ in range(runs)]
        matmul = [matmul_gflops() for _ in range(runs)]
    finally:
        torch.set_num_threads(before)

    def spread(values: list[float]) -> dict[str, float]:
        return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values)}

    return {"threads": threads, "train_steps": TRAIN_STEPS, "batch": BATCH, "train_s": spread(train),
            "matmul_size": MATMUL_SIZE, "matmul_gflops": spread(matmul)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    found = measure(args.threads, args.runs)
    print(f"{found['train_steps']} training steps of the digits CNN (batch {found['batch']}): "
          f"{found['train_s']['median']:.2f} s (min {found['train_s']['min']:.2f}, max {found['train_s']['max']:.2f}); "
          f"{found['matmul_size']}x{found['matmul_size']} matmul: {found['matmul_gflops']['median']:.0f} GFLOP/s; "
          f"{found['threads']} thread(s)")


if __name__ == "__main__":
    main()
