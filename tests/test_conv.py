import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnbook.conv import conv_as_matrix

LECTURE_IMAGE = np.array([[int(c) for c in row] for row in
                          "100001 010010 001100 100010 010010 001010".split()])
FILTER1 = np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1]])


def test_lecture_example_feature_map():
    matrix = conv_as_matrix(FILTER1, 6, 6)
    assert matrix.shape == (16, 36)
    expected = [[3, -1, -3, -1], [-3, 1, 0, -3], [-3, -3, 0, 1], [3, -2, -2, -1]]
    assert (matrix @ LECTURE_IMAGE.ravel()).reshape(4, 4).tolist() == expected


def test_lecture_example_with_stride_2():
    matrix = conv_as_matrix(FILTER1, 6, 6, stride=2)
    assert (matrix @ LECTURE_IMAGE.ravel()).reshape(2, 2).tolist() == [[3, -3], [-3, 0]]


@pytest.mark.parametrize("seed", range(5))
def test_matrix_equals_torch_convolution(seed):
    rng = np.random.default_rng(seed)
    height, width = rng.integers(4, 9, size=2)
    k = int(rng.integers(1, min(height, width) + 1))
    stride = int(rng.integers(1, 3))
    kernel, image = rng.normal(size=(k, k)), rng.normal(size=(height, width))
    expected = F.conv2d(torch.from_numpy(image)[None, None], torch.from_numpy(kernel)[None, None],
                        stride=stride)[0, 0].numpy()
    got = conv_as_matrix(kernel, height, width, stride) @ image.ravel()
    np.testing.assert_allclose(got, expected.ravel(), atol=1e-12)


def test_connection_and_weight_counts_of_the_6x6_example():
    window = conv_as_matrix(np.ones((3, 3)), 6, 6) != 0
    numbered = conv_as_matrix(np.arange(1, 10).reshape(3, 3), 6, 6)
    assert window.sum() == 16 * 9
    assert len(np.unique(numbered[window])) == 9


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="kernel must be 2-D"):
        conv_as_matrix(np.ones(3), 6, 6)
    with pytest.raises(ValueError, match=r"kernel \(7, 7\) does not fit in a 6x6 image"):
        conv_as_matrix(np.ones((7, 7)), 6, 6)
    with pytest.raises(ValueError, match="stride must be a whole number >= 1, got 0"):
        conv_as_matrix(np.ones((3, 3)), 6, 6, stride=0)


# --- conv2d, pooling and output_size against PyTorch ------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import nn  # noqa: E402

from cnnbook.conv import (  # noqa: E402
    avg_pool2d,
    conv2d,
    max_pool2d,
    output_size,
    output_size_unrounded,
    trace_shapes,
)

FILTER2 = np.array([[-1, 1, -1], [-1, 1, -1], [-1, 1, -1]])
X_KERNEL = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])


def grid(rows: str) -> np.ndarray:
    return np.array([[int(c) for c in row] for row in rows.split()])


def test_lecture_examples_by_conv2d():
    assert conv2d(LECTURE_IMAGE, FILTER1).tolist() == [[3, -1, -3, -1], [-3, 1, 0, -3], [-3, -3, 0, 1],
                                                         [3, -2, -2, -1]]
    assert conv2d(LECTURE_IMAGE, FILTER1, stride=2).tolist() == [[3, -3], [-3, 0]]
    assert conv2d(LECTURE_IMAGE, FILTER2).tolist() == [[-1, -1, -1, -1], [-1, -1, -2, 1], [-1, -1, -2, 1],
                                                         [-1, 0, -4, 3]]
    five = grid("11100 01110 00111 00110 01100")
    assert conv2d(five, X_KERNEL).tolist() == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]
    seven = grid("0111000 0011100 0001110 0001100 0011000 0110000 1100000")
    assert conv2d(seven, X_KERNEL).tolist() == [[1, 4, 3, 4, 1], [1, 2, 4, 3, 3], [1, 2, 3, 4, 1],
                                                 [1, 3, 3, 1, 1], [3, 3, 1, 1, 0]]


