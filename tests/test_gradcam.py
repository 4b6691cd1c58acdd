"""cnnbook.gradcam: Grad-CAM against Captum and CAM, its channel weights, the pointing game, rank correlation."""

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from cnnbook import attacks, gradcam

captum_attr = pytest.importorskip("captum.attr")
from captum.testing.helpers.basic_models import BasicModel_ConvNet_One_Conv  # noqa: E402


@pytest.mark.parametrize("inplace", [False, True])
def test_captum_golden_values_before_relu_and_normalisation(inplace):
    model = BasicModel_ConvNet_One_Conv(inplace=inplace)
    x = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4)
    conv1 = gradcam.gradcam_raw(model, model.conv1, x, target=0)
    relu1 = gradcam.gradcam_raw(model, "relu1", x, target=0)
    assert torch.allclose(conv1, torch.tensor([[[11.25, 13.5], [20.25, 22.5]]]))
    assert torch.allclose(relu1, torch.tensor([[[0.0, 4.0], [28.0, 32.5]]]))


def resnet18_random():
    torch.manual_seed(0)
    return torchvision.models.resnet18().eval()


def test_matches_captum_layer_gradcam_on_resnet18():
    model = resnet18_random()
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    target = [3, 500]
    ours = gradcam.gradcam(model, model.layer4[-1], x, target)
    theirs = captum_attr.LayerGradCam(model, model.layer4[-1]).attribute(x, target=target, relu_attributions=True)
    theirs = captum_attr.LayerAttribution.interpolate(theirs, (224, 224), interpolate_mode="bilinear")[:, 0]
    assert (ours - gradcam.normalise(theirs.detach())).abs().max() < 1e-2


