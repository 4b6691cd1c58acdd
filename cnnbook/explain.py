"""What a network looks at and how to fool it: Grad-CAM, activation maximization, FGSM, fooling images."""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import checks
from .features import _modules_by_name


@contextmanager
def evaluating(model: nn.Module):
    """Run ``model`` in evaluation mode inside the block and give every submodule its own training
    flag back afterwards. Grad-CAM, the attacks and activation maximisation explain the network as
    it predicts: in training mode BatchNorm would normalise with the batch's statistics and update
    its running statistics (changing the model), and dropout would make every result random."""
    flags = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in flags:
            module.training = training


def _resolve(model: nn.Module, layer: nn.Module | str) -> nn.Module:
    if isinstance(layer, str):
        return _modules_by_name(model, [layer])[layer]
    if not any(module is layer for module in model.modules()):
        raise ValueError(f"layer {type(layer).__name__} is not a module of this model")
    return layer


def _one_per_image(target: Sequence[int] | torch.Tensor, batch: int) -> torch.Tensor:
    """A list or tensor of classes as a flat long tensor, checked to hold one class per image."""
    chosen = torch.as_tensor(target, dtype=torch.long).reshape(-1)
    if len(chosen) != batch:
        raise ValueError(f"target has {len(chosen)} classes but the batch has {batch} images; "
                         "give one class per image, a single int, or None for the predictions")
    return chosen


def _targets(target: int | Sequence[int] | torch.Tensor | None, logits: torch.Tensor) -> torch.Tensor:
    batch = logits.shape[0]
    if target is None:
        return logits.argmax(dim=1)
    if isinstance(target, int):
        chosen = torch.full((batch,), target, dtype=torch.long)
    else:
        chosen = _one_per_image(target, batch)
    if chosen.min() < 0 or chosen.max() >= logits.shape[1]:
        raise ValueError(f"target classes must lie in 0..{logits.shape[1] - 1}, got {chosen.tolist()}")
    return chosen.to(logits.device)


def _chunks(x: torch.Tensor, target: int | Sequence[int] | torch.Tensor | None, batch_size: int | None):
    """``(x, target)`` in pieces of at most ``batch_size`` images, each with its own targets.

    Grad-CAM maps, FGSM and iterated FGSM treat every image on its own (in eval mode), so working
    in pieces gives the same result with memory that does not grow with the batch."""
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a whole number >= 1 or None, got {batch_size!r}")
    if batch_size is None or len(x) <= batch_size:
        yield x, target
        return
    per_image = target is not None and not isinstance(target, int)
    if per_image:
        target = _one_per_image(target, len(x))
    for start in range(0, len(x), batch_size):
        yield x[start:start + batch_size], target[start:start + batch_size] if per_image else target


def gradcam_raw(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
                target: int | Sequence[int] | torch.Tensor | None = None, batch_size: int | None = 32) -> torch.Tensor:
    """The Grad-CAM map before ReLU and normalisation, at the layer's resolution ``(B, h, w)``.

    With ``A`` the layer's output ``(B, K, h, w)`` and ``y`` the target class's score (the logit,
    before any softmax), each channel gets the weight ``alpha_k = mean over (i, j) of
    dy/dA_k[i, j]`` and the map is ``sum_k alpha_k * A_k`` (see :func:`gradcam_weights`).

    A forward hook swaps the layer's output for a copy that is a leaf of the graph, so the
    gradient is taken with ``torch.autograd.grad`` with respect to exactly that output: an in-place
    ReLU after the layer cannot spoil it, frozen parameters and ``torch.no_grad()`` around the call
    do not matter, no ``.grad`` is written, and nothing is back-propagated below the layer.
    ``batch_size`` images go through at a time (None: all at once); the maps are the same.
    """
    module = _resolve(model, layer)
    checks.batch("x", x)
    with evaluating(model):
        return torch.cat([_gradcam_raw(model, module, xb, tb) for xb, tb in _chunks(x, target, batch_size)])


