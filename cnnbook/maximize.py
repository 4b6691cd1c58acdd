"""Activation maximisation: the picture that makes one unit of a network respond most, found by
gradient ascent on the input. Chapter 8 uses it.

The unit is a class score, the total activation of one channel of a convolutional layer, or one
output of a fully connected layer. Erhan et al. (2009) introduced the method; the random shifts,
zooms and turns at each step follow Olah et al.'s "Feature Visualization" (Distill, 2017).
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import checks, hooks


@dataclass
class Maximized:
    """The result of :func:`activation_maximization`: the image ``(C, H, W)`` in [0, 1] and the
    objective after every step."""

    image: torch.Tensor
    history: list[float]


def _augment(image: torch.Tensor, generator: torch.Generator, jitter: int, scale: float, rotate: float) -> torch.Tensor:
    """Random shift, zoom and turn (Distill's "transformation robustness"), differentiably."""
    if jitter:
        dx, dy = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=generator))
        image = torch.roll(image, shifts=(dy, dx), dims=(-2, -1))
    if scale != 1.0 or rotate:
        s = 1.0 + (torch.rand(1, generator=generator).item() * 2 - 1) * (scale - 1.0)
        angle = math.radians((torch.rand(1, generator=generator).item() * 2 - 1) * rotate)
        theta = torch.tensor([[math.cos(angle) / s, -math.sin(angle) / s, 0.0],
                              [math.sin(angle) / s, math.cos(angle) / s, 0.0]], dtype=image.dtype)
        grid = F.affine_grid(theta[None].expand(len(image), 2, 3), list(image.shape), align_corners=False)
        image = F.grid_sample(image, grid, padding_mode="reflection", align_corners=False)
    return image


def activation_maximization(
    model: nn.Module,
    input_shape: tuple[int, int, int],
    kind: str = "class",
    unit: int = 0,
    layer: nn.Module | str | None = None,
    l1: float = 0.0,
    steps: int = 200,
    lr: float = 0.1,
    bound: str = "sigmoid",
    jitter: int = 0,
    scale: float = 1.0,
    rotate: float = 0.0,
    seed: int = 0,
) -> Maximized:
    """Gradient ascent on an input image to make one unit of the network respond as much as possible.

    ``kind`` says what is maximised: ``"class"`` the score of output ``unit``; ``"filter"`` the
    total activation ``a^k = sum_ij a^k_ij`` of channel ``unit`` of a convolutional ``layer``;
    ``"neuron"`` output ``unit`` of a fully connected ``layer``. The objective is the activation
    minus ``l1 * sum |x|``. The image stays in [0, 1], either as ``sigmoid`` of free parameters
    (``bound="sigmoid"``) or clamped after each step (``bound="clamp"``). A picture lives in that
    range: unbounded, gradient ascent can raise the activation without limit by pushing pixels far
    outside it, to inputs no camera produces, and the L1 term reads as "little ink" (most pixels 0,
    black) only where pixels lie in [0, 1]. ``jitter`` (pixels), ``scale`` (largest
    zoom factor) and ``rotate`` (degrees) apply random transformations at each step, which gives
    more natural-looking images on large networks. The model is not changed and gets no ``.grad``.
    :func:`maximize_units` does the same for several units at once.
    """
    unit = checks.whole("unit", unit, 0)
    return _ascend(model, input_shape, kind, [unit], ["unit"], layer, l1, steps, lr, bound, jitter, scale, rotate,
                   seed)[0]


def maximize_units(
    model: nn.Module,
    input_shape: tuple[int, int, int],
    kind: str = "class",
    units: Sequence[int] = (0,),
    layer: nn.Module | str | None = None,
    l1: float = 0.0,
    steps: int = 200,
    lr: float = 0.1,
    bound: str = "sigmoid",
    jitter: int = 0,
    scale: float = 1.0,
    rotate: float = 0.0,
    seed: int = 0,
) -> list[Maximized]:
    """:func:`activation_maximization` for each of ``units``, all in one batch: image ``b`` of the
    batch maximises ``units[b]``, so every step is one forward and one backward pass for all of
    them instead of one per unit. The result for each unit is what :func:`activation_maximization`
    gives for it with the same arguments (up to float rounding): the images start from the same
    noise, share each step's random transformation, and Adam updates every pixel on its own, so one
    image's pixels never affect another's. That needs a model that treats the images of a batch
    independently, as networks in evaluation mode do unless a layer mixes them (BatchNorm built with
    ``track_running_stats=False`` does). All the images and their activations are held at once: for
    many units of a large network, call it on a few units at a time."""
    listed = _unit_list(units)
    chosen = [checks.whole(f"units[{i}]", u, 0) for i, u in enumerate(listed)]
    return _ascend(model, input_shape, kind, chosen, [f"units[{i}]" for i in range(len(chosen))], layer, l1, steps,
                   lr, bound, jitter, scale, rotate, seed)


