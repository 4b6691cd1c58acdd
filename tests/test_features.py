import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from cnnbook import features


def conv_then_inplace_relu() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(inplace=True), nn.Conv2d(2, 1, 1))


def test_feature_maps_are_exact_before_an_inplace_relu():
    model = conv_then_inplace_relu()
    x = torch.randn(1, 1, 6, 6)
    expected = model[0](x).detach()
    assert (expected < 0).any()  # otherwise the test proves nothing
    maps = features.feature_maps(model, x, ["0", "1"])
    assert torch.equal(maps["0"], expected)
    assert torch.equal(maps["1"], expected.clamp(min=0))


def test_the_trap_it_avoids_is_real():
    """Keeping ``out.detach()`` in a hook gives the post-ReLU values: the bug feature_maps avoids."""
    model = conv_then_inplace_relu()
    kept = {}
    handle = model[0].register_forward_hook(lambda m, i, out: kept.update(out=out.detach()))
    with torch.no_grad():
        model(torch.randn(1, 1, 6, 6))
    handle.remove()
    assert (kept["out"] >= 0).all()


def test_feature_maps_leave_the_model_as_it_was():
    model = conv_then_inplace_relu().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    features.feature_maps(model, torch.randn(2, 1, 6, 6, requires_grad=True), ["0"])
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert not any(m._forward_hooks for m in model.modules())


def test_unknown_layer_names_the_closest_ones():
    model = nn.Sequential()
    model.add_module("features", nn.Sequential(nn.Conv2d(1, 1, 1), nn.ReLU()))
    with pytest.raises(KeyError, match=r"no layer named 'feature.0'; did you mean 'features.0'"):
        features.feature_maps(model, torch.zeros(1, 1, 2, 2), ["feature.0"])
    assert not any(m._forward_hooks for m in model.modules())


def test_hooks_are_removed_when_the_forward_pass_fails():
    model = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Flatten(), nn.Linear(3, 1))
    with pytest.raises(RuntimeError):
        features.feature_maps(model, torch.zeros(1, 1, 6, 6), ["0"])
    assert not any(m._forward_hooks for m in model.modules())


def test_a_layer_that_never_runs_is_reported():
    class SkipsALayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.spare = nn.Identity(), nn.ReLU()

        def forward(self, x):
            return self.used(x)

    model = SkipsALayer()
    with pytest.raises(RuntimeError, match=r"\['spare'\] did not run"):
        features.feature_maps(model, torch.zeros(1), ["spare"])


def test_first_layer_filters_are_scaled_one_by_one():
    conv = nn.Conv2d(3, 3, 2)
    with torch.no_grad():
        conv.weight[0] = 5.0  # constant: no NaN, mid grey
        conv.weight[1] = torch.arange(12.0).reshape(3, 2, 2) * 0.001  # tiny but still full range
        conv.weight[2] = -torch.arange(12.0).reshape(3, 2, 2)
    grid = features.first_layer_filters(nn.Sequential(conv), columns=3, gap=1)
    assert grid.shape == (2, 3 * 3 - 1, 3)
    assert not np.isnan(grid).any()
    assert np.allclose(grid[:, 0:2], 0.5)
    second = grid[:, 3:5]
    assert second.min() == 0.0 and second.max() == 1.0


def test_first_layer_filters_of_alexnet_form_an_8_by_8_grid():
    import torchvision

    grid = features.first_layer_filters(torchvision.models.alexnet())
    assert grid.shape == (8 * 12 - 1, 8 * 12 - 1, 3)
    assert 0.0 <= grid.min() and grid.max() <= 1.0


def test_parameter_table_by_hand():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(10, 2, bias=False))
    rows = features.parameter_table(model)
    assert [(r.name, r.layer, r.parameters) for r in rows] == [("0", "Conv2d", 4 * 3 * 9 + 4), ("3", "Linear", 20)]


