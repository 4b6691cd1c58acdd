"""The answers that chapters 3 (output size) and 5 (AlexNet) give to pencil-and-paper exercises and
state in their boxes for readers of the lecture's slides, checked against cnnbook and PyTorch.

No test downloads weights: only architectures (untrained torchvision networks) and arithmetic are
checked.
"""

import pytest
import torch
import torchvision
from PIL import Image
from torch import nn
from torchvision import transforms

from cnnbook import conv, models


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def alexnet() -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.alexnet(weights=None).eval()


# --- chapter 3: exercises -------------------------------------------------------------------------


def test_ch3_ex1_second_pooling_gives_13():
    assert conv.output_size_unrounded(27, 3, 2) == 13
    assert conv.output_size(27, 3, 2) == 13


@pytest.mark.parametrize("kernel, padding", [(5, 2), (7, 3), (3, 1)])
def test_ch3_ex2_same_padding_is_half_the_kernel(kernel, padding):
    assert padding == (kernel - 1) // 2
    assert conv.output_size(40, kernel, 1, padding) == 40
    assert nn.Conv2d(1, 1, kernel, padding=padding)(torch.zeros(1, 1, 40, 40)).shape[-1] == 40


def test_ch3_ex3_resnet18_stem_gives_112_then_56():
    assert conv.output_size(224, 7, 2, 3) == 112
    assert conv.output_size(conv.output_size(224, 7, 2, 3), 3, 2, 1) == 56
    rows = {r.name: r for r in conv.trace_shapes(torchvision.models.resnet18(), (1, 3, 224, 224))}
    assert rows["conv1"].output_shape[-1] == 112 and rows["maxpool"].output_shape[-1] == 56


def test_ch3_ex4_the_2012_papers_224_gives_54_and_227_to_230_give_55():
    assert conv.output_size_unrounded(224, 11, 4) == 54.25
    assert conv.output_size(224, 11, 4) == 54
    assert conv.output_size_unrounded(227, 11, 4) == 55
    assert [h for h in range(200, 260) if conv.output_size(h, 11, 4) == 55] == [227, 228, 229, 230]
    assert conv.output_size(224, 11, 4, 2) == 55  # torchvision pads instead


def test_ch3_ex5_smallest_input_alexnet_accepts_is_63(alexnet):
    sizes = [r.output_shape[-1] for r in conv.trace_shapes(alexnet.features, (1, 3, 63, 63))
             if r.layer_type in ("Conv2d", "MaxPool2d")]
    assert sizes == [15, 7, 7, 3, 3, 3, 3, 1]
    with pytest.raises(ValueError, match="cannot take input_shape of shape"):
        conv.trace_shapes(alexnet.features, (1, 3, 62, 62))
    # the chain the solution writes out, backwards
    assert conv.output_size(62, 11, 4, 2) == 14 and conv.output_size(14, 3, 2) == 6
    assert conv.output_size(6, 3, 2) == 2
    assert conv.output_size(15, 3, 2) == 7 and conv.output_size(7, 3, 2) == 3


def test_ch3_ex6_a_256_input_gives_7x7_then_adaptive_pooling_gives_6x6(alexnet):
    rows = {r.name: r for r in conv.trace_shapes(alexnet, (1, 3, 256, 256))}
    assert rows["features.0"].output_shape[-1] == 63
    assert [rows[f"features.{i}"].output_shape[-1] for i in (2, 5, 12)] == [31, 15, 7]
    assert rows["features.12"].output_shape == (1, 256, 7, 7) and 256 * 7 * 7 == 12544
    assert rows["avgpool"].output_shape == (1, 256, 6, 6)
    assert rows["classifier.1"].output_shape == (1, 4096)


def test_ch3_the_160_input_of_the_text_gives_4096_not_9216(alexnet):
    assert conv.trace_shapes(alexnet.features, (1, 3, 160, 160))[-1].output_shape == (1, 256, 4, 4)


# --- chapter 3: the box on the slides' arithmetic ------------------------------------------------------


def test_ch3_slides_first_pooling_formula_with_padding_2_gives_29_the_layer_27(alexnet):
    pool = alexnet.features[2]
    assert isinstance(pool, nn.MaxPool2d) and pool.padding == 0
    assert conv.output_size_unrounded(55, 3, 2, 2) == 29  # the slide's formula, done as written
    assert conv.output_size(55, pool.kernel_size, pool.stride, pool.padding) == 27


def test_ch3_slides_printouts_with_padding_0_would_give_54(alexnet):
    conv1 = alexnet.features[0]
    assert conv1.padding == (2, 2) and conv1.bias is not None
    assert conv.output_size(224, 11, 4, 0) == 54
    assert nn.Conv2d(3, 64, 11, stride=4)(torch.zeros(1, 3, 224, 224)).shape[-1] == 54


def test_ch3_slides_other_formulas_are_right():
    assert conv.output_size_unrounded(27, 5, 1, 2) == 27
    assert conv.output_size_unrounded(27, 3, 2, 0) == 13
    assert conv.output_size_unrounded(13, 3, 1, 1) == 13


# --- chapter 5: exercises -------------------------------------------------------------------------


