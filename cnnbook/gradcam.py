"""Grad-CAM (Selvaraju et al. 2017): where in the picture the evidence for a class lies, and two
checks of whether a heatmap can be trusted. Chapter 10 uses it (and ``python -m cnnbook gradcam``).

With ``A`` a layer's output ``(B, K, h, w)`` and ``y^c`` the score of class ``c`` before any
softmax, each channel gets the weight ``alpha_k = mean over (i, j) of dy^c/dA_k[i, j]`` and the map
is ``ReLU(sum_k alpha_k A_k)``, upsampled to the picture and scaled to [0, 1].

- :func:`channel_weights` is that arithmetic for one batch, with nothing else around it;
- :func:`gradcam_weights`, :func:`gradcam_raw` and :func:`gradcam` are what a reader calls: they
  find the layer by name, check the input, switch to evaluation mode and work in pieces;
- :func:`pointing_game` and :func:`rank_correlation` are the checks: does the map's peak fall on
  the object, and does the map change when what the network learned is destroyed?
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import checks, hooks
from .hooks import Target

#: The layer each book network's Grad-CAM uses: the output of its last convolutional stage. For
#: AlexNet and VGG16 that is the ReLU after the last convolution (``features[11]``,
#: ``features[29]``), for ResNet18 the last BasicBlock (``layer4[-1]``).
GRADCAM_LAYERS = {"alexnet": "features.11", "vgg16": "features.29", "resnet18": "layer4.1"}


def channel_weights(model: nn.Module, layer: nn.Module, x: torch.Tensor,
                    target: Target) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM's weights ``alpha`` (B, K) and the layer's output ``A`` (B, K, h, w) for one batch:
    one forward pass that keeps ``A``, one backward pass of ``y^c`` down to ``A``, and the mean of
    the gradient over the positions. No checks, no pieces: :func:`gradcam_weights` adds them."""
    kept = {}

    def keep(module, inputs, output):
        kept["A"] = _maps(output).detach().requires_grad_(True)  # a leaf: the gradient stops here
        return kept["A"].clone()  # what later layers read (an in-place ReLU may overwrite it)

    with hooks.forward_hook(layer, keep), hooks.frozen(model), torch.enable_grad():
        scores = checks.forward(model, x)  # (B, classes): the logits, no softmax
        if "A" not in kept:
            raise RuntimeError("the layer did not run during the forward pass")
        c = hooks.target_classes(target, scores)
        y = scores.gather(1, c[:, None]).sum()  # each y^c depends on its own picture only
        (dy_dA,) = torch.autograd.grad(y, kept["A"])  # (B, K, h, w)
    alpha = dy_dA.mean(dim=(2, 3))  # (B, K)
    return alpha, kept["A"].detach()


def _maps(output: object) -> torch.Tensor:
    """The layer's output, refused unless it is a batch of feature maps."""
    if not isinstance(output, torch.Tensor) or output.ndim != 4:
        raise ValueError(f"Grad-CAM needs a layer whose output is (B, C, H, W); got "
                         f"{type(output).__name__} {tuple(getattr(output, 'shape', ()))}")
    return output


