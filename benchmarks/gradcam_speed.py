"""Grad-CAM on ResNet18 against a forward pass alone, Captum and pytorch-grad-cam (if installed).

    python benchmarks/gradcam_speed.py [--repeats 15]

Timings are interleaved (each round runs every method once, in turn) and reported as the median
and the spread (min-max) over the rounds, in milliseconds, with each method's ratio to forward-only.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
import torchvision

from cnnbook import gradcam


predictions: dict[int, torch.Tensor] = {}


def methods(model, layer):
    def forward(x):
        with torch.no_grad():
            model(x)

    found = {"forward only": forward, "cnnbook.gradcam": lambda x: gradcam.gradcam(model, layer, x)}
    try:
        from captum.attr import LayerAttribution, LayerGradCam

        captum = LayerGradCam(model, layer)

        def run_captum(x):
            # Captum needs the target up front; it is computed once outside the timing (in favour of
            # Captum), while cnnbook and pytorch-grad-cam find the prediction in their own pass.
            maps = captum.attribute(x, target=predictions[x.shape[0]], relu_attributions=True)
            LayerAttribution.interpolate(maps, x.shape[-2:], interpolate_mode="bilinear")

        found["captum LayerGradCam"] = run_captum
    except ImportError:
        pass
    try:
        from pytorch_grad_cam import GradCAM

        cam = GradCAM(model=model, target_layers=[layer])
        found["pytorch-grad-cam"] = lambda x: cam(input_tensor=x, targets=None)
    except ImportError:
        pass
    return found


def describe() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads; ResNet18 (random weights), layer4[-1], 224x224")


def measure(repeats: int = 15, batches: tuple[int, ...] = (1, 8)) -> dict[int, dict[str, dict[str, float]]]:
    """Median, min and max milliseconds of each method per batch size, and the ratio of each
    median to forward-only's, over ``repeats`` interleaved rounds."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    layer = model.layer4[-1]
    results = {}
    for batch in batches:
        x = torch.rand(batch, 3, 224, 224)
        with torch.no_grad():
            predictions[batch] = model(x).argmax(1)
        runs = methods(model, layer)
        for fn in runs.values():  # warm up
            fn(x)
        times = {name: [] for name in runs}
        for _ in range(repeats):
            for name, fn in runs.items():
                start = time.perf_counter()
                fn(x)
                times[name].append((time.perf_counter() - start) * 1000)
        base = statistics.median(times["forward only"])
        results[batch] = {name: {"median_ms": statistics.median(v), "min_ms": min(v), "max_ms": max(v),
                                 "ratio": statistics.median(v) / base} for name, v in times.items()}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    print(describe())
    for batch, found in measure(args.repeats).items():
        print(f"\nbatch {batch}: median of {args.repeats} interleaved rounds")
        for name, t in found.items():
            print(f"  {name:<22} {t['median_ms']:8.1f} ms  (min {t['min_ms']:.1f}, max {t['max_ms']:.1f})  "
                  f"{t['ratio']:5.2f}x forward")


if __name__ == "__main__":
    main()
