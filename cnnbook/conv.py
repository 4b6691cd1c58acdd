"""Convolution and pooling from scratch, the output-size formula, and shapes through a network.

Used by chapters 1 to 8 and 11.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import checks


def conv_as_matrix(kernel: np.ndarray, height: int, width: int, stride: int = 1) -> np.ndarray:
    """The matrix ``M`` with ``M @ x.ravel() == conv(x).ravel()`` for every ``height x width`` image.

    A convolution (cross-correlation, no padding) is a fully connected layer whose weight matrix is
    mostly zeros and repeats the same few kernel values: this function builds that matrix by
    convolving each one-pixel image in turn, so row ``i`` lists the weights output ``i`` gives to
    every input pixel.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be 2-D (k, k), got shape {kernel.shape}")
    if kernel.shape[0] > height or kernel.shape[1] > width:
        raise ValueError(f"kernel {kernel.shape} does not fit in a {height}x{width} image")
    stride = checks.whole("stride", stride, 1)
    impulses = torch.eye(height * width, dtype=torch.float64).reshape(-1, 1, height, width)
    weight = torch.from_numpy(kernel)[None, None]
    responses = F.conv2d(impulses, weight, stride=stride)  # (pixels, 1, H_out, W_out)
    return responses.reshape(height * width, -1).T.numpy()


# --- checking arguments ------------------------------------------------------------------------