def gradcam_weights(model: nn.Module, layer: nn.Module | str, x: torch.Tensor, target: Target = None,
                    batch_size: int | None = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM's channel weights and the layer's output: ``(alpha (B, K), A (B, K, h, w))``.

    ``alpha[b, k]`` is the mean over the ``h * w`` positions of ``dy/dA[b, k]``, with ``y`` the
    target class's score before any softmax (see :func:`channel_weights`). Where ``layer`` is
    followed only by global average pooling and one linear layer, ``alpha`` is that layer's weight
    row for the class divided by ``h * w``, and Grad-CAM is CAM (Zhou et al. 2016) up to that
    factor. ``layer``, ``target`` and ``batch_size`` as for :func:`gradcam`.

    A forward hook swaps the layer's output for a copy that is a leaf of the graph, so the
    gradient is taken with ``torch.autograd.grad`` with respect to exactly that output: an in-place
    ReLU after the layer cannot spoil it, frozen parameters and ``torch.no_grad()`` around the call
    do not matter, no ``.grad`` is written, and nothing is back-propagated below the layer.
    ``batch_size`` images go through at a time (None: all at once); the results are the same.
    """
    module = hooks.find_layer(model, layer)
    checks.batch("x", x)
    with hooks.evaluating(model):
        parts = [channel_weights(model, module, xb, tb) for xb, tb in hooks.in_pieces(x, target, batch_size)]
    return torch.cat([alpha for alpha, _ in parts]), torch.cat([A for _, A in parts])


def gradcam_raw(model: nn.Module, layer: nn.Module | str, x: torch.Tensor, target: Target = None,
                batch_size: int | None = 32) -> torch.Tensor:
    """The Grad-CAM map before ReLU and normalisation, ``sum_k alpha_k A_k``, at the layer's
    resolution ``(B, h, w)``. Arguments as for :func:`gradcam`."""
    alpha, A = gradcam_weights(model, layer, x, target, batch_size)
    return (alpha[:, :, None, None] * A).sum(dim=1)


def gradcam(model: nn.Module, layer: nn.Module | str, x: torch.Tensor, target: Target = None,
            batch_size: int | None = 32) -> torch.Tensor:
    """Grad-CAM heatmaps ``(B, H, W)`` in [0, 1] at the input's size.

    ``layer`` is a module of ``model`` or its name (``"features.11"``, ``"layer4.1"``); ``target``
    is None (each image's predicted class), one class for all images, or one class per image.
    The map is the ReLU of :func:`gradcam_raw`, upsampled bilinearly to ``x``'s height and width
    and scaled to [0, 1] per image (all zeros where nothing is positive). ``batch_size`` images
    are processed at a time (None: all at once).
    """
    raw = gradcam_raw(model, layer, x, target, batch_size).clamp_min(0)
    upsampled = F.interpolate(raw[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return normalise(upsampled)


def normalise(maps: torch.Tensor) -> torch.Tensor:
    """Scale each map of ``(B, H, W)`` to [0, 1]; a constant map becomes all zeros, never NaN."""
    flat = maps.reshape(len(maps), -1)
    low = flat.min(dim=1).values[:, None, None]
    span = (flat.max(dim=1).values[:, None, None] - low)
    return torch.where(span > 0, (maps - low) / span.clamp_min(torch.finfo(maps.dtype).tiny), torch.zeros_like(maps))


def pointing_game(maps: torch.Tensor, boxes: torch.Tensor) -> float:
    """The share of heatmaps ``(B, H, W)`` whose hottest pixel lies inside the object's box.

    ``boxes`` holds one ``(x0, y0, x1, y1)`` per map, in pixels, both corners inside the box (as
    :func:`cnnbook.datasets.shapes` records them). Where several pixels are equally hot, the
    first in reading order counts.
    """
    peak = maps.flatten(1).argmax(1)
    ys, xs = peak // maps.shape[-1], peak % maps.shape[-1]
    x0, y0, x1, y1 = boxes.unbind(1)
    inside = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
    return inside.float().mean().item()


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman's rank correlation between ``a[i]`` and ``b[i]`` for each image: ``(B,)``.

    Ties share their average rank (heatmaps are full of zeros after the ReLU). Where either map is
    constant (nothing positive), the correlation is undefined and reported as 0: the map carries no
    ranking to agree with. Adebayo et al. (2018) compare a network's maps before and after its
    layers are re-initialised with it: maps that explain the network must change.
    """
    if a.shape != b.shape or a.dim() < 2:
        raise ValueError(f"need two batches of maps of the same shape (B, ...), got {tuple(a.shape)} and {tuple(b.shape)}")
    checks.finite("a", a)
    checks.finite("b", b)

    def ranks(m: torch.Tensor) -> torch.Tensor:
        flat = m.detach().flatten(1).double()
        out = torch.empty_like(flat)
        for i, row in enumerate(flat):
            values, inverse, counts = torch.unique(row, return_inverse=True, return_counts=True)
            last = counts.cumsum(0).double()
            out[i] = (last - (counts.double() - 1) / 2)[inverse]  # average 1-based rank of each tie
        return out

    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(1, keepdim=True), rb - rb.mean(1, keepdim=True)
    denom = ra.norm(dim=1) * rb.norm(dim=1)
    safe = torch.where(denom > 0, denom, torch.ones_like(denom))
    return torch.where(denom > 0, (ra * rb).sum(1) / safe, torch.zeros_like(denom)).float()
