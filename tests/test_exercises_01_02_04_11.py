"""The pencil-and-paper exercises of chapters 1, 2, 4 and 11: every answer the solutions state,
checked against the cnnbook package and PyTorch, and the claims the chapters' new sections make
(convolution is equivariant, pooling adds invariance, a 1x1 convolution is a shared dense layer)."""

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from cnnbook import alphago, train
from cnnbook.conv import avg_pool2d, conv2d, conv_as_matrix, max_pool2d, output_size, trace_shapes
from cnnbook.features import feature_maps, receptive_fields

IMAGE = np.array([[int(c) for c in row] for row in "100001 010010 001100 100010 010010 001010".split()])
FILTER1 = np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1]])
FILTER2 = np.array([[-1, 1, -1], [-1, 1, -1], [-1, 1, -1]])
X_KERNEL = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
FIVE = np.array([[int(c) for c in row] for row in "11100 01110 00111 00110 01100".split()])
SEVEN = np.array([[int(c) for c in row] for row in
                  "0111000 0011100 0001110 0001100 0011000 0110000 1100000".split()])


def move(picture: np.ndarray, down: int, right: int) -> np.ndarray:
    """The chapter 1 helper: ``picture`` moved down and right, blank pixels entering at the edges."""
    moved = np.zeros_like(picture)
    height, width = picture.shape
    moved[down:, right:] = picture[:height - down, :width - right]
    return moved


# --- the lecture's worked examples, as the notes print them --------------------------------------


def test_the_lecture_feature_maps_are_what_the_notes_print():
    assert conv2d(IMAGE, FILTER1).tolist() == [[3, -1, -3, -1], [-3, 1, 0, -3], [-3, -3, 0, 1], [3, -2, -2, -1]]
    assert conv2d(IMAGE, FILTER1, stride=2).tolist() == [[3, -3], [-3, 0]]
    assert conv2d(FIVE, X_KERNEL).tolist() == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]
    assert conv2d(SEVEN, X_KERNEL).tolist() == [
        [1, 4, 3, 4, 1], [1, 2, 4, 3, 3], [1, 2, 3, 4, 1], [1, 3, 3, 1, 1], [3, 3, 1, 1, 0]]


# --- chapter 1 ------------------------------------------------------------------------------------


def test_ch1_ex1_dense_and_conv_layers_on_a_cifar_image():
    assert train.count_parameters(nn.Linear(32 * 32 * 3, 1000)) == 3_073_000
    assert train.count_parameters(nn.Conv2d(3, 64, 3)) == 64 * 27 + 64 == 1_792


def test_ch1_ex2_fully_partially_and_convolutionally_connected_on_a_10x10_image():
    window = conv_as_matrix(np.ones((3, 3)), 10, 10) != 0
    assert window.shape == (64, 100)  # 8x8 outputs, 100 pixels: fully connected has 6,400 weights
    assert window.size == 6_400
    assert window.sum() == 576  # partially connected: 9 per output
    numbered = conv_as_matrix(np.arange(1, 10).reshape(3, 3), 10, 10)
    assert len(np.unique(numbered[window])) == 9  # shared: the filter's 9 weights
    # a second filter: a layer with two output channels doubles every count
    two = nn.Conv2d(1, 2, 3, bias=False)
    assert train.count_parameters(two) == 18
    assert 2 * window.size == 12_800 and 2 * window.sum() == 1_152


def test_ch1_ex3_the_moved_image_gives_the_moved_map_plus_one_new_column():
    before = conv2d(IMAGE, FILTER1)
    after = conv2d(move(IMAGE, 0, 1), FILTER1)
    np.testing.assert_array_equal(after[:, 1:], before[:, :3])  # twelve values for free
    assert before[:, 3].tolist() == [-1, -3, 1, -1]  # fallen off
    assert after[:, 0].tolist() == [-2, -2, 2, -2]  # computed