def test_vgg16_parameters_add_up_and_live_in_the_first_fully_connected_layer():
    import torchvision

    model = torchvision.models.vgg16()
    rows = features.parameter_table(model)
    assert sum(r.parameters for r in rows) == sum(p.numel() for p in model.parameters())
    biggest = max(rows, key=lambda r: r.parameters)
    assert biggest.name == "classifier.0" and biggest.parameters == 25088 * 4096 + 4096


@pytest.mark.parametrize("stack, sizes", [
    (nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3)), [3, 5]),
    (nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3)), [3, 5, 7]),
    (nn.Sequential(nn.Conv2d(1, 1, 5)), [5]),
    (nn.Sequential(nn.Conv2d(1, 1, 3, stride=2), nn.Conv2d(1, 1, 3)), [3, 7]),
    (nn.Sequential(nn.Conv2d(1, 1, 3), nn.MaxPool2d(2), nn.ReLU(), nn.Conv2d(1, 1, 3)), [3, 4, 4, 8]),
    (nn.Sequential(nn.Conv2d(1, 1, 3, dilation=2)), [5]),
])
def test_receptive_fields_by_hand(stack, sizes):
    assert [r.size for r in features.receptive_fields(stack)] == sizes


def test_receptive_field_of_a_single_output_by_gradient():
    """Check the formula the hard way: which input pixels can change one output value?"""
    stack = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2), nn.Conv2d(1, 1, 3), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3))
    nn.init.constant_(stack[0].weight, 1.0)
    x = torch.rand(1, 1, 64, 64, requires_grad=True)
    stack(x)[0, 0, 3, 3].backward()
    rows, cols = torch.nonzero(x.grad[0, 0], as_tuple=True)
    assert (rows.max() - rows.min() + 1).item() == features.receptive_fields(stack)[-1].size


def test_receptive_fields_need_a_flat_stack():
    with pytest.raises(TypeError, match="nn.Sequential"):
        features.receptive_fields(nn.Conv2d(1, 1, 3))
    with pytest.raises(TypeError, match="is itself a Sequential"):
        features.receptive_fields(nn.Sequential(nn.Sequential(nn.Conv2d(1, 1, 3))))


# --- what each layer stores and computes --------------------------------------------------------------


def test_layer_costs_by_hand_on_a_tiny_network():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    rows = features.layer_costs(model, (3, 8, 8))
    assert [r.name for r in rows] == ["0", "1", "2", "3", "4"]
    conv, relu, pool, flat, linear = rows
    assert conv.output_shape == (8, 8, 8) and conv.parameters == 8 * 3 * 9 + 8
    assert conv.macs == (8 * 8 * 8) * (3 * 3 * 3)  # every output: 27 products
    assert relu.macs == pool.macs == flat.macs == 0 and pool.activations == 8 * 4 * 4
    assert linear.macs == 10 * 128 and linear.parameters == 128 * 10 + 10
    assert conv.activation_bytes == 4 * 512
    assert not any(m._forward_hooks for m in model.modules())


@pytest.mark.parametrize("name", ["alexnet", "vgg16", "resnet18"])
def test_layer_costs_agree_with_torchvisions_published_counts(name):
    """torchvision's metadata gives each network's parameters and GFLOPs (multiply-accumulates)."""
    with torch.device("meta"):
        model = torchvision.models.get_model(name)
    rows = features.layer_costs(model, (3, 224, 224))
    meta = torchvision.models.get_model_weights(name).DEFAULT.meta
    assert sum(r.parameters for r in rows) == meta["num_params"]
    assert round(sum(r.macs for r in rows) / 1e9, 3) == pytest.approx(meta["_ops"], abs=0.001)


def test_layer_costs_names_a_shape_the_model_cannot_take():
    with pytest.raises(ValueError, match=r"cannot take input_shape of shape \(1, 1, 8, 8\)"):
        features.layer_costs(nn.Sequential(nn.Conv2d(3, 4, 3)), (1, 8, 8))
    with pytest.raises(ValueError, match=r"input_shape\[1\] must be a whole number >= 1"):
        features.layer_costs(nn.Sequential(nn.Conv2d(3, 4, 3)), (3, 0, 8))
