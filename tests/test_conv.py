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
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        conv_as_matrix(np.ones((3, 3)), 6, 6, stride=0)
