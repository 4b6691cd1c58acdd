"""cnnbook.attacks: FGSM and iterated FGSM stay in their box and raise the loss."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook import attacks


def test_fgsm_bounds():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    x = torch.rand(4, 1, 3, 4)
    assert torch.equal(attacks.fgsm(model, x, 0.0), x)
    adv = attacks.fgsm(model, x, 0.1, target=[0, 1, 2, 0])
    assert (adv - x).abs().max() <= 0.1 + 1e-7
    assert adv.min() >= 0 and adv.max() <= 1
    assert all(p.grad is None for p in model.parameters())
    with pytest.raises(ValueError, match="eps must be a finite number >= 0"):
        attacks.fgsm(model, x, -0.1)


def test_fgsm_raises_the_loss_of_a_linear_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    x = torch.rand(8, 1, 3, 4) * 0.5 + 0.25  # away from the clipping bounds
    labels = model(x).argmax(1)
    before = F.cross_entropy(model(x), labels)
    after = F.cross_entropy(model(attacks.fgsm(model, x, 0.05)), labels)
    assert after > before


def test_iterated_fgsm_bounds_and_errors():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    x = torch.rand(4, 1, 3, 4)
    assert torch.equal(attacks.iterated_fgsm(model, x, 0.0), x)
    adv = attacks.iterated_fgsm(model, x, 0.1, steps=7, target=[0, 1, 2, 0])
    assert (adv - x).abs().max() <= 0.1 + 1e-6
    assert adv.min() >= 0 and adv.max() <= 1
    assert all(p.grad is None for p in model.parameters())
    with pytest.raises(ValueError, match="eps must be a finite number >= 0"):
        attacks.iterated_fgsm(model, x, -0.1)
    with pytest.raises(ValueError, match="steps must be a whole number >= 1"):
        attacks.iterated_fgsm(model, x, 0.1, steps=0)
    with pytest.raises(ValueError, match="step_size must be a finite number > 0"):
        attacks.iterated_fgsm(model, x, 0.1, step_size=0.0)


def test_iterated_fgsm_raises_the_loss_at_least_as_much_as_fgsm_on_a_linear_model():
    # For a linear model the sign of the gradient never changes, so k steps of 2.5 eps / k walk to
    # the same corner of the eps-box as FGSM's single step.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    x = torch.rand(8, 1, 3, 4) * 0.5 + 0.25
    labels = model(x).argmax(1)
    one = attacks.fgsm(model, x, 0.05, target=labels)
    many = attacks.iterated_fgsm(model, x, 0.05, target=labels)
    assert torch.allclose(one, many, atol=1e-6)
    assert F.cross_entropy(model(many), labels) > F.cross_entropy(model(x), labels)