def gap_model() -> nn.Sequential:
    """A convolution, global average pooling and one linear layer: the shape CAM needs."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 5)).eval()


def test_equals_cam_on_a_global_average_pooling_model():
    model = gap_model()
    x = torch.rand(3, 3, 12, 12)
    target = [0, 2, 4]
    with torch.no_grad():
        activation = model[1](model[0](x))
        cam = torch.einsum("bk,bkhw->bhw", model[4].weight[target], activation).clamp_min(0)
    expected = gradcam.normalise(F.interpolate(cam[:, None], size=(12, 12), mode="bilinear",
                                               align_corners=False)[:, 0])
    assert (gradcam.gradcam(model, "1", x, target) - expected).abs().max() < 1e-3


def test_gradcam_weights_are_the_gap_model_linear_weights_over_the_positions():
    model = gap_model()
    x = torch.rand(3, 3, 12, 10)
    target = [0, 2, 4]
    alpha, activation = gradcam.gradcam_weights(model, "1", x, target)
    with torch.no_grad():
        assert torch.allclose(activation, model[1](model[0](x)))
    assert alpha.shape == (3, 8) and activation.shape == (3, 8, 12, 10)
    assert torch.allclose(alpha, model[4].weight.detach()[target] / (12 * 10), atol=1e-7)
    raw = gradcam.gradcam_raw(model, "1", x, target)
    assert torch.allclose(raw, (alpha[:, :, None, None] * activation).sum(1))
    one_pass = gradcam.channel_weights(model, model[1], x, target)  # the arithmetic alone, one batch
    assert torch.equal(one_pass[0], alpha) and torch.equal(one_pass[1], activation)
    assert not alpha.requires_grad and not activation.requires_grad
    assert all(p.grad is None for p in model.parameters())
    assert not any(m._forward_hooks for m in model.modules())


def test_gradcam_weights_in_pieces_default_target_and_errors():
    model = resnet18_random()
    x = torch.rand(5, 3, 64, 64)
    alpha, activation = gradcam.gradcam_weights(model, "layer4.1", x, batch_size=None)
    pieces = gradcam.gradcam_weights(model, "layer4.1", x, batch_size=2)
    assert torch.allclose(alpha, pieces[0], atol=1e-6) and torch.allclose(activation, pieces[1], atol=1e-5)
    predicted = model(x).argmax(1)
    assert torch.allclose(alpha, gradcam.gradcam_weights(model, "layer4.1", x, predicted)[0], atol=1e-7)
    with pytest.raises(ValueError, match="target has 2 classes but the batch has 5 images"):
        gradcam.gradcam_weights(model, "layer4", x, target=[1, 2])
    with pytest.raises(ValueError, match=r"output is \(B, C, H, W\)"):
        gradcam.gradcam_weights(model, "fc", x)
    with pytest.raises(ValueError, match="x must be a batch"):
        gradcam.gradcam_weights(model, "layer4", x[0])
    with pytest.raises(ValueError, match="batch_size must be a whole number"):
        gradcam.gradcam_weights(model, "layer4", x, batch_size=0)
    assert not any(m._forward_hooks for m in model.modules())


def test_shape_range_and_default_target_is_the_prediction():
    model = resnet18_random()
    x = torch.rand(2, 3, 64, 64)
    maps = gradcam.gradcam(model, "layer4.1", x)
    assert maps.shape == (2, 64, 64) and maps.min() >= 0 and maps.max() <= 1
    predicted = model(x).argmax(1).tolist()
    assert torch.equal(maps, gradcam.gradcam(model, "layer4.1", x, predicted))


def test_frozen_model_inside_no_grad_leaves_no_trace():
    model = resnet18_random().train()
    for p in model.parameters():
        p.requires_grad_(False)
    model.layer1.requires_grad_(True)  # some trainable, some not
    with torch.no_grad():
        maps = gradcam.gradcam(model, model.layer3, torch.rand(2, 3, 64, 64), target=1)
    assert not torch.isnan(maps).any()
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert not any(m._forward_hooks for m in model.modules())


def test_conv_right_before_an_inplace_relu_works():
    model = torchvision.models.alexnet().eval()
    maps = gradcam.gradcam(model, "features.10", torch.rand(1, 3, 224, 224))
    assert maps.shape == (1, 224, 224) and not torch.isnan(maps).any()


def test_nothing_positive_gives_an_all_zero_map():
    model = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), nn.Flatten(), nn.Linear(4, 2, bias=False))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[2].weight.fill_(-1.0)
    maps = gradcam.gradcam(model, "0", torch.ones(1, 1, 2, 2), target=0)
    assert torch.equal(maps, torch.zeros(1, 2, 2))


def test_bad_targets_and_layers_are_explained():
    model = resnet18_random()
    x = torch.rand(2, 3, 32, 32)
    with pytest.raises(ValueError, match="target has 3 classes but the batch has 2 images"):
        gradcam.gradcam(model, "layer4", x, target=[1, 2, 3])
    with pytest.raises(ValueError, match=r"must lie in 0..999"):
        gradcam.gradcam(model, "layer4", x, target=1000)
    with pytest.raises(KeyError, match="did you mean 'layer4'"):
        gradcam.gradcam(model, "layer44", x)
    with pytest.raises(ValueError, match=r"output is \(B, C, H, W\)"):
        gradcam.gradcam(model, "fc", x)
    with pytest.raises(ValueError, match="not a module of this model"):
        gradcam.gradcam(model, nn.Conv2d(1, 1, 1), x)
    assert not any(m._forward_hooks for m in model.modules())


def test_pointing_game_counts_peaks_inside_the_boxes_corners_included():
    maps = torch.zeros(4, 5, 6)
    maps[0, 1, 2] = 1  # inside (x0=2, y0=1, x1=3, y1=2): on the top-left corner
    maps[1, 2, 3] = 1  # on the bottom-right corner
    maps[2, 3, 2] = 1  # one row below the box
    maps[3, 0, 5] = 1  # right of the box
    boxes = torch.tensor([[2, 1, 3, 2]] * 4)
    assert gradcam.pointing_game(maps, boxes) == 0.5
    assert gradcam.pointing_game(maps[:2], boxes[:2]) == 1.0
    assert gradcam.pointing_game(torch.zeros(1, 5, 6), torch.tensor([[0, 0, 0, 0]])) == 1.0  # a flat map: (0, 0)


def test_rank_correlation_agrees_with_scipy_and_handles_ties_and_flat_maps():
    from scipy.stats import spearmanr

    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(6, 9, 9, generator=g), torch.rand(6, 9, 9, generator=g)
    a[a < 0.5], b[b < 0.4] = 0, 0  # many ties, as after Grad-CAM's ReLU
    b[2] = 0  # nothing positive
    got = gradcam.rank_correlation(a, b)
    for i in range(6):
        want = 0.0 if i == 2 else spearmanr(a[i].flatten(), b[i].flatten()).statistic
        assert got[i].item() == pytest.approx(want, abs=1e-6)
    assert torch.allclose(gradcam.rank_correlation(a, a)[[0, 1, 3]], torch.ones(3))
    assert torch.allclose(gradcam.rank_correlation(a, -a)[[0, 1]], -torch.ones(2))
    with pytest.raises(ValueError, match="same shape"):
        gradcam.rank_correlation(a, b[:, :3])


def test_working_in_pieces_gives_the_same_maps_and_attacks():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(4, 5, 3, padding=1),
                          nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 3)).eval()
    x = torch.rand(7, 3, 8, 8)
    targets = [0, 1, 2, 0, 1, 2, 0]
    for target in (None, 2, targets, torch.tensor(targets)):
        whole = gradcam.gradcam(model, "2", x, target, batch_size=None)
        assert torch.allclose(gradcam.gradcam(model, "2", x, target, batch_size=3), whole, atol=1e-6)
        assert torch.equal(attacks.fgsm(model, x, 0.1, target, batch_size=2), attacks.fgsm(model, x, 0.1, target, batch_size=None))
        assert torch.equal(attacks.iterated_fgsm(model, x, 0.1, steps=3, target=target, batch_size=4),
                           attacks.iterated_fgsm(model, x, 0.1, steps=3, target=target, batch_size=None))
    with pytest.raises(ValueError, match="target has 6 classes but the batch has 7 images"):
        gradcam.gradcam(model, "2", x, targets[:6], batch_size=3)
    with pytest.raises(ValueError, match="batch_size must be a whole number >= 1"):
        attacks.fgsm(model, x, 0.1, batch_size=0)