def test_ch5_ex4_convolution_parameter_counts(alexnet):
    assert n_params(alexnet.features[3]) == 192 * 64 * 5 * 5 + 192 == 307_392
    assert n_params(alexnet.features[0]) == 64 * 3 * 11 * 11 + 64 == 23_296
    assert n_params(alexnet.features[6]) == 384 * 192 * 3 * 3 + 384 == 663_936


def test_ch5_ex5_first_fully_connected_layer_holds_62_percent(alexnet):
    fc1 = alexnet.classifier[1]
    assert fc1.in_features == 256 * 6 * 6 == 9216
    assert n_params(fc1) == 9216 * 4096 + 4096 == 37_752_832
    assert n_params(alexnet) == 61_100_840
    assert round(100 * n_params(fc1) / n_params(alexnet), 1) == 61.8


def test_ch5_ex6_the_2012_papers_grouped_conv2():
    assert n_params(nn.Conv2d(96, 256, 5, groups=2)) == 256 * 48 * 5 * 5 + 256 == 307_456
    assert n_params(nn.Conv2d(96, 256, 5)) == 256 * 96 * 5 * 5 + 256 == 614_656


def test_ch5_ex7_features_7_to_9_is_relu_and_conv4_not_a_pooling(alexnet):
    assert [type(m) for m in alexnet.features[7:9]] == [nn.ReLU, nn.Conv2d]
    with torch.no_grad():
        x = torch.randn(1, 3, 224, 224)
        conv3_out = alexnet.features[:7](x).clone()
        conv4_out = alexnet.features[:9](x)
        out = alexnet.features[7:9](conv3_out.clone())
    assert torch.equal(out, conv4_out) and out.shape == (1, 256, 13, 13)


# --- chapter 5: the box on the slides, and the normalisation section ---------------------------------


def test_ch5_slides_labels_against_the_layers(alexnet):
    layers = alexnet.features
    assert layers[6].out_channels == 384 and tuple(layers[6].weight.shape) == (384, 192, 3, 3)
    assert [type(m) for m in layers[1:3]] == [nn.ReLU, nn.MaxPool2d]
    assert [type(m) for m in layers[4:6]] == [nn.ReLU, nn.MaxPool2d]
    assert [i for i, m in enumerate(layers) if isinstance(m, nn.MaxPool2d)] == [2, 5, 12]
    with torch.no_grad():  # the slide's conv2(conv1_out): the map before pooling
        assert layers[3](torch.zeros(1, 64, 55, 55)).shape == (1, 192, 55, 55)
        assert layers[3](torch.zeros(1, 64, 27, 27)).shape == (1, 192, 27, 27)


def test_ch5_slides_inplace_relu_overwrites_conv1_out(alexnet):
    with torch.no_grad():
        conv1_out = alexnet.features[0](torch.randn(1, 3, 224, 224))
        assert (conv1_out < 0).any()
        alexnet.features[1:3](conv1_out)
    assert not (conv1_out < 0).any()


def test_ch5_half_normalisation_is_an_affine_change_of_the_imagenet_one():
    weights = models.default_weights("alexnet")
    imagenet = weights.transforms()
    mean = torch.tensor(imagenet.mean)[:, None, None]
    std = torch.tensor(imagenet.std)[:, None, None]
    torch.manual_seed(0)
    photo = Image.fromarray((torch.rand(300, 451, 3) * 255).to(torch.uint8).numpy())

    def recipe(resize, m, s):
        return transforms.Compose([transforms.Resize(resize), transforms.CenterCrop(224),
                                   transforms.ToTensor(), transforms.Normalize(m, s)])

    u = recipe(256, imagenet.mean, imagenet.std)(photo)
    v = recipe(256, [0.5] * 3, [0.5] * 3)(photo)
    assert torch.allclose(u, imagenet(photo), atol=1e-6)  # the rebuilt recipe is the weights' one
    assert torch.allclose(v, 2 * std * u + 2 * (mean - 0.5), atol=1e-5)
    assert torch.allclose(recipe(224, [0.5] * 3, [0.5] * 3)(photo), models.lecture_transform()(photo))


def test_ch5_crops_keep_51_and_67_percent_of_a_451_by_300_photo():
    photo = Image.new("RGB", (451, 300))
    kept = {r: 224 * 224 / (transforms.Resize(r)(photo).size[0] * transforms.Resize(r)(photo).size[1])
            for r in (256, 224)}
    assert round(kept[256], 2) == 0.51 and round(kept[224], 2) == 0.67


def test_ch5_the_2012_network_rebuilt_has_about_61_million_parameters():
    lrn = nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)
    features = nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), lrn, nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), lrn, nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2))
    sizes = [r.output_shape[-1] for r in conv.trace_shapes(features, (1, 3, 227, 227))
             if r.layer_type in ("Conv2d", "MaxPool2d")]
    assert sizes == [55, 27, 27, 13, 13, 13, 13, 6]
    fully_connected = 9216 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000
    assert n_params(features) + fully_connected == 60_965_224


def test_ch5_pytorch_lrn_divides_alpha_by_size():
    """Why the chapter passes alpha = 5 * 1e-4 for the paper's alpha = 1e-4 with n = 5."""
    a = torch.zeros(1, 5, 1, 1)
    a[0, 2] = 3.0
    paper = 3.0 / (2.0 + 1e-4 * 3.0**2) ** 0.75
    assert torch.allclose(nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)(a)[0, 2],
                          torch.tensor(paper))