def test_ch1_ex5_flattening_the_whole_map_instead_of_global_pooling():
    torch.manual_seed(0)
    cnn = train.small_cnn(in_channels=1, widths=(32, 64))
    assert isinstance(cnn[5], nn.AdaptiveMaxPool2d)
    flat = nn.Sequential(*list(cnn[:5]), nn.Flatten(), nn.Linear(64 * 12 * 12, 10))
    assert flat(torch.zeros(2, 1, 24, 24)).shape == (2, 10)  # the 24x24 digits give a 12x12 map
    assert train.count_parameters(cnn[-1]) == 650
    assert train.count_parameters(flat[-1]) == 92_170
    assert train.count_parameters(flat) - train.count_parameters(cnn) == 91_520


@pytest.mark.parametrize("seed", range(5))
def test_ch1_convolution_is_equivariant_to_shifts_away_from_the_borders(seed):
    rng = np.random.default_rng(seed)
    picture = np.zeros((12, 12))
    picture[3:7, 3:7] = rng.normal(size=(4, 4))  # content two pixels or more from every border
    kernel = rng.normal(size=(3, 3))
    down, right = (int(d) for d in rng.integers(0, 4, size=2))
    np.testing.assert_allclose(conv2d(move(picture, down, right), kernel),
                               move(conv2d(picture, kernel), down, right), atol=1e-12)
    # a dense layer with as many inputs and outputs has no such rule
    dense = rng.normal(size=(100, 144))
    if down or right:
        assert not np.allclose((dense @ move(picture, down, right).ravel()).reshape(10, 10),
                               move((dense @ picture.ravel()).reshape(10, 10), down, right))


# --- chapter 2 ------------------------------------------------------------------------------------


def test_ch2_ex1_filter1_on_ink_paper_and_every_binary_window():
    assert conv2d(np.ones((3, 3)), FILTER1).item() == -3
    assert conv2d(np.zeros((3, 3)), FILTER1).item() == 0
    windows = [np.array(bits).reshape(3, 3) for bits in itertools.product([0, 1], repeat=9)]
    responses = [conv2d(w, FILTER1).item() for w in windows]
    assert max(responses) == 3
    best = [w for w, r in zip(windows, responses) if r == 3]
    assert len(best) == 1 and np.array_equal(best[0], np.eye(3))


def test_ch2_ex2_the_x_kernel_with_stride_2():
    out = conv2d(FIVE, X_KERNEL, stride=2)
    assert out.tolist() == [[4, 4], [2, 4]]
    assert output_size(5, 3, stride=2) == 2


def test_ch2_ex3_a_horizontal_filter_on_the_lecture_image():
    horizontal = np.array([[-1, -1, -1], [1, 1, 1], [-1, -1, -1]])
    out = conv2d(IMAGE, horizontal)
    assert out.tolist() == [[-1, -1, -1, -1], [-1, 1, 0, -1], [-1, -3, -2, -1], [-1, 0, -2, -1]]
    assert out.max() == 1 and np.argwhere(out == out.max()).tolist() == [[1, 1]]


def test_ch2_ex4_sixteen_5x5_filters_on_a_32x32_rgb_image():
    layer = nn.Conv2d(3, 16, 5)
    assert tuple(layer.weight.shape) == (16, 3, 5, 5)
    assert train.count_parameters(layer) == 1_216
    assert output_size(32, 5, stride=1, padding=2) == 32
    assert output_size(32, 5, stride=2, padding=2) == 16
    x = torch.zeros(1, 3, 32, 32)
    assert nn.Conv2d(3, 16, 5, stride=1, padding=2)(x).shape == (1, 16, 32, 32)
    assert nn.Conv2d(3, 16, 5, stride=2, padding=2)(x).shape == (1, 16, 16, 16)


def test_ch2_ex5_a_centre_weight_of_5_raises_seven_cells_by_4():
    modified = FILTER1.copy()
    modified[1, 1] = 5
    change = conv2d(IMAGE, modified) - conv2d(IMAGE, FILTER1)
    assert set(np.unique(change)) == {0, 4}
    assert np.argwhere(change == 4).tolist() == [[0, 0], [0, 3], [1, 1], [1, 2], [2, 3], [3, 0], [3, 3]]
    assert conv2d(IMAGE, modified)[[0, 3], 0].tolist() == [7, 7]  # the two 3s