def _pair(name: str, value: object, minimum: int) -> tuple[int, int]:
    """A whole number or a pair of them (height, width), each at least ``minimum``, as a pair."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be a whole number or a pair (height, width), got {value!r}")
        return checks.whole(f"{name}[0]", value[0], minimum), checks.whole(f"{name}[1]", value[1], minimum)
    number = checks.whole(name, value, minimum)
    return number, number


# --- the output-size formula -------------------------------------------------------------------


def output_size_unrounded(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> float:
    """``(size + 2*padding - dilation*(kernel - 1) - 1) / stride + 1`` before rounding.

    With ``dilation=1`` this is the lecture's ``(H + 2p - k) / s + 1``: for AlexNet's first layer
    ``(224 + 2*2 - 11) / 4 + 1 = 55.25``.
    """
    size, kernel = checks.whole("size", size, 1), checks.whole("kernel", kernel, 1)
    stride, padding = checks.whole("stride", stride, 1), checks.whole("padding", padding, 0)
    dilation = checks.whole("dilation", dilation, 1)
    return (size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1


def output_size(
    size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1, ceil_mode: bool = False
) -> int:
    """How many positions a window of ``kernel`` takes along an input of ``size``, as PyTorch counts.

    ``floor((size + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1``, the formula behind
    ``nn.Conv2d`` and ``nn.MaxPool2d``/``nn.AvgPool2d``. With ``ceil_mode=True`` (pooling only) the
    division rounds up, but a last window that would start in the right-hand padding is dropped.
    """
    size, kernel = checks.whole("size", size, 1), checks.whole("kernel", kernel, 1)
    stride, padding = checks.whole("stride", stride, 1), checks.whole("padding", padding, 0)
    dilation = checks.whole("dilation", dilation, 1)
    span = dilation * (kernel - 1) + 1  # how far one window reaches
    padded = size + 2 * padding
    if span > padded:
        detail = f"kernel {kernel}" + (f" with dilation {dilation} spans {span} pixels" if dilation > 1 else "")
        raise ValueError(
            f"the window does not fit: {detail} but the input is only {size}"
            + (f" + 2*{padding} padding = {padded}" if padding else "")
            + " pixels; use a smaller kernel or more padding"
        )
    steps = padded - span
    if not ceil_mode:
        return steps // stride + 1
    out = -(-steps // stride) + 1  # ceil division
    if (out - 1) * stride >= size + padding:  # the last window would start in the padding
        out -= 1
    return out


# --- convolution and pooling from scratch ------------------------------------------------------


def _as_channels(name: str, array: object) -> np.ndarray:
    """A 2-D ``(H, W)`` or 3-D ``(C, H, W)`` array of finite numbers as float ``(C, H, W)``."""
    try:
        array = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be an array of numbers, got {type(array).__name__} ({err})") from None
    if array.ndim not in (2, 3):
        raise ValueError(f"{name} must be 2-D (H, W) or 3-D (C, H, W), got shape {array.shape}")
    if 0 in array.shape:
        raise ValueError(f"{name} must have at least one value along every axis, got shape {array.shape}")
    checks.finite(name, array)
    return array[None] if array.ndim == 2 else array


def conv2d(x: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Slide ``kernel`` over ``x`` and take the weighted sum at each stop (cross-correlation).

    ``x`` is an image ``(H, W)`` with a kernel ``(k, k)``, or channels ``(C, H, W)`` with a kernel
    ``(C, k, k)``: one filter, summed over all channels. ``stride`` and ``padding`` are a number or
    a pair (height, width). Returns the feature map ``(H_out, W_out)``. The kernel is not flipped,
    as in ``torch.nn.functional.conv2d``.
    """
    image, weights, (step_h, step_w) = _conv_inputs(x, kernel, stride, padding)  # checked, zero-padded
    k_h, k_w = weights.shape[1:]
    out = np.zeros(((image.shape[1] - k_h) // step_h + 1, (image.shape[2] - k_w) // step_w + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            window = image[:, i * step_h : i * step_h + k_h, j * step_w : j * step_w + k_w]
            out[i, j] = np.sum(window * weights)  # multiply element by element, add up
    return out


def _conv_inputs(x, kernel, stride, padding) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """What :func:`conv2d` needs, checked: ``x`` as ``(C, H, W)`` with its zero padding added, the
    kernel as ``(C, k_h, k_w)``, and the stride as a pair."""
    image = _as_channels("x", x)
    weights = _as_channels("kernel", kernel)
    if np.ndim(x) != np.ndim(kernel):
        raise ValueError(
            f"x has shape {np.shape(x)} but kernel has shape {np.shape(kernel)}; use a (k, k) kernel "
            "for an (H, W) image and a (C, k, k) kernel for a (C, H, W) image"
        )
    if image.shape[0] != weights.shape[0]:
        raise ValueError(f"kernel has {weights.shape[0]} channels but x has {image.shape[0]}; they must match")
    stride_pair = _pair("stride", stride, 1)
    pad_h, pad_w = _pair("padding", padding, 0)
    for axis, (size, k, pad) in enumerate([(image.shape[1], weights.shape[1], pad_h), (image.shape[2], weights.shape[2], pad_w)]):
        if k > size + 2 * pad:
            raise ValueError(
                f"kernel is {k} pixels along axis {axis} but x, padded, is only {size + 2 * pad}; "
                "use a smaller kernel or more padding"
            )
    return np.pad(image, ((0, 0), (pad_h, pad_h), (pad_w, pad_w))), weights, stride_pair


def _pool(x: np.ndarray, kernel: int, stride: int | None, reduce, name: str) -> np.ndarray:
    channels = _as_channels("x", x)
    kernel_h, kernel_w = _pair("kernel", kernel, 1)
    stride_h, stride_w = _pair("stride", kernel if stride is None else stride, 1)
    height, width = channels.shape[1:]
    if kernel_h > height or kernel_w > width:
        raise ValueError(f"{name}: kernel ({kernel_h}, {kernel_w}) is larger than x ({height}, {width})")
    out_h = (height - kernel_h) // stride_h + 1
    out_w = (width - kernel_w) // stride_w + 1
    out = np.zeros((channels.shape[0], out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            top, left = i * stride_h, j * stride_w
            window = channels[:, top : top + kernel_h, left : left + kernel_w]
            out[:, i, j] = reduce(window, axis=(1, 2))
    return out[0] if np.ndim(x) == 2 else out


def max_pool2d(x: np.ndarray, kernel: int, stride: int | None = None) -> np.ndarray:
    """The largest value in each ``kernel x kernel`` window; ``stride`` defaults to ``kernel``.

    Works on ``(H, W)`` or, channel by channel, on ``(C, H, W)``; the shape stays 2-D or 3-D.
    """
    return _pool(x, kernel, stride, np.max, "max_pool2d")


def avg_pool2d(x: np.ndarray, kernel: int, stride: int | None = None) -> np.ndarray:
    """The mean of each ``kernel x kernel`` window; ``stride`` defaults to ``kernel``."""
    return _pool(x, kernel, stride, np.mean, "avg_pool2d")


# --- shapes through a whole network ------------------------------------------------------------


@dataclass
class LayerShape:
    """One row of :func:`trace_shapes`: a layer's name and type, its output shape and, where the
    formula applies, the formula's prediction (per spatial axis, unrounded and rounded)."""

    name: str  #: where the layer sits in the model, as ``named_modules()`` names it: ``"features.0"``
    layer_type: str  #: the layer's class name: ``"Conv2d"``, ``"MaxPool2d"``, ...
    output_shape: tuple[int, ...]
    formula: str = ""
    predicted: tuple[int, ...] | None = None

    @property
    def matches(self) -> bool | None:
        return None if self.predicted is None else self.predicted == self.output_shape


def _predict(module: nn.Module, in_shape: tuple[int, ...]) -> tuple[str, tuple[int, ...]] | None:
    """The formula, written out for the height, and the predicted output shape of a conv or pool."""
    if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        pairs = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
        kernel, stride, padding = pairs(module.kernel_size), pairs(module.stride), pairs(module.padding)
        dilation = pairs(getattr(module, "dilation", 1))
        ceil_mode = bool(getattr(module, "ceil_mode", False))
        height, width = in_shape[-2:]
        sizes = [
            output_size(size, kernel[a], stride[a], padding[a], dilation[a], ceil_mode)
            for a, size in enumerate((height, width))
        ]
        exact = output_size_unrounded(height, kernel[0], stride[0], padding[0], dilation[0])
        span = f"{kernel[0]}" if dilation[0] == 1 else f"{dilation[0]}*({kernel[0]}-1)+1"
        rounding = "ceil" if ceil_mode else "floor"
        formula = f"({height} + 2*{padding[0]} - {span})/{stride[0]} + 1 = {exact:g}"
        if exact != sizes[0]:
            formula += f" -> {rounding} {sizes[0]}"
        channels = module.out_channels if isinstance(module, nn.Conv2d) else in_shape[-3]
        return formula, (*in_shape[:-3], channels, *sizes)
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        target = module.output_size if isinstance(module.output_size, tuple) else (module.output_size,) * 2
        target = tuple(in_shape[-2 + i] if t is None else t for i, t in enumerate(target))
        return f"adaptive: always {target[0]}x{target[1]}", (*in_shape[:-2], *target)
    if isinstance(module, nn.Flatten):
        start = module.start_dim % len(in_shape)
        end = module.end_dim % len(in_shape)
        flat = int(np.prod(in_shape[start : end + 1]))
        dims = " x ".join(str(d) for d in in_shape[start : end + 1])
        return f"{dims} = {flat}", (*in_shape[:start], flat, *in_shape[end + 1 :])
    return None


def trace_shapes(model: nn.Module, input_shape: tuple[int, ...]) -> list[LayerShape]:
    """Run a zero input of ``input_shape`` through ``model`` and record every layer's output shape.

    For convolutions, pooling layers and flatten, the output-size formula's prediction (and the
    formula, written out for the height) stands beside the measured shape. Only leaf modules are
    listed, in the order they ran. The model's training flags are restored and no hook is left
    behind, also when the forward pass fails.
    """
    input_shape = tuple(checks.whole(f"input_shape[{i}]", d, 1) for i, d in enumerate(input_shape))
    rows: list[LayerShape] = []
    names = {module: name for name, module in model.named_modules()}

    def record(module: nn.Module, inputs: tuple, output: object) -> None:
        if not isinstance(output, torch.Tensor) or not inputs or not isinstance(inputs[0], torch.Tensor):
            return
        in_shape = tuple(inputs[0].shape)
        predicted = _predict(module, in_shape)
        formula, shape = predicted if predicted else ("", None)
        rows.append(LayerShape(names[module], type(module).__name__, tuple(output.shape), formula, shape))

    watch_leaves(model, torch.zeros(input_shape), record)
    return rows


def watch_leaves(model: nn.Module, x: torch.Tensor, record) -> None:
    """One forward pass of ``x`` in evaluation mode without gradients, calling ``record(module,
    inputs, output)`` after every leaf layer runs (used by :func:`trace_shapes` and
    :func:`cnnbook.features.layer_costs`). Every training flag is restored and every hook removed,
    also when the pass fails; a shape the model cannot take is a ValueError naming ``input_shape``."""
    leaves = [m for m in model.modules() if not list(m.children())]
    flags = {m: m.training for m in model.modules()}
    handles = [leaf.register_forward_hook(record) for leaf in leaves]
    try:
        model.eval()
        with torch.no_grad():
            checks.forward(model, x, "input_shape")
    finally:
        for handle in handles:
            handle.remove()
        for module, training in flags.items():
            module.training = training
