"""Checking what a reader passes in, in one place. Used by every module that takes numbers,
images or models from a reader (all chapters through them).

Each check returns the value it accepted (as a plain ``int`` or ``float``) or raises a
``ValueError`` that names the argument, shows what was given and says what is expected, so that a
careless call fails at the reader's line, not deep inside PyTorch or NumPy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn


def whole(name: str, value: Any, minimum: int | None = 1, maximum: int | None = None) -> int:
    """``value`` as an ``int`` in ``[minimum, maximum]`` (either end may be None)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a whole number, got {value!r} ({type(value).__name__})")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        if maximum is None:
            expected = f">= {minimum}"
        elif minimum is None:
            expected = f"<= {maximum}"
        else:
            expected = f"from {minimum} to {maximum}"
        raise ValueError(f"{name} must be a whole number {expected}, got {value}")
    return value


def number(name: str, value: Any, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite ``float`` between ``low`` and ``high`` (open ends where asked)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if not math.isfinite(value) or too_low or too_high:
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            bounds.append(f"{'<' if high_open else '<='} {high:g}")
        expected = " and ".join(bounds) if bounds else "finite"
        raise ValueError(f"{name} must be a finite number {expected}, got {value!r}")
    return value


def finite(name: str, values: torch.Tensor | np.ndarray) -> None:
    """Refuse an array or tensor holding NaN or infinity (it would spread through every result)."""
    array = values if isinstance(values, torch.Tensor) else torch.as_tensor(np.asarray(values, dtype=float))
    if array.is_floating_point() and not bool(torch.isfinite(array).all()):
        bad = int((~torch.isfinite(array)).sum())
        raise ValueError(f"{name} holds {bad} NaN or infinite value(s); every value must be a finite number")


def batch(name: str, x: Any, channels: int | None = None) -> torch.Tensor:
    """A batch of images ``(B, C, H, W)``: a float tensor with at least one image, all finite."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor (B, C, H, W), got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{name} must be a batch of images (B, C, H, W), got shape {tuple(x.shape)}"
                         + ("; add the batch axis with x[None]" if x.ndim == 3 else ""))
    if x.numel() == 0:
        raise ValueError(f"{name} holds no pixels, shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must hold floats (images as numbers in [0, 1] or normalised), got {x.dtype}")
    finite(name, x)
    return x


def forward(model: nn.Module, x: torch.Tensor, name: str = "x") -> torch.Tensor:
    """``model(x)``, where a shape the model cannot take is an error that names ``x`` and its shape."""
    try:
        return model(x)
    except RuntimeError as err:
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if any(word in message for word in ("size", "shape", "channels", "dimension", "mat1", "Expected")):
            raise ValueError(f"the model cannot take {name} of shape {tuple(x.shape)}: {message}") from err
        raise


def finite_weights(model: nn.Module, epoch: int, lr: float) -> None:
    """After an epoch of training: every weight must still be a finite number."""
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        raise FloatingPointError(f"the weights became NaN or infinite in epoch {epoch + 1} (is lr={lr:g} too large?); "
                                 "the model keeps the weights it had before training")
