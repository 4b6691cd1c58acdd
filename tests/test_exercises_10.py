"""The pencil-and-paper exercises of chapter 10 (Grad-CAM), checked against cnnbook.gradcam and
PyTorch: the answers printed in the chapter's solutions must be what the code computes."""

import pytest
import torch
import torchvision
from torch import nn

from cnnbook import gradcam


def fixed_linear(weight, bias=None) -> nn.Linear:
    weight = torch.tensor(weight, dtype=torch.float32)
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    return layer


def test_exercise_1_grad_cam_by_hand():
    A = torch.tensor([[[1.0, 2.0], [0.0, 3.0]], [[2.0, 0.0], [1.0, 1.0]]])
    dy_dA = torch.tensor([[[1.0, 0.0], [2.0, 1.0]], [[-1.0, 0.0], [-1.0, 0.0]]])
    # The score y = sum(dy_dA * A) is linear in A, so its gradient with respect to A is dy_dA.
    # The layer to explain is the identity: its output is A itself.
    model = nn.Sequential(nn.Identity(), nn.Flatten(), fixed_linear([dy_dA.flatten().tolist()]))
    alpha, activation = gradcam.gradcam_weights(model, "0", A[None], target=0)
    assert torch.allclose(activation[0], A)
    assert torch.allclose(alpha[0], torch.tensor([1.0, -0.5]))
    raw = gradcam.gradcam_raw(model, "0", A[None], target=0)[0]
    assert torch.allclose(raw, torch.tensor([[0.0, 2.0], [-0.5, 2.5]]))
    assert torch.allclose(raw.clamp_min(0), torch.tensor([[0.0, 2.0], [0.0, 2.5]]))
    scaled = gradcam.gradcam(model, "0", A[None], target=0)[0]  # the input is 2x2: no resizing
    assert torch.allclose(scaled, torch.tensor([[0.0, 0.8], [0.0, 1.0]]))
    assert divmod(int(scaled.argmax()), 2) == (1, 1)  # the hottest position: bottom right


def test_exercise_2_cam_and_grad_cam_by_hand():
    A = torch.tensor([[[4.0, 0.0], [2.0, 0.0]], [[0.0, 1.0], [1.0, 2.0]]])
    linear = fixed_linear([[0.5, 2.0]], bias=[-1.0])
    model = nn.Sequential(nn.Identity(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), linear).eval()
    cam = torch.einsum("k,khw->hw", linear.weight[0], A).detach()
    assert torch.allclose(cam, torch.tensor([[2.0, 2.0], [3.0, 4.0]]))
    with torch.no_grad():
        assert torch.allclose(A.mean(dim=(1, 2)), torch.tensor([1.5, 1.0]))
        assert model(A[None])[0, 0].item() == pytest.approx(1.75)
        assert (linear.bias[0] + cam.mean()).item() == pytest.approx(1.75)
    alpha, _ = gradcam.gradcam_weights(model, "0", A[None], target=0)
    assert torch.allclose(alpha[0], torch.tensor([0.125, 0.5]))
    raw = gradcam.gradcam_raw(model, "0", A[None], target=0)[0]
    assert torch.allclose(raw, torch.tensor([[0.5, 0.5], [0.75, 1.0]]))
    expected = torch.tensor([[0.0, 0.0], [0.5, 1.0]])
    assert torch.allclose(gradcam.gradcam(model, "0", A[None], target=0)[0], expected)
    assert torch.allclose(gradcam.normalise(cam[None])[0], expected)


@pytest.mark.parametrize("top, p1, slope, cross, weaker", [
    (5.0, 0.9867, 0.0131, -0.00656, 76),
    (10.0, 0.99991, 9.1e-5, None, 11_000),
])
def test_exercise_3_the_probability_of_a_sure_class_hardly_moves(top, p1, slope, cross, weaker):
    logits = torch.tensor([top, 0.0, 0.0], dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(lambda y: y.softmax(0), logits)  # [i, j] = dp_i / dy_j
    p = logits.softmax(0)
    assert p[0].item() == pytest.approx(p1, abs=1e-4 if top == 5 else 1e-5)
    assert jacobian[0, 0].item() == pytest.approx(slope, rel=0.01)
    assert jacobian[0, 0].item() == pytest.approx((p[0] * (1 - p[0])).item())
    assert jacobian[0, 1].item() == pytest.approx(-(p[0] * p[1]).item())
    if cross is not None:
        assert jacobian[0, 1].item() == pytest.approx(cross, abs=1e-5)
    assert 1 / jacobian[0, 0].item() == pytest.approx(weaker, rel=0.01)
    # the hint's rounded powers of e give the same answer
    e_top = {5.0: 148.4, 10.0: 22026}[top]
    assert e_top / (e_top + 2) == pytest.approx(p1, abs=1e-4)


@pytest.mark.parametrize("size, side", [(224, 7), (320, 10)])
def test_exercise_4_resnet18_grad_cam_is_cam(size, side):
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    c = 281
    alpha, activation = gradcam.gradcam_weights(model, "layer4", x, target=c)
    assert activation.shape == (1, 512, side, side) and side == size // 2**5
    assert torch.allclose(alpha[0], model.fc.weight.detach()[c] / side**2, atol=1e-7, rtol=1e-4)


def test_exercise_4_alexnet_has_no_such_formula():
    torch.manual_seed(0)
    model = torchvision.models.alexnet().eval()
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    alpha, _ = gradcam.gradcam_weights(model, "features.11", x, target=281)
    # Same class, two images: the weights differ, so no fixed row of weights could be read off.
    assert not torch.allclose(alpha[0], alpha[1], rtol=1e-3, atol=1e-7)