def test_lecture_pooling_example():
    assert max_pool2d(conv2d(LECTURE_IMAGE, FILTER1), 2).tolist() == [[3, 0], [3, 1]]
    assert max_pool2d(conv2d(LECTURE_IMAGE, FILTER2), 2).tolist() == [[-1, 1], [0, 3]]


@st.composite
def conv_case(draw):
    channels = draw(st.integers(1, 3))
    k_h, k_w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    padding = draw(st.integers(0, 2))
    height = draw(st.integers(max(1, k_h - 2 * padding), 12))
    width = draw(st.integers(max(1, k_w - 2 * padding), 12))
    stride = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**16))
    return channels, height, width, k_h, k_w, stride, padding, seed


@settings(max_examples=150, deadline=None)
@given(conv_case())
def test_conv2d_matches_torch(case):
    channels, height, width, k_h, k_w, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    x, kernel = rng.normal(size=(channels, height, width)), rng.normal(size=(channels, k_h, k_w))
    expected = F.conv2d(torch.from_numpy(x)[None], torch.from_numpy(kernel)[None], stride=stride,
                        padding=padding)[0, 0].numpy()
    got = conv2d(x, kernel, stride=stride, padding=padding)
    np.testing.assert_allclose(got, expected, atol=1e-10)
    if channels == 1:  # the 2-D form gives the same map
        np.testing.assert_allclose(conv2d(x[0], kernel[0], stride, padding), expected, atol=1e-10)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 3), st.integers(1, 12), st.integers(1, 12), st.integers(1, 4), st.integers(1, 4),
       st.integers(0, 2**16))
def test_pooling_matches_torch(channels, height, width, kernel, stride, seed):
    if kernel > min(height, width):
        return
    x = np.random.default_rng(seed).normal(size=(channels, height, width))
    tx = torch.from_numpy(x)[None]
    np.testing.assert_allclose(max_pool2d(x, kernel, stride), F.max_pool2d(tx, kernel, stride)[0].numpy())
    np.testing.assert_allclose(avg_pool2d(x, kernel, stride), F.avg_pool2d(tx, kernel, stride)[0].numpy(),
                               atol=1e-12)
    assert max_pool2d(x[0], kernel, stride).ndim == 2


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 40), st.integers(1, 7), st.integers(1, 5), st.integers(0, 3), st.integers(1, 3))
def test_output_size_matches_conv2d(size, kernel, stride, padding, dilation):
    if dilation * (kernel - 1) + 1 > size + 2 * padding:
        with pytest.raises(ValueError, match="the window does not fit"):
            output_size(size, kernel, stride, padding, dilation)
        return
    conv = nn.Conv2d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation, device="meta")
    measured = conv(torch.empty(1, 1, size, size, device="meta")).shape[-1]
    assert output_size(size, kernel, stride, padding, dilation) == measured
    assert output_size(size, kernel, stride, padding, dilation) == int(
        np.floor(output_size_unrounded(size, kernel, stride, padding, dilation)))


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 40), st.integers(1, 6), st.integers(1, 5), st.integers(0, 3), st.integers(1, 3),
       st.booleans())
def test_output_size_matches_max_pool_including_ceil_mode(size, kernel, stride, padding, dilation, ceil):
    if padding > kernel // 2 or dilation * (kernel - 1) + 1 > size + 2 * padding:
        return  # PyTorch itself refuses these pools
    pool = nn.MaxPool2d(kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil)
    measured = pool(torch.zeros(1, 1, size, size)).shape[-1]
    assert output_size(size, kernel, stride, padding, dilation, ceil_mode=ceil) == measured


def test_alexnet_first_layer_by_the_formula():
    assert output_size_unrounded(224, 11, 4, 2) == 55.25
    assert output_size(224, 11, 4, 2) == 55