def _unit_list(units: object) -> list:
    """``units`` as a list (a list, tuple, range, 1-D array or tensor), or a ValueError naming it."""
    try:
        listed = list(units.tolist() if hasattr(units, "tolist") else units)  # type: ignore[union-attr]
    except TypeError:  # a single number, a 0-d array or tensor, None
        listed = []
    if isinstance(units, (str, bytes)) or not listed:
        raise ValueError(f"units must be a non-empty list of unit numbers, got {units!r}")
    return listed


def _ascend(model: nn.Module, input_shape: tuple[int, int, int], kind: str, chosen: list[int], names: list[str],
            layer: nn.Module | str | None, l1: float, steps: int, lr: float, bound: str, jitter: int, scale: float,
            rotate: float, seed: int) -> list[Maximized]:
    """The ascent of :func:`maximize_units` for the checked unit numbers ``chosen``, called
    ``names`` in error messages."""
    if kind not in ("class", "filter", "neuron"):
        raise ValueError(f"kind must be 'class', 'filter' or 'neuron', got {kind!r}")
    if bound not in ("sigmoid", "clamp"):
        raise ValueError(f"bound must be 'sigmoid' or 'clamp', got {bound!r}")
    if kind != "class" and layer is None:
        raise ValueError(f"kind={kind!r} needs the layer whose unit to maximise")
    input_shape = tuple(checks.whole(f"input_shape[{i}]", n, 1) for i, n in enumerate(input_shape))
    steps = checks.whole("steps", steps, 1)
    l1, lr = checks.number("l1", l1, low=0), checks.number("lr", lr, low=0, low_open=True)
    jitter, scale = checks.whole("jitter", jitter, 0), checks.number("scale", scale, low=1)
    rotate = checks.number("rotate", rotate, low=-180, high=180)
    module = hooks.find_layer(model, layer) if layer is not None else None
    generator = torch.Generator().manual_seed(seed)
    start = torch.rand((1, *input_shape), generator=generator) * 0.2 + 0.4  # grey with a little noise
    start = start.repeat(len(chosen), *([1] * len(input_shape)))  # the same start for every unit
    param = (torch.logit(start) if bound == "sigmoid" else start).requires_grad_(True)
    optimiser = torch.optim.Adam([param], lr=lr)
    kept: dict[str, torch.Tensor] = {}
    watch = hooks.forward_hook(module, lambda m, i, out: kept.update(out=out.clone())) if module is not None else nullcontext()
    rows = torch.arange(len(chosen))
    histories: list[list[float]] = [[] for _ in chosen]
    with watch, torch.enable_grad(), hooks.evaluating(model):
        for _ in range(steps):
            image = torch.sigmoid(param) if bound == "sigmoid" else param
            logits = checks.forward(model, _augment(image, generator, jitter, scale, rotate), "input_shape")
            outputs = logits if kind == "class" else kept["out"]
            too_big = [(name, u) for name, u in zip(names, chosen) if u >= outputs.shape[1]]
            if too_big:
                what = {"class": "classes", "filter": "channels", "neuron": "outputs"}[kind]
                name, u = too_big[0]
                raise ValueError(f"{name} must be below {outputs.shape[1]}, the number of {what} "
                                 f"{'of the model' if kind == 'class' else f'of layer {layer!r}'}; got {u}")
            picked = outputs[rows, chosen]  # (B,) or (B, h, w): each image's own unit
            if kind != "filter" and picked.ndim > 1:
                raise ValueError(f"kind={kind!r} needs outputs of shape (batch, units), but "
                                 f"{'the model' if kind == 'class' else f'layer {layer!r}'} gives "
                                 f"{tuple(outputs.shape)}; for a channel of feature maps use kind='filter'")
            activation = picked.reshape(len(chosen), -1).sum(1) if kind == "filter" else picked
            objective = activation - l1 * image.abs().flatten(1).sum(1)  # (B,)
            optimiser.zero_grad()
            (-objective.sum()).backward(inputs=[param])  # image b's gradient depends on image b only
            optimiser.step()
            if bound == "clamp":
                with torch.no_grad():
                    param.clamp_(0.0, 1.0)
            for history, value in zip(histories, objective.detach().tolist()):
                history.append(value)
    images = (torch.sigmoid(param) if bound == "sigmoid" else param).detach()
    return [Maximized(image, history) for image, history in zip(images, histories)]