# --- chapter 4 ------------------------------------------------------------------------------------

EXERCISE_MAP = np.array([[1, 3, 2, 0], [4, 0, 1, 1], [0, 2, 5, 6], [1, 1, 7, 0]])


def test_ch4_ex1_max_and_average_pooling_by_hand():
    assert max_pool2d(EXERCISE_MAP, 2).tolist() == [[4, 2], [2, 7]]
    assert avg_pool2d(EXERCISE_MAP, 2).tolist() == [[2, 1], [1, 4.5]]
    x = torch.tensor(EXERCISE_MAP, dtype=torch.float64)[None]
    assert nn.MaxPool2d(2)(x)[0].tolist() == [[4, 2], [2, 7]]
    assert nn.AvgPool2d(2)(x)[0].tolist() == [[2, 1], [1, 4.5]]


def test_ch4_ex2_overlapping_3x3_max_pooling_of_the_filter2_map():
    map2 = conv2d(IMAGE, FILTER2)
    assert map2.tolist() == [[-1, -1, -1, -1], [-1, -1, -2, 1], [-1, -1, -2, 1], [-1, 0, -4, 3]]
    assert max_pool2d(map2, 3, stride=1).tolist() == [[-1, 1], [0, 3]]


def test_ch4_ex3_which_one_pixel_moves_survive_2x2_max_pooling():
    lit = np.zeros((8, 8))
    lit[2, 5] = 1
    pooled = max_pool2d(lit, 2)
    assert np.argwhere(pooled).tolist() == [[1, 2]]
    moves = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}
    unchanged = {}
    for name, (dr, dc) in moves.items():
        moved = np.zeros((8, 8))
        moved[2 + dr, 5 + dc] = 1
        unchanged[name] = np.array_equal(max_pool2d(moved, 2), pooled)
    assert unchanged == {"up": False, "down": True, "left": True, "right": False}
    up, right = np.zeros((8, 8)), np.zeros((8, 8))
    up[1, 5], right[2, 6] = 1, 1
    assert np.argwhere(max_pool2d(up, 2)).tolist() == [[0, 2]]
    assert np.argwhere(max_pool2d(right, 2)).tolist() == [[1, 3]]


def test_ch4_ex4_alexnets_overlapping_pooling_and_its_zero_weights():
    assert [output_size(n, 3, stride=2) for n in (55, 27, 13)] == [27, 13, 6]
    pool = nn.MaxPool2d(3, 2)
    assert pool(torch.zeros(1, 1, 55, 55)).shape[-1] == 27
    assert train.count_parameters(pool) == 0


def test_ch4_ex5_min_pooling_of_the_filter1_map():
    map1 = conv2d(IMAGE, FILTER1)
    assert (-max_pool2d(-map1, 2)).tolist() == [[-3, -3], [-3, -2]]


