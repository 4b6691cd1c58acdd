"""Chapter 7 (ResNet): the answers its exercises and prose give, checked against PyTorch, torchvision
and cnnbook.features.layer_costs. Every network is built on the meta device (no memory, no weights)."""

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from cnnbook import features, train


def conv_weights(module: nn.Module) -> int:
    return sum(train.count_parameters(m) for m in module.modules() if isinstance(m, nn.Conv2d))


class PlainBlock(BasicBlock):
    """The chapter's plain block: BasicBlock without the shortcut and without the downsample."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.downsample = None

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)))


def total_macs(model: nn.Module) -> int:
    return sum(r.macs for r in features.layer_costs(model, (3, 224, 224)))


# --- exercise 1: bottleneck 256-64-64-256 against two 3x3 convolutions ---


def test_exercise_1_bottleneck_weights():
    with torch.device("meta"):
        bottleneck = Bottleneck(256, 64)  # 256 in, 64 inside, 4 * 64 = 256 out
        wide, narrow = BasicBlock(256, 256), BasicBlock(64, 64)
    assert conv_weights(bottleneck) == 256 * 64 + 9 * 64 * 64 + 64 * 256 == 69_632
    assert conv_weights(wide) == 2 * 9 * 256 * 256 == 1_179_648
    assert conv_weights(narrow) == 2 * 9 * 64 * 64 == 73_728
    assert round(conv_weights(wide) / conv_weights(bottleneck)) == 17


def test_resnet50s_second_block_is_the_256_64_64_256_bottleneck_and_shrinks_visibly():
    with torch.device("meta"):
        block = torchvision.models.resnet50().layer1[1]
    convs = [r for r in features.layer_costs(block, (256, 56, 56)) if r.layer == "Conv2d"]
    assert [r.output_shape for r in convs] == [(64, 56, 56), (64, 56, 56), (256, 56, 56)]
    assert [r.parameters for r in convs] == [16_384, 36_864, 16_384]


# --- exercise 2: batch norm by hand ---


def test_exercise_2_batch_norm_by_hand():
    bn = nn.BatchNorm2d(1)
    with torch.no_grad():
        bn.weight.fill_(2.0)
        bn.bias.fill_(0.5)
        out = bn(torch.tensor([2.0, 4.0, 2.0, 4.0]).view(4, 1, 1, 1))
    assert out.flatten().tolist() == pytest.approx([-1.5, 2.5, -1.5, 2.5], abs=1e-4)  # eps moves them by 1e-5
    assert bn.running_mean.item() == pytest.approx(0.3)
    assert bn.running_var.item() == pytest.approx(0.9 + 0.1 * 4 / 3)  # unbiased variance 4/3
    assert bn.running_var.item() == pytest.approx(1.0333, abs=1e-4)


def test_in_eval_mode_batch_norm_uses_the_running_statistics_and_keeps_them():
    torch.manual_seed(0)
    x = 3 + 2 * torch.randn(8, 2, 4, 4)
    bn = nn.BatchNorm2d(2)
    with torch.no_grad():
        bn(x)
        mean, var = bn.running_mean.clone(), bn.running_var.clone()
        bn.eval()
        y = bn(x)
    assert torch.equal(bn.running_mean, mean) and torch.equal(bn.running_var, var)
    expected = (x - mean.view(1, 2, 1, 1)) / torch.sqrt(var.view(1, 2, 1, 1) + bn.eps)
    assert torch.allclose(y, expected, atol=1e-6)


# --- exercise 3: ResNet34's shortcut projections ---


def test_exercise_3_resnet34_projections():
    with torch.device("meta"):
        resnet34 = torchvision.models.resnet34()
    rows = [r for r in features.layer_costs(resnet34, (3, 224, 224))
            if r.layer == "Conv2d" and "downsample" in r.name]
    assert [r.output_shape for r in rows] == [(128, 28, 28), (256, 14, 14), (512, 7, 7)]
    assert [r.macs for r in rows] == [6_422_528] * 3
    assert sum(r.macs for r in rows) == 19_267_584
    assert sum(r.parameters for r in rows) == 64 * 128 + 128 * 256 + 256 * 512 == 172_032


def test_the_plain_network_is_resnet34_minus_its_projections():
    with torch.device("meta"):
        resnet34 = torchvision.models.resnet34()
        same = ResNet(BasicBlock, [3, 4, 6, 3])
        plain = ResNet(PlainBlock, [3, 4, 6, 3])
    assert train.count_parameters(same) == train.count_parameters(resnet34) == 21_797_672
    projections = sum(train.count_parameters(b.downsample) for b in resnet34.modules()
                      if isinstance(b, BasicBlock) and b.downsample is not None)
    assert train.count_parameters(plain) == train.count_parameters(resnet34) - projections
    assert total_macs(resnet34) - total_macs(plain) == 19_267_584
    weighted = [r for r in features.layer_costs(plain, (3, 224, 224)) if r.layer in ("Conv2d", "Linear")]
    assert len(weighted) == 34


def test_the_papers_multiply_adds_for_vgg19_and_the_34_layer_networks_agree_after_rounding():
    with torch.device("meta"):
        vgg19 = torchvision.models.vgg19()
        plain = ResNet(PlainBlock, [3, 4, 6, 3])
    assert round(total_macs(vgg19) / 1e9, 1) == 19.6
    assert round(total_macs(plain) / 1e9, 1) == 3.6
    assert total_macs(plain) / total_macs(vgg19) == pytest.approx(3.6 / 19.6, abs=0.005)  # the paper's 18%


def test_torchvision_puts_the_bottleneck_stride_on_the_3x3_convolution():
    with torch.device("meta"):
        resnet50 = torchvision.models.resnet50()
    for stage in (resnet50.layer2, resnet50.layer3, resnet50.layer4):
        block = stage[0]
        assert block.conv1.stride == (1, 1) and block.conv2.stride == (2, 2)
        assert block.downsample[0].stride == (2, 2)


def test_with_the_stride_on_the_first_1x1_resnet50_costs_what_the_paper_says():
    with torch.device("meta"):
        torchvisions, papers = torchvision.models.resnet50(), torchvision.models.resnet50()
    for stage in (papers.layer2, papers.layer3, papers.layer4):
        stage[0].conv1.stride, stage[0].conv2.stride = (2, 2), (1, 1)
    assert round(total_macs(torchvisions) / 1e9, 2) == 4.09
    assert round(total_macs(papers) / 1e9, 2) == 3.86  # the paper's Table 1: 3.8 billion
    assert train.count_parameters(papers) == train.count_parameters(torchvisions)


# --- exercise 4: a convolution's bias is cancelled by the batch norm ---


def test_exercise_4_bias_before_batch_norm_cancels():
    torch.manual_seed(0)
    with_bias = nn.Conv2d(3, 4, 3)
    without = nn.Conv2d(3, 4, 3, bias=False)
    with torch.no_grad():
        without.weight.copy_(with_bias.weight)
        with_bias.bias.fill_(5.0)  # a large bias, to make the point
    x = torch.randn(6, 3, 8, 8)
    bn = nn.BatchNorm2d(4)
    with torch.no_grad():
        assert torch.allclose(bn(with_bias(x)), bn(without(x)), atol=1e-4)


# --- exercise 5: ResNet18's convolutions ---


def test_exercise_5_resnet18_convolutions():
    with torch.device("meta"):
        resnet18 = torchvision.models.resnet18()
    convs = [m for m in resnet18.modules() if isinstance(m, nn.Conv2d)]
    kernels = [m.kernel_size for m in convs]
    assert kernels.count((3, 3)) == 16 and kernels.count((1, 1)) == 3 and kernels.count((7, 7)) == 1
    assert kernels.count((3, 3)) + 1 + 1 == 18  # 3x3 convolutions, the stem and the classifier


# --- the 1x1 convolution is a fully connected layer at every pixel ---


def test_a_1x1_convolution_is_a_linear_layer_applied_at_every_pixel():
    torch.manual_seed(0)
    pointwise, dense = nn.Conv2d(256, 64, 1), nn.Linear(256, 64)
    with torch.no_grad():
        dense.weight.copy_(pointwise.weight.view(64, 256))
        dense.bias.copy_(pointwise.bias)
        x = torch.randn(2, 256, 7, 7)
        by_dense = dense(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        assert torch.allclose(pointwise(x), by_dense, atol=1e-5)