@pytest.mark.parametrize("args, message", [
    ((5.5, 3), "size must be a whole number, got 5.5"),
    ((True, 3), "size must be a whole number"),
    ((0, 3), "size must be a whole number >= 1"),
    ((10, 3, 0), "stride must be a whole number >= 1, got 0"),
    ((10, 3, 1, -1), "padding must be a whole number >= 0"),
    ((10, 3, 1, 0, 0), "dilation must be a whole number >= 1"),
    ((4, 7), r"kernel 7 but the input is only 4 pixels"),
    ((4, 7, 1, 1), r"only 4 \+ 2\*1 padding = 6 pixels"),
    ((5, 3, 1, 0, 3), "kernel 3 with dilation 3 spans 7 pixels"),
])
def test_output_size_errors_say_what_is_wrong(args, message):
    with pytest.raises(ValueError, match=message):
        output_size(*args)


@pytest.mark.parametrize("call, message", [
    (lambda: conv2d(np.ones((3, 3)), np.ones((5, 5))), "kernel is 5 pixels along axis 0 but x, padded, is only 3"),
    (lambda: conv2d(np.ones((2, 5, 5)), np.ones((3, 3, 3))), "kernel has 3 channels but x has 2"),
    (lambda: conv2d(np.ones((5, 5)), np.ones((1, 3, 3))), r"use a \(k, k\) kernel for an \(H, W\) image"),
    (lambda: conv2d(np.ones((5, 5)), np.ones((3, 3)), stride=0), "stride must be a whole number >= 1"),
    (lambda: conv2d(np.ones((5, 5)), np.ones((3, 3)), stride=1.5), "stride must be a whole number"),
    (lambda: conv2d(np.ones((5, 5)), np.ones((3, 3)), padding=-1), "padding must be a whole number >= 0"),
    (lambda: conv2d(np.ones(5), np.ones(3)), r"x must be 2-D \(H, W\) or 3-D"),
    (lambda: max_pool2d(np.ones((3, 3)), 4), r"max_pool2d: kernel \(4, 4\) is larger than x \(3, 3\)"),
    (lambda: avg_pool2d(np.ones((3, 3)), 2, stride=0), "stride must be a whole number >= 1"),
])
def test_conv_and_pool_errors_say_which_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_padding_fits_a_kernel_larger_than_the_image():
    assert conv2d(np.ones((3, 3)), np.ones((5, 5)), padding=1).shape == (1, 1)


def test_trace_shapes_of_alexnet_formula_beside_measurement():
    import torchvision

    model = torchvision.models.alexnet().train()
    rows = {row.name: row for row in trace_shapes(model, (1, 3, 224, 224))}
    assert rows["features.0"].output_shape == (1, 64, 55, 55)
    assert rows["features.0"].layer_type == "Conv2d" and rows["features.2"].layer_type == "MaxPool2d"
    assert rows["features.0"].formula == "(224 + 2*2 - 11)/4 + 1 = 55.25 -> floor 55"
    assert [rows[f"features.{i}"].output_shape[-1] for i in (2, 3, 5, 6, 8, 10, 12)] == [27, 27, 13, 13, 13, 13, 6]
    assert rows["avgpool"].output_shape == (1, 256, 6, 6)
    assert all(row.matches for row in rows.values() if row.predicted is not None)
    assert rows["features.1"].predicted is None and rows["features.1"].matches is None
    assert model.training and all(m.training for m in model.modules())  # flags restored
    assert not any(m._forward_hooks for m in model.modules())


def test_trace_shapes_with_flatten_and_adaptive_pool():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.AdaptiveAvgPool2d((2, 2)), nn.Flatten(),
                          nn.Linear(16, 2))
    rows = trace_shapes(model, (2, 3, 9, 9))
    assert [r.output_shape for r in rows] == [(2, 4, 9, 9), (2, 4, 2, 2), (2, 16), (2, 2)]
    assert rows[2].formula == "4 x 2 x 2 = 16" and rows[2].matches


def test_trace_shapes_removes_hooks_when_the_forward_pass_fails():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(5, 2))
    with pytest.raises(ValueError, match=r"cannot take input_shape of shape \(1, 3, 8, 8\): mat1 and mat2"):
        trace_shapes(model, (1, 3, 8, 8))
    assert not any(m._forward_hooks for m in model.modules())


def test_trace_shapes_rejects_a_bad_input_shape():
    with pytest.raises(ValueError, match=r"input_shape\[2\] must be a whole number"):
        trace_shapes(nn.Identity(), (1, 3, 2.5, 4))