@pytest.mark.parametrize("seed", range(5))
def test_ch4_a_response_moved_inside_its_window_leaves_max_pooling_unchanged(seed):
    rng = np.random.default_rng(seed)
    background = rng.uniform(-1, 0, size=(8, 8))  # weak responses everywhere
    row, col = (2 * int(v) for v in rng.integers(0, 4, size=2))  # a block's top-left cell
    strong = background.copy()
    strong[row, col] = 5
    inside = background.copy()
    inside[row + 1, col + 1] = 5  # same 2x2 block
    across = background.copy()
    across[(row + 2) % 8, col] = 5  # the next block down
    # the block maxima elsewhere come from the background, the same in all three maps
    assert max_pool2d(strong, 2)[row // 2, col // 2] == max_pool2d(inside, 2)[row // 2, col // 2] == 5
    assert max_pool2d(across, 2)[row // 2, col // 2] < 5


# --- chapter 11 -----------------------------------------------------------------------------------


def test_ch11_ex1_parameters_for_k_4_layer_by_layer():
    layer1 = 48 * 4 * 5 * 5 + 4
    middle = 11 * (4 * 4 * 3 * 3 + 4)
    last = 4 + 361
    assert (layer1, middle, last) == (4_804, 1_628, 365)
    assert alphago.parameter_count(4) == 6_797 == layer1 + middle + last
    net = alphago.PolicyNetwork(k=4)
    assert train.count_parameters(net) == 6_797
    assert train.count_parameters(net.layers.conv1) == 4_804
    assert train.count_parameters(net.layers.conv13) + train.count_parameters(net.layers.bias) == 365


def test_ch11_ex2_a_dense_last_layer_against_the_1x1_convolution():
    dense = nn.Linear(192 * 361, 361, device="meta")
    assert train.count_parameters(dense) == 25_021_993
    with torch.device("meta"):
        net = alphago.PolicyNetwork(k=192)
    assert train.count_parameters(net.layers.conv13) + train.count_parameters(net.layers.bias) == 553
    assert train.count_parameters(net) == alphago.parameter_count(192) == 3_882_793
    assert 6 < 25_021_993 / 3_882_793 < 7


def test_ch11_ex3_a_corner_output_needs_sixteen_3x3_layers_to_see_the_far_corner():
    def field(threes: int) -> int:
        stack = nn.Sequential(nn.Conv2d(1, 1, 5, padding=2), *[nn.Conv2d(1, 1, 3, padding=1) for _ in range(threes)])
        return receptive_fields(stack)[-1].size

    assert field(16) == 37 == 2 * 18 + 1
    assert field(15) < 37
    policy_fields = [f.size for f in receptive_fields(alphago.PolicyNetwork(k=2).layers) if f.layer == "Conv2d"]
    assert policy_fields[-1] == 27  # the paper's network, after its 1x1 layer


def test_ch11_ex4_pooling_after_layer_1_shrinks_the_board_to_9x9_and_breaks_the_last_layer():
    assert output_size(19, 2, stride=2) == 9
    net = alphago.PolicyNetwork(k=4)
    layers = list(net.layers.named_children())
    pooled = nn.Sequential(*[m for _, m in layers[:2]], nn.MaxPool2d(2), *[m for _, m in layers[2:-2]])
    rows = trace_shapes(pooled, (1, 48, 19, 19))
    assert rows[2].output_shape == (1, 4, 9, 9)
    assert rows[-1].output_shape == (1, 1, 9, 9)  # 81 scores from layer 13
    with pytest.raises(RuntimeError):
        net.layers.bias(pooled(torch.zeros(1, 48, 19, 19)))  # 361 biases do not fit 81 points


def test_ch11_the_1x1_layer_is_one_dense_neuron_applied_at_every_point():
    torch.manual_seed(0)
    net = alphago.PolicyNetwork(k=8)
    x = (torch.rand(2, 48, 19, 19) < 0.3).float()
    maps = feature_maps(net, x, ["layers.relu12", "layers.conv13"])
    table = maps["layers.relu12"].permute(0, 2, 3, 1).reshape(2 * 361, 8)  # one row per point
    by_matrix = table @ net.layers.conv13.weight.detach().reshape(8)
    np.testing.assert_allclose(by_matrix.numpy(), maps["layers.conv13"].reshape(-1).numpy(), atol=1e-6)
    assert net.layers.conv13.weight.numel() == 8  # the same k weights at all 361 points


def test_ch11_the_1x1_layer_of_the_match_network_is_a_matrix_product_as_the_chapter_computes_it():
    torch.manual_seed(0)  # the chapter's network and input, k = 192
    net = alphago.PolicyNetwork(k=192)
    torch.manual_seed(0)
    x = (torch.rand(1, 48, 19, 19) < 0.3).float()
    maps = feature_maps(net, x, ["layers.relu12", "layers.conv13"])
    channels_at_points = maps["layers.relu12"][0].reshape(net.k, 19 * 19).T  # (361, k)
    by_matrix = channels_at_points @ net.layers.conv13.weight.detach().reshape(net.k)
    by_conv = maps["layers.conv13"].reshape(19 * 19)
    assert channels_at_points.shape == (361, 192) and net.layers.conv13.weight.numel() == 192
    assert torch.allclose(by_matrix, by_conv, atol=1e-5)
