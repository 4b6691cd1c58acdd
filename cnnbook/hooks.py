"""Running a network to look inside it: the plumbing shared by the modules that explain a network.

Finding a layer by its name, evaluation mode for the length of a block, frozen parameters, a
forward hook that is always removed, the class each image is explained for, and working through a
large batch in pieces. :mod:`cnnbook.features` (chapters 5, 6, 7, 8 and 11),
:mod:`cnnbook.gradcam` (chapter 10), :mod:`cnnbook.attacks` (chapter 9) and
:mod:`cnnbook.maximize` (chapter 8) use it; none of it is an idea of its own.
"""

from __future__ import annotations

import difflib
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import torch
from torch import nn

from . import checks

#: What may name the class (or classes) to explain: None (each image's predicted class), one class
#: for every image, or one class per image.
Target = int | Sequence[int] | torch.Tensor | None


def find_layer(model: nn.Module, layer: nn.Module | str) -> nn.Module:
    """The module ``layer`` of ``model``, given as itself or by its name in ``model.named_modules()``
    (``"features.11"``, ``"layer4.1"``). An unknown name is a ``KeyError`` that suggests close
    names; a module that is not part of ``model`` is a ``ValueError``."""
    if isinstance(layer, str):
        modules = dict(model.named_modules())
        if layer not in modules:
            close = difflib.get_close_matches(layer, [n for n in modules if n], n=5, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise KeyError(f"the model has no layer named {layer!r}{hint} (names come from model.named_modules())")
        return modules[layer]
    if not any(module is layer for module in model.modules()):
        raise ValueError(f"layer {type(layer).__name__} is not a module of this model")
    return layer


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
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


@contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Inside the block no parameter of ``model`` requires a gradient; afterwards those that did,
    do again. A gradient with respect to a layer's output (Grad-CAM) then records nothing before
    that layer: less memory, less time, and no ``.grad`` written into the model."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    for p in trainable:
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for p in trainable:
            p.requires_grad_(True)


@contextmanager
def forward_hook(module: nn.Module, hook: Callable) -> Iterator[None]:
    """``module.register_forward_hook(hook)`` for the length of the block, removed also on errors
    (a hook left behind would run on every later call of the model)."""
    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def one_per_image(target: Sequence[int] | torch.Tensor, batch: int) -> torch.Tensor:
    """A list or tensor of classes as a flat long tensor, checked to hold one class per image."""
    chosen = torch.as_tensor(target, dtype=torch.long).reshape(-1)
    if len(chosen) != batch:
        raise ValueError(f"target has {len(chosen)} classes but the batch has {batch} images; "
                         "give one class per image, a single int, or None for the predictions")
    return chosen


def target_classes(target: Target, logits: torch.Tensor) -> torch.Tensor:
    """The class of each image ``(B,)`` that ``target`` names, on ``logits``' device: each
    image's prediction for None, checked to lie among the model's classes otherwise."""
    batch = logits.shape[0]
    if target is None:
        return logits.argmax(dim=1)
    if isinstance(target, int):
        chosen = torch.full((batch,), target, dtype=torch.long)
    else:
        chosen = one_per_image(target, batch)
    if chosen.min() < 0 or chosen.max() >= logits.shape[1]:
        raise ValueError(f"target classes must lie in 0..{logits.shape[1] - 1}, got {chosen.tolist()}")
    return chosen.to(logits.device)


def in_pieces(x: torch.Tensor, target: Target, batch_size: int | None) -> Iterator[tuple[torch.Tensor, Target]]:
    """``(x, target)`` in pieces of at most ``batch_size`` images, each with its own targets.

    Grad-CAM maps, FGSM and iterated FGSM treat every image on its own (in eval mode), so working
    in pieces gives the same result with memory that does not grow with the batch."""
    if batch_size is not None:
        batch_size = checks.whole("batch_size", batch_size, 1)
    if batch_size is None or len(x) <= batch_size:
        yield x, target
        return
    per_image = target is not None and not isinstance(target, int)
    if per_image:
        target = one_per_image(target, len(x))
    for start in range(0, len(x), batch_size):
        yield x[start:start + batch_size], target[start:start + batch_size] if per_image else target