def gradcam_weights(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
                    target: int | Sequence[int] | torch.Tensor | None = None,
                    batch_size: int | None = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM's channel weights and the layer's output: ``(alpha (B, K), A (B, K, h, w))``.

    ``alpha[b, k]`` is the mean over the ``h * w`` positions of ``dy/dA[b, k]``, with ``y`` the
    target class's score before any softmax; :func:`gradcam_raw` is
    ``(alpha[:, :, None, None] * A).sum(1)``. Where ``layer`` is followed only by global average
    pooling and one linear layer, ``alpha`` is that layer's weight row for the class divided by
    ``h * w``, and Grad-CAM is CAM (Zhou et al. 2016) up to that factor. ``layer``, ``target`` and
    ``batch_size`` as for :func:`gradcam`.
    """
    module = _resolve(model, layer)
    checks.batch("x", x)
    with evaluating(model):
        parts = [_gradcam_parts(model, module, xb, tb) for xb, tb in _chunks(x, target, batch_size)]
    return torch.cat([alpha for alpha, _ in parts]), torch.cat([activation for _, activation in parts])


def _gradcam_raw(model: nn.Module, module: nn.Module, x: torch.Tensor,
                 target: int | Sequence[int] | torch.Tensor | None) -> torch.Tensor:
    alpha, activation = _gradcam_parts(model, module, x, target)
    return (alpha[:, :, None, None] * activation).sum(dim=1)


def _gradcam_parts(model: nn.Module, module: nn.Module, x: torch.Tensor,
                   target: int | Sequence[int] | torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """One piece of the batch: the channel weights ``(B, K)`` and the layer's output ``(B, K, h, w)``."""
    kept: dict[str, torch.Tensor] = {}

    def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        if not isinstance(output, torch.Tensor) or output.ndim != 4:
            raise ValueError(f"Grad-CAM needs a layer whose output is (B, C, H, W); got "
                             f"{type(output).__name__} {tuple(getattr(output, 'shape', ()))}")
        kept["activation"] = output.detach().requires_grad_(True)
        return kept["activation"].clone()  # what later (possibly in-place) layers may modify

    # Only the gradient with respect to the layer's output is needed: with the parameters frozen
    # for the pass, autograd records nothing before the layer (less memory, less time).
    frozen = [p for p in model.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    handle = module.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            logits = checks.forward(model, x)
            if "activation" not in kept:
                raise RuntimeError("the layer did not run during the forward pass")
            chosen = _targets(target, logits)
            score = logits.gather(1, chosen[:, None]).sum()  # each image's score depends on its own A only
            (grads,) = torch.autograd.grad(score, kept["activation"])
    finally:
        handle.remove()
        for p in frozen:
            p.requires_grad_(True)
    return grads.mean(dim=(2, 3)), kept["activation"].detach()


def normalise(maps: torch.Tensor) -> torch.Tensor:
    """Scale each map of ``(B, H, W)`` to [0, 1]; a constant map becomes all zeros, never NaN."""
    flat = maps.reshape(len(maps), -1)
    low = flat.min(dim=1).values[:, None, None]
    span = (flat.max(dim=1).values[:, None, None] - low)
    return torch.where(span > 0, (maps - low) / span.clamp_min(torch.finfo(maps.dtype).tiny), torch.zeros_like(maps))


def gradcam(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
            target: int | Sequence[int] | torch.Tensor | None = None, batch_size: int | None = 32) -> torch.Tensor:
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


def fgsm(model: nn.Module, x: torch.Tensor, eps: float,
         target: int | Sequence[int] | torch.Tensor | None = None, batch_size: int | None = 64) -> torch.Tensor:
    """Fast gradient sign method: ``x + eps * sign(d loss / d x)``, clipped to [0, 1].

    ``target`` is the true label(s) whose loss is increased; None uses the model's own predictions.
    The result stays within ``eps`` of ``x`` in every pixel. The model's parameters get no ``.grad``.
    ``batch_size`` images are attacked at a time (None: all at once); the result is the same.
    """
    eps = checks.number("eps", eps, low=0)
    checks.batch("x", x)
    if eps == 0:
        return x.clone()
    with evaluating(model):
        return torch.cat([_fgsm(model, xb, eps, tb) for xb, tb in _chunks(x, target, batch_size)])


def _fgsm(model: nn.Module, x: torch.Tensor, eps: float, target) -> torch.Tensor:
    with torch.enable_grad():
        x_in = x.detach().clone().requires_grad_(True)
        logits = checks.forward(model, x_in)
        labels = _targets(target, logits.detach())
        loss = F.cross_entropy(logits, labels)
        (grad,) = torch.autograd.grad(loss, x_in)
    return (x + eps * grad.sign()).clamp(0.0, 1.0).detach()


def pgd(model: nn.Module, x: torch.Tensor, eps: float, steps: int = 10, step_size: float | None = None,
        target: int | Sequence[int] | torch.Tensor | None = None, batch_size: int | None = 64) -> torch.Tensor:
    """Iterated FGSM (projected gradient descent, Madry et al. 2018) without a random start.

    ``steps`` FGSM steps of ``step_size`` (default ``2.5 * eps / steps``), each followed by a
    projection back into the box ``|x_adv - x| <= eps`` and into [0, 1]. Small steps follow the
    loss where one big FGSM step overshoots it, so the attack keeps getting stronger as ``eps``
    grows. ``target`` as for :func:`fgsm`; None fixes each image's label to the prediction on ``x``.
    ``batch_size`` images are attacked at a time (None: all at once).
    """
    eps = checks.number("eps", eps, low=0)
    steps = checks.whole("steps", steps, 1)
    if step_size is None:
        step_size = 2.5 * eps / steps
    else:
        step_size = checks.number("step_size", step_size, low=0, low_open=True)
    x = checks.batch("x", x).detach()
    if eps == 0:
        return x.clone()
    with evaluating(model):
        return torch.cat([_pgd(model, xb, eps, steps, step_size, tb) for xb, tb in _chunks(x, target, batch_size)])


def _pgd(model: nn.Module, x: torch.Tensor, eps: float, steps: int, step_size: float, target) -> torch.Tensor:
    with torch.no_grad():
        labels = _targets(target, checks.forward(model, x))
    adv = x.clone()
    for _ in range(steps):
        with torch.enable_grad():
            adv_in = adv.requires_grad_(True)
            loss = F.cross_entropy(model(adv_in), labels)
            (grad,) = torch.autograd.grad(loss, adv_in)
        adv = adv.detach() + step_size * grad.sign()
        adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0.0, 1.0)
    return adv


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman's rank correlation between ``a[i]`` and ``b[i]`` for each image: ``(B,)``.

    Ties share their average rank (heatmaps are full of zeros after the ReLU). Where either map is
    constant (nothing positive), the correlation is undefined and reported as 0: the map carries no
    ranking to agree with.
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
    """
    if kind not in ("class", "filter", "neuron"):
        raise ValueError(f"kind must be 'class', 'filter' or 'neuron', got {kind!r}")
    if bound not in ("sigmoid", "clamp"):
        raise ValueError(f"bound must be 'sigmoid' or 'clamp', got {bound!r}")
    if kind != "class" and layer is None:
        raise ValueError(f"kind={kind!r} needs the layer whose unit to maximise")
    input_shape = tuple(checks.whole(f"input_shape[{i}]", n, 1) for i, n in enumerate(input_shape))
    unit, steps = checks.whole("unit", unit, 0), checks.whole("steps", steps, 1)
    l1, lr = checks.number("l1", l1, low=0), checks.number("lr", lr, low=0, low_open=True)
    jitter, scale = checks.whole("jitter", jitter, 0), checks.number("scale", scale, low=1)
    rotate = checks.number("rotate", rotate, low=-180, high=180)
    module = _resolve(model, layer) if layer is not None else None
    generator = torch.Generator().manual_seed(seed)
    start = torch.rand((1, *input_shape), generator=generator) * 0.2 + 0.4  # grey with a little noise
    param = (torch.logit(start) if bound == "sigmoid" else start).requires_grad_(True)
    optimiser = torch.optim.Adam([param], lr=lr)
    kept: dict[str, torch.Tensor] = {}
    handle = module.register_forward_hook(lambda m, i, out: kept.update(out=out.clone())) if module else None
    history: list[float] = []
    try:
        with torch.enable_grad(), evaluating(model):
            for _ in range(steps):
                image = torch.sigmoid(param) if bound == "sigmoid" else param
                logits = checks.forward(model, _augment(image, generator, jitter, scale, rotate), "input_shape")
                units = logits if kind == "class" else kept["out"]
                if unit >= units.shape[1]:
                    what = {"class": "classes", "filter": "channels", "neuron": "outputs"}[kind]
                    raise ValueError(f"unit must be below {units.shape[1]}, the number of {what} "
                                     f"{'of the model' if kind == 'class' else f'of layer {layer!r}'}; got {unit}")
                activation = units[0, unit].sum() if kind == "filter" else units[0, unit]
                objective = activation - l1 * image.abs().sum()
                optimiser.zero_grad()
                (-objective).backward(inputs=[param])
                optimiser.step()
                if bound == "clamp":
                    with torch.no_grad():
                        param.clamp_(0.0, 1.0)
                history.append(float(objective.detach()))
    finally:
        if handle is not None:
            handle.remove()
    image = torch.sigmoid(param) if bound == "sigmoid" else param
    return Maximized(image.detach()[0], history)


def fooling_image(model: nn.Module, input_shape: tuple[int, int, int], target: int, confidence: float = 0.99,
                  steps: int = 300, lr: float = 0.1, seed: int = 0) -> tuple[torch.Tensor, float]:
    """Search, from random noise, for an image the model assigns to ``target`` with at least
    ``confidence``: targeted, bounded (sigmoid) gradient ascent on the class's log-probability.

    Returns the image ``(C, H, W)`` in [0, 1] and the probability the model gives the target.
    """
    input_shape = tuple(checks.whole(f"input_shape[{i}]", n, 1) for i, n in enumerate(input_shape))
    target, steps = checks.whole("target", target, 0), checks.whole("steps", steps, 1)
    confidence = checks.number("confidence", confidence, low=0, high=1, low_open=True)
    lr = checks.number("lr", lr, low=0, low_open=True)
    generator = torch.Generator().manual_seed(seed)
    param = torch.randn((1, *input_shape), generator=generator).requires_grad_(True)
    optimiser = torch.optim.Adam([param], lr=lr)
    probability = 0.0
    with torch.enable_grad(), evaluating(model):
        for _ in range(steps):
            log_probs = checks.forward(model, torch.sigmoid(param), "input_shape").log_softmax(dim=1)
            if target >= log_probs.shape[1]:
                raise ValueError(f"target must be below {log_probs.shape[1]}, the number of classes; got {target}")
            probability = float(log_probs[0, target].detach().exp())
            if probability >= confidence:
                break
            optimiser.zero_grad()
            (-log_probs[0, target]).backward(inputs=[param])
            optimiser.step()
    with torch.no_grad(), evaluating(model):
        image = torch.sigmoid(param)
        probability = float(model(image).softmax(dim=1)[0, target])
    return image[0], probability


#: The layer each book network's Grad-CAM uses: the output of its last convolutional stage. For
#: AlexNet and VGG16 that is the ReLU after the last convolution (``features[11]``,
#: ``features[29]``), for ResNet18 the last BasicBlock (``layer4[-1]``).
GRADCAM_LAYERS = {"alexnet": "features.11", "vgg16": "features.29", "resnet18": "layer4.1"}
