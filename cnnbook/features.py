"""Looking inside a network: exact feature maps, first-layer filters, parameters, layer costs and
receptive fields. Chapters 5, 6, 7, 8 and 11 use it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch
from torch import nn

from . import checks, hooks
from .conv import watch_leaves


def feature_maps(model: nn.Module, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
    """Each named layer's exact output during one forward pass of ``x``.

    ``layers`` are names as in ``model.named_modules()``, for example ``"features.10"``. The output
    is copied the moment the layer produces it, so a layer followed by an in-place ReLU reports
    its own values, not the ReLU's (keeping ``out`` or ``out.detach()`` would share memory with the
    tensor the ReLU then overwrites). The forward pass runs without gradients; the model's training
    flags and parameters are left as they are, and every hook is removed, also on errors.
    """
    if isinstance(layers, str):
        raise ValueError(f"layers must be a list of layer names, got the string {layers!r}; write [{layers!r}]")
    layers = list(layers)
    if not layers:
        raise ValueError("layers is empty; name at least one layer, for example 'features.0'")
    modules = {name: hooks.find_layer(model, name) for name in layers}
    captured: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            captured[name] = output.detach().clone()

        return hook

    handles = [module.register_forward_hook(keep(name)) for name, module in modules.items()]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    missing = [name for name in layers if name not in captured]
    if missing:
        raise RuntimeError(f"layers {missing} did not run during the forward pass")
    return {name: captured[name] for name in layers}


def first_conv(model: nn.Module) -> nn.Conv2d:
    """The first ``nn.Conv2d`` in the model (in registration order)."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module
    raise ValueError("the model has no Conv2d layer")


def first_layer_filters(model: nn.Module, columns: int = 8, gap: int = 1) -> np.ndarray:
    """The first convolution's filters as one RGB image grid ``(rows*(k+gap), columns*(k+gap), 3)``.

    Each filter is scaled to [0, 1] on its own (its smallest weight black, its largest white), so
    weak filters stay visible; a constant filter becomes mid-grey rather than NaN. Filters with one
    input channel are shown in grey.
    """
    columns, gap = checks.whole("columns", columns, 1), checks.whole("gap", gap, 0)
    weight = first_conv(model).weight.detach().cpu().numpy()  # (filters, channels, k, k)
    if weight.shape[1] not in (1, 3):
        raise ValueError(f"can only draw filters with 1 or 3 input channels, got {weight.shape[1]}")
    count, _, k_h, k_w = weight.shape
    low = weight.min(axis=(1, 2, 3), keepdims=True)
    span = weight.max(axis=(1, 2, 3), keepdims=True) - low
    scaled = np.where(span > 0, (weight - low) / np.where(span > 0, span, 1), 0.5)
    if scaled.shape[1] == 1:
        scaled = np.repeat(scaled, 3, axis=1)
    rows = -(-count // columns)
    grid = np.ones((rows * (k_h + gap) - gap, columns * (k_w + gap) - gap, 3))
    for index, image in enumerate(scaled.transpose(0, 2, 3, 1)):
        r, c = divmod(index, columns)
        grid[r * (k_h + gap) : r * (k_h + gap) + k_h, c * (k_w + gap) : c * (k_w + gap) + k_w] = image
    return grid


@dataclass
class LayerParameters:
    name: str
    layer: str
    parameters: int


def parameter_table(model: nn.Module) -> list[LayerParameters]:
    """Every module that owns parameters directly, with how many it owns (weights plus biases)."""
    rows = []
    for name, module in model.named_modules():
        own = sum(p.numel() for p in module.parameters(recurse=False))
        if own:
            rows.append(LayerParameters(name, type(module).__name__, own))
    return rows


@dataclass
class LayerCost:
    """One row of :func:`layer_costs`: what a layer stores and what it computes, per image."""

    name: str
    layer: str
    output_shape: tuple[int, ...]  # without the batch axis
    parameters: int  # weights and biases the layer owns
    macs: int  # multiply-accumulate operations of its weights (convolution and linear layers)
    activations: int  # numbers in its output

    @property
    def activation_bytes(self) -> int:
        """The output's memory as 32-bit floats."""
        return 4 * self.activations


def layer_costs(model: nn.Module, input_shape: tuple[int, int, int]) -> list[LayerCost]:
    """Parameters, multiply-accumulates and output size of every leaf layer for one image of
    ``input_shape`` ``(C, H, W)``, in the order the layers run.

    A convolution computes ``C_in / groups * k_h * k_w`` products for each of its outputs, a linear
    layer ``in_features``; other layers (ReLU, pooling, batch norm) are counted as doing no
    multiply-accumulates. Works on a model on the ``meta`` device, so even VGG19 costs no memory.
    """
    shape = tuple(checks.whole(f"input_shape[{i}]", n, 1) for i, n in enumerate(input_shape))
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    names = {module: name for name, module in model.named_modules()}
    rows: list[LayerCost] = []

    def record(module: nn.Module, inputs: tuple, output: object) -> None:
        if not isinstance(output, torch.Tensor):
            return
        per_image = output.numel() // output.shape[0]
        if isinstance(module, nn.Conv2d):
            k_h, k_w = module.kernel_size
            macs = per_image * (module.in_channels // module.groups) * k_h * k_w
        elif isinstance(module, nn.Linear):
            macs = per_image * module.in_features
        else:
            macs = 0
        own = sum(p.numel() for p in module.parameters(recurse=False))
        rows.append(LayerCost(names[module], type(module).__name__, tuple(output.shape[1:]), own, macs, per_image))

    watch_leaves(model, torch.zeros((1, *shape), device=device), record)
    return rows


@dataclass
class ReceptiveField:
    name: str
    layer: str
    size: int  # how many input pixels (per side) one output value depends on
    jump: int  # how many input pixels apart two neighbouring outputs are


def receptive_fields(layers: nn.Sequential) -> list[ReceptiveField]:
    """Receptive field and jump after each layer of a plain stack of layers (no branches).

    A layer with kernel ``k``, stride ``s`` and dilation ``d`` grows the field by ``d*(k-1)`` times
    the current jump and multiplies the jump by ``s``; layers without a kernel change neither.
    """
    if not isinstance(layers, nn.Sequential):
        raise TypeError("receptive_fields needs an nn.Sequential stack, such as vgg16().features")
    size, jump, rows = 1, 1, []
    for name, module in layers.named_children():
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            first = lambda v: v[0] if isinstance(v, tuple) else v  # noqa: E731
            kernel, stride = first(module.kernel_size), first(module.stride)
            dilation = first(getattr(module, "dilation", 1))
            size += dilation * (kernel - 1) * jump
            jump *= stride
        elif isinstance(module, nn.Sequential):
            raise TypeError(f"layer {name!r} is itself a Sequential; pass a flat stack of layers")
        rows.append(ReceptiveField(name, type(module).__name__, size, jump))
    return rows
