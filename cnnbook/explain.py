"""What a network looks at: Grad-CAM and adversarial perturbations (FGSM)."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .features import _modules_by_name


def _resolve(model: nn.Module, layer: nn.Module | str) -> nn.Module:
    if isinstance(layer, str):
        return _modules_by_name(model, [layer])[layer]
    if not any(module is layer for module in model.modules()):
        raise ValueError(f"layer {type(layer).__name__} is not a module of this model")
    return layer


def _targets(target: int | Sequence[int] | torch.Tensor | None, logits: torch.Tensor) -> torch.Tensor:
    batch = logits.shape[0]
    if target is None:
        return logits.argmax(dim=1)
    if isinstance(target, int):
        chosen = torch.full((batch,), target, dtype=torch.long)
    else:
        chosen = torch.as_tensor(target, dtype=torch.long).reshape(-1)
        if len(chosen) != batch:
            raise ValueError(f"target has {len(chosen)} classes but the batch has {batch} images; "
                             "give one class per image, a single int, or None for the predictions")
    if chosen.min() < 0 or chosen.max() >= logits.shape[1]:
        raise ValueError(f"target classes must lie in 0..{logits.shape[1] - 1}, got {chosen.tolist()}")
    return chosen.to(logits.device)


def gradcam_raw(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
                target: int | Sequence[int] | torch.Tensor | None = None) -> torch.Tensor:
    """The Grad-CAM map before ReLU and normalisation, at the layer's resolution ``(B, h, w)``.

    With ``A`` the layer's output ``(B, K, h, w)`` and ``y`` the target class's score, each channel
    gets the weight ``alpha_k = mean over (i, j) of dy/dA_k[i, j]`` and the map is
    ``sum_k alpha_k * A_k``.

    A forward hook swaps the layer's output for a copy that is a leaf of the graph, so the
    gradient is taken with ``torch.autograd.grad`` with respect to exactly that output: an in-place
    ReLU after the layer cannot spoil it, frozen parameters and ``torch.no_grad()`` around the call
    do not matter, no ``.grad`` is written, and nothing is back-propagated below the layer.
    """
    module = _resolve(model, layer)
    kept: dict[str, torch.Tensor] = {}

    def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        if not isinstance(output, torch.Tensor) or output.ndim != 4:
            raise ValueError(f"Grad-CAM needs a layer whose output is (B, C, H, W); got "
                             f"{type(output).__name__} {tuple(getattr(output, 'shape', ()))}")
        kept["activation"] = output.detach().requires_grad_(True)
        return kept["activation"].clone()  # what later (possibly in-place) layers may modify

    handle = module.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            logits = model(x)
            if "activation" not in kept:
                raise RuntimeError("the layer did not run during the forward pass")
            chosen = _targets(target, logits)
            score = logits.gather(1, chosen[:, None]).sum()
            (grads,) = torch.autograd.grad(score, kept["activation"])
    finally:
        handle.remove()
    activation = kept["activation"].detach()
    weights = grads.mean(dim=(2, 3), keepdim=True)
    return (weights * activation).sum(dim=1)


def normalise(maps: torch.Tensor) -> torch.Tensor:
    """Scale each map of ``(B, H, W)`` to [0, 1]; a constant map becomes all zeros, never NaN."""
    flat = maps.reshape(len(maps), -1)
    low = flat.min(dim=1).values[:, None, None]
    span = (flat.max(dim=1).values[:, None, None] - low)
    return torch.where(span > 0, (maps - low) / span.clamp_min(torch.finfo(maps.dtype).tiny), torch.zeros_like(maps))


def gradcam(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
            target: int | Sequence[int] | torch.Tensor | None = None) -> torch.Tensor:
    """Grad-CAM heatmaps ``(B, H, W)`` in [0, 1] at the input's size.

    ``layer`` is a module of ``model`` or its name (``"features.11"``, ``"layer4.1"``); ``target``
    is None (each image's predicted class), one class for all images, or one class per image.
    The map is the ReLU of :func:`gradcam_raw`, upsampled bilinearly to ``x``'s height and width
    and scaled to [0, 1] per image (all zeros where nothing is positive).
    """
    raw = gradcam_raw(model, layer, x, target).clamp_min(0)
    upsampled = F.interpolate(raw[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return normalise(upsampled)


def fgsm(model: nn.Module, x: torch.Tensor, eps: float,
         target: int | Sequence[int] | torch.Tensor | None = None) -> torch.Tensor:
    """Fast gradient sign method: ``x + eps * sign(d loss / d x)``, clipped to [0, 1].

    ``target`` is the true label(s) whose loss is increased; None uses the model's own predictions.
    The result stays within ``eps`` of ``x`` in every pixel. The model's parameters get no ``.grad``.
    """
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    if eps == 0:
        return x.clone()
    with torch.enable_grad():
        x_in = x.detach().clone().requires_grad_(True)
        logits = model(x_in)
        labels = _targets(target, logits.detach())
        loss = F.cross_entropy(logits, labels)
        (grad,) = torch.autograd.grad(loss, x_in)
    return (x + eps * grad.sign()).clamp(0.0, 1.0).detach()
