"""Chapter 9 (Fooling a CNN): the answers of the pencil-and-paper exercises, checked against
cnnbook.attacks and PyTorch, and the linear argument the chapter makes."""

import math

import pytest
import torch
from torch import nn

from cnnbook import attacks

W = torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64)
X = torch.tensor([0.5, 0.5, 0.5], dtype=torch.float64)


def cat_classifier() -> nn.Module:
    """Exercise 1's classifier: class 0 ("cat") scores w.x, class 1 ("not cat") always scores 0.
    It takes images of shape (B, 3, 1, 1), so that attacks.fgsm can attack it."""
    linear = nn.Linear(3, 2, bias=False).double()
    with torch.no_grad():
        linear.weight.copy_(torch.stack([W, torch.zeros(3, dtype=torch.float64)]))
    return nn.Sequential(nn.Flatten(), linear)


def as_image(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(1, 3, 1, 1)


def cat_score(image: torch.Tensor) -> float:
    return float(image.flatten() @ W)


def test_exercise_1a_the_classifier_says_cat():
    model = cat_classifier()
    assert cat_score(as_image(X)) == pytest.approx(0.75)
    assert int(model(as_image(X)).argmax()) == 0


def test_exercise_1bc_fgsm_by_hand():
    adv = attacks.fgsm(cat_classifier(), as_image(X), 0.1, target=[0])
    assert torch.allclose(adv.flatten(), torch.tensor([0.4, 0.6, 0.4], dtype=torch.float64))
    assert cat_score(adv) == pytest.approx(0.4)
    drop = cat_score(as_image(X)) - cat_score(adv)
    assert drop == pytest.approx(0.35)
    assert drop == pytest.approx(0.1 * float(W.abs().sum()))


def test_exercise_1d_the_smallest_eps_that_flips_the_answer():
    threshold = 0.75 / 3.5
    assert threshold == pytest.approx(3 / 14)
    assert round(threshold, 3) == 0.214
    model = cat_classifier()
    for eps, expected in [(0.21, 0), (0.214, 0), (0.215, 1), (0.3, 1)]:
        adv = attacks.fgsm(model, as_image(X), eps, target=[0])
        assert int(model(adv).argmax()) == expected, eps
        # no pixel is clipped below eps = 0.5, so the score falls by exactly 3.5 * eps
        assert cat_score(adv) == pytest.approx(0.75 - 3.5 * eps)
    at_threshold = attacks.fgsm(model, as_image(X), threshold, target=[0])
    assert cat_score(at_threshold) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("n, side", [(784, 28), (3 * 224 * 224, None)])
def test_exercise_2_dimension_makes_the_attack_strong(n, side):
    eps, m = 1 / 255, 0.01
    generator = torch.Generator().manual_seed(0)
    w = m * torch.randn(n, generator=generator, dtype=torch.float64).sign()
    fgsm_change = float(w @ (eps * w.sign()))
    assert fgsm_change == pytest.approx(eps * m * n)
    random_std = float(eps * w.norm())  # the standard deviation of w . (eps * random signs)
    assert random_std == pytest.approx(eps * m * math.sqrt(n))
    assert fgsm_change / random_std == pytest.approx(math.sqrt(n))
    # measured, not only computed: the spread of 400 random +-eps steps
    changes = torch.cat([(eps * torch.randn(100, n, generator=generator).sign()) @ w.float() for _ in range(4)])
    measured = float(changes.pow(2).mean().sqrt())
    assert measured == pytest.approx(random_std, rel=0.15)
    if side is not None:
        assert n == side * side
    answers = {784: (0.031, 0.0011, 28), 150528: (5.90, 0.0152, 388)}[n]
    assert round(fgsm_change, 3 if n == 784 else 2) == pytest.approx(answers[0])
    assert round(random_std, 4) == pytest.approx(answers[1])
    assert round(math.sqrt(n)) == answers[2]


def test_exercise_2_ratio_between_the_two_inputs():
    assert (3 * 224 * 224) / 784 == 192
    assert math.sqrt(3 * 224 * 224) == pytest.approx(388.0, abs=0.05)


def test_exercise_3_the_best_step_of_a_given_length():
    delta = 0.1 * math.sqrt(3)
    fgsm_step = 0.1 * -W.sign()
    assert float(fgsm_step.norm()) == pytest.approx(delta)  # exercise 1's step has this length
    best = delta * W / W.norm()
    assert float(best @ W) == pytest.approx(delta * math.sqrt(5.25))
    assert round(float(best @ W), 3) == 0.397
    assert round(float(W.norm()), 3) == 2.291
    assert float(fgsm_step.abs() @ W.abs()) == pytest.approx(0.35)
    # no direction of the same length does better (Cauchy-Schwarz)
    generator = torch.Generator().manual_seed(0)
    directions = torch.randn(20000, 3, generator=generator, dtype=torch.float64)
    steps = delta * directions / directions.norm(dim=1, keepdim=True)
    assert float((steps @ W).max()) <= float(best @ W) + 1e-12
    assert float((steps @ W).max()) > 0.99 * float(best @ W)


@pytest.mark.parametrize("n", [10, 1000, 20000])
def test_fgsm_moves_a_linear_score_by_eps_times_the_l1_norm(n):
    """The chapter's linear view, with the package's own FGSM: on a linear score, with no pixel
    near 0 or 1 (nothing clipped), FGSM's step changes the score by exactly eps * ||w||_1."""
    torch.manual_seed(n)
    linear = nn.Linear(n, 2, bias=False).double()
    with torch.no_grad():
        linear.weight[1] = 0.0
    model = nn.Sequential(nn.Flatten(), linear)
    eps = 1 / 255
    x = (0.1 + 0.8 * torch.rand(1, n, 1, 1, dtype=torch.float64))
    adv = attacks.fgsm(model, x, eps, target=[0])
    w = linear.weight[0].detach()
    change = float((x - adv).flatten() @ w)
    assert change == pytest.approx(eps * float(w.abs().sum()), rel=1e-9)
    assert float((adv - x).abs().max()) == pytest.approx(eps)
