"""Fooling a network: adversarial examples (FGSM and iterated FGSM) and fooling images. Chapter 9
uses it.

An adversarial example changes a picture the network gets right by at most ``eps`` in every pixel,
in the direction that raises the network's loss fastest (Szegedy et al. 2014; Goodfellow et al.
2015). A fooling image starts from noise and is pushed until the network is sure it sees a class
(Nguyen et al. 2015).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import checks, hooks
from .hooks import Target


def fgsm(model: nn.Module, x: torch.Tensor, eps: float, target: Target = None,
         batch_size: int | None = 64) -> torch.Tensor:
    """Fast gradient sign method: ``x + eps * sign(d loss / d x)``, clipped to [0, 1].

    ``target`` is the true label(s) whose loss is increased; None uses the model's own predictions.
    The result stays within ``eps`` of ``x`` in every pixel. The model's parameters get no ``.grad``.
    ``batch_size`` images are attacked at a time (None: all at once); the result is the same.
    """
    eps = checks.number("eps", eps, low=0)
    checks.batch("x", x)
    if eps == 0:
        return x.clone()
    with hooks.evaluating(model):
        return torch.cat([_fgsm_step(model, xb, eps, tb) for xb, tb in hooks.in_pieces(x, target, batch_size)])


def _fgsm_step(model: nn.Module, x: torch.Tensor, eps: float, target: Target) -> torch.Tensor:
    """One FGSM step on one batch, unchecked (:func:`fgsm` checks and works in pieces)."""
    with torch.enable_grad():
        x_in = x.detach().clone().requires_grad_(True)
        logits = checks.forward(model, x_in)
        labels = hooks.target_classes(target, logits.detach())
        loss = F.cross_entropy(logits, labels)
        (grad,) = torch.autograd.grad(loss, x_in)
    return (x + eps * grad.sign()).clamp(0.0, 1.0).detach()


def iterated_fgsm(model: nn.Module, x: torch.Tensor, eps: float, steps: int = 10, step_size: float | None = None,
                  target: Target = None, batch_size: int | None = 64) -> torch.Tensor:
    """Iterated FGSM: ``steps`` small FGSM steps, each projected back into the box around ``x``.

    Kurakin et al. (2017) call it the basic iterative method; Madry et al. (2018) call the same loop,
    started from a random point in the box, projected gradient descent (PGD). This one starts from
    ``x`` itself. Each step of ``step_size`` (default ``2.5 * eps / steps``) is followed by a
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
    with hooks.evaluating(model):
        pieces = hooks.in_pieces(x, target, batch_size)
        return torch.cat([_iterated_fgsm(model, xb, eps, steps, step_size, tb) for xb, tb in pieces])


def _iterated_fgsm(model: nn.Module, x: torch.Tensor, eps: float, steps: int, step_size: float,
             target: Target) -> torch.Tensor:
    """The loop of :func:`iterated_fgsm` on one batch."""
    with torch.no_grad():
        labels = hooks.target_classes(target, checks.forward(model, x))
    adv = x.clone()
    for _ in range(steps):
        with torch.enable_grad():
            adv_in = adv.requires_grad_(True)
            loss = F.cross_entropy(model(adv_in), labels)
            (grad,) = torch.autograd.grad(loss, adv_in)
        adv = adv.detach() + step_size * grad.sign()
        adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0.0, 1.0)  # back into the box
    return adv


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
    with torch.enable_grad(), hooks.evaluating(model):
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
    with torch.no_grad(), hooks.evaluating(model):
        image = torch.sigmoid(param)
        probability = float(model(image).softmax(dim=1)[0, target])
    return image[0], probability
