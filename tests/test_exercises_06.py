"""Chapter 6's pencil-and-paper exercises: every answer its solutions state, checked against PyTorch
and the cnnbook package (on the meta device, so VGG16 and VGG19 cost no memory)."""

import re
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from cnnbook import features, train

CHAPTER = Path(__file__).resolve().parents[1] / "book" / "06-vgg.md"


@pytest.fixture(scope="module")
def solutions() -> str:
    text = CHAPTER.read_text()
    block = text.split("````{admonition} Solutions", 1)[1].split("````", 1)[0]
    return " ".join(block.split())  # one line, so a phrase may wrap anywhere in the source


@pytest.fixture(scope="module")
def vgg16_costs():
    with torch.device("meta"):
        model = torchvision.models.vgg16()
    return model, {c.name: c for c in features.layer_costs(model, (3, 224, 224))}


def weights(*layers: nn.Conv2d) -> int:
    return sum(layer.weight.numel() for layer in layers)


def stated(solutions: str, number: int) -> bool:
    return f"{number:,}" in solutions


def test_the_chapter_has_at_least_four_exercises_and_a_solution_for_each():
    text = CHAPTER.read_text()
    exercises = text.split("## Exercises", 1)[1].split("````{admonition} Solutions", 1)[0]
    asked = re.findall(r"^(\d+)\. ", exercises, re.M)
    block = text.split("````{admonition} Solutions", 1)[1].split("````", 1)[0]
    answered = re.findall(r"^(\d+)\. ", block, re.M)
    assert len(asked) >= 4 and asked == answered


@pytest.mark.parametrize("channels", [1, 16, 256])
def test_exercise_1_stacked_3x3_against_one_large_filter(channels, solutions):
    def conv(k):
        return nn.Conv2d(channels, channels, k, padding=k // 2, bias=False, device="meta")

    C2 = channels * channels
    assert weights(conv(3), conv(3)) == 18 * C2
    assert weights(conv(5)) == 25 * C2
    assert weights(conv(3), conv(3), conv(3)) == 27 * C2
    assert weights(conv(7)) == 49 * C2
    if channels == 256:
        for number in (18 * C2, 25 * C2, 27 * C2, 49 * C2):
            assert stated(solutions, number), number
        assert f"{1 - 18 / 25:.0%} fewer" in solutions and f"{1 - 27 / 49:.0%} fewer" in solutions


def test_exercise_1_the_same_patch(solutions):
    for n, k in [(2, 3), (1, 5), (3, 3), (1, 7)]:
        stack = nn.Sequential(*[nn.Conv2d(1, 1, k, padding=k // 2) for _ in range(n)])
        assert features.receptive_fields(stack)[-1].size == {(2, 3): 5, (1, 5): 5, (3, 3): 7, (1, 7): 7}[(n, k)]


def test_exercise_2_multiply_adds_of_vgg16s_convolutions(vgg16_costs, solutions):
    _, costs = vgg16_costs
    first = 224 * 224 * 64 * 3 * 3 * 3
    second = 224 * 224 * 64 * 64 * 9
    assert costs["features.0"].macs == first == 86_704_128
    assert costs["features.2"].macs == second == 1_849_688_064
    # the last convolution of blocks 2, 3 and 4 costs the same; block 5's a quarter
    for name in ("features.7", "features.14", "features.21"):
        assert costs[name].macs == second
    for name in ("features.24", "features.26", "features.28"):
        assert costs[name].macs == second // 4 == 462_422_016
    for number in (first, second, second // 4):
        assert stated(solutions, number), number


def test_exercise_3_receptive_fields(vgg16_costs, solutions):
    model, _ = vgg16_costs
    three = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(3)])
    assert features.receptive_fields(three)[-1].size == 7
    fields = features.receptive_fields(model.features)
    assert model.features[4].__class__ is nn.MaxPool2d and model.features[9].__class__ is nn.MaxPool2d
    assert (fields[1].size, fields[2].size, fields[4].size, fields[4].jump) == (3, 5, 6, 2)
    assert (fields[7].size, fields[9].size, fields[9].jump) == (14, 16, 4)
    assert "$1 + 2 + 2 + 2 = 7$" in solutions and "a 16x16 patch, with jump 4" in solutions


def test_exercise_4_weights_against_activations(vgg16_costs, solutions):
    model, costs = vgg16_costs
    fc6 = costs["classifier.0"]
    assert model.classifier[0].in_features == 512 * 7 * 7 == 25088
    assert fc6.parameters == 25088 * 4096 + 4096 == 102_764_544
    assert fc6.parameters * 4 == 411_058_176
    block1 = costs["features.0"].activations + costs["features.2"].activations
    assert block1 == 2 * 64 * 224 * 224 == 6_422_528
    assert costs["features.0"].activation_bytes + costs["features.2"].activation_bytes == 25_690_112
    assert round(32 * 25_690_112 / 1e6) == 822 and round(32 * 25_690_112 / (fc6.parameters * 4)) == 2
    for number in (102_764_544, 411_058_176, 6_422_528, 25_690_112):
        assert stated(solutions, number), number
    assert "about 411 MB" in solutions and "25.7 MB per image" in solutions and "about 822 MB" in solutions


def test_exercise_5_vgg19_has_three_more_convolutions(solutions):
    with torch.device("meta"):
        vgg16, vgg19 = torchvision.models.vgg16(), torchvision.models.vgg19()
    extra = train.count_parameters(vgg19) - train.count_parameters(vgg16)
    assert extra == (256 * 256 * 9 + 256) + 2 * (512 * 512 * 9 + 512) == 5_309_696
    assert train.count_parameters(vgg19) == 143_667_240
    for number in (590_080, 2_359_808, 5_309_696, 143_667_240):
        assert stated(solutions, number), number


def test_exercise_6_layer_names_and_shapes(vgg16_costs, solutions):
    model, costs = vgg16_costs
    names = [f"features.{i}" for i in (2, 7, 14, 21, 28)]
    for name in names:
        index = int(name.split(".")[1])
        assert isinstance(model.features[index], nn.Conv2d)
        assert isinstance(model.features[index + 2], nn.MaxPool2d)  # conv, ReLU, then the block's pooling
    shapes = [(1, *costs[name].output_shape) for name in names]
    assert shapes == [(1, 64, 224, 224), (1, 128, 112, 112), (1, 256, 56, 56), (1, 512, 28, 28), (1, 512, 14, 14)]
    assert ", ".join(map(str, shapes[:-1])) + " and " + str(shapes[-1]) in solutions
    assert "(2, 7, 14, 21, 28)" in solutions
