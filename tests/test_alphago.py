"""AlphaGo's policy network and its board features, on positions worked out by hand."""

import numpy as np
import pytest
import torch

from cnnbook import alphago
from cnnbook.alphago import BLACK, EMPTY, WHITE
from cnnbook.conv import trace_shapes
from cnnbook.features import receptive_fields

# Strings and their liberties, counted by hand:
#   X (0,0)-(1,0): in atari in the corner, one liberty (2,0)
#   O (0,1)-(2,1): 5 liberties (0,2) (1,2) (2,0) (2,2) (3,1)
#   X (1,5) (1,6) (2,5): 5, touching the top edge's neighbour row: (0,5) (0,6) (1,4) (2,4) (3,5)
#   O (2,6)-(3,6): on the right edge, 2: (3,5) (4,6)
#   X (4,2) (4,3) (5,2): 7; (5,3) touches two of its stones and counts once
#   O (5,6): 2; X (6,6): in atari in the corner, one liberty (6,5)
#   (four black strings, three white)
SEVEN = """
X O . . . . .
X O . . . X X
. O . . . X O
. . . . . . O
. . X X . . .
. . X . . . O
. . . . . . X
"""
SEVEN_LIBERTIES = np.array([
    [1, 5, 0, 0, 0, 0, 0],
    [1, 5, 0, 0, 0, 5, 5],
    [0, 5, 0, 0, 0, 5, 2],
    [0, 0, 0, 0, 0, 0, 2],
    [0, 0, 7, 7, 0, 0, 0],
    [0, 0, 7, 0, 0, 0, 2],
    [0, 0, 0, 0, 0, 0, 1],
])


def board(text: str, to_play: str = "X") -> alphago.Position:
    rows = [r for r in text.splitlines() if r.strip()]
    return alphago.parse(text, to_play, size=len(rows))


# --- parsing --------------------------------------------------------------------------------------


def test_parse_reads_a_full_board_and_prints_it_back():
    text = "\n".join(["." * 19] * 18 + ["X" + "." * 17 + "O"])
    position = alphago.parse(text, "O")
    assert position.board.shape == (19, 19)
    assert position.board[18, 0] == BLACK and position.board[18, 18] == WHITE
    assert position.to_play == WHITE and position.opponent == BLACK
    assert str(position).splitlines()[-1] == "O to play"
    assert np.array_equal(alphago.parse("\n".join(str(position).splitlines()[:-1]), "O").board, position.board)


@pytest.mark.parametrize("text, to_play, message", [
    ("\n".join(["." * 19] * 18), "X", "needs 19 rows, got 18"),
    ("\n".join(["." * 19] * 18 + ["." * 18]), "X", "row 19 has 18 points, expected 19"),
    ("\n".join(["." * 19] * 3 + ["..x" + "." * 16] + ["." * 19] * 15), "X", r"row 4, column 3: 'x' is not a point"),
    ("\n".join(["." * 19] * 19), "B", "to_play must be 'X' .* or 'O'"),
    ("\n".join(["XO" + "." * 17, "O" + "." * 18] + ["." * 19] * 17), "X",
     "the X stone at row 1, column 1 belongs to a string without liberties"),
])
def test_parse_errors_say_what_is_wrong(text, to_play, message):
    with pytest.raises(ValueError, match=message):
        alphago.parse(text, to_play)


# --- strings, liberties, moves --------------------------------------------------------------------


def test_liberties_of_hand_made_strings_including_edges_and_atari():
    position = board(SEVEN)
    assert np.array_equal(alphago.liberties(position.board), SEVEN_LIBERTIES)
    labels, count = alphago.strings(position.board)
    assert count == 7  # four black strings, three white ones


def test_stones_of_different_colours_never_share_a_string():
    labels, count = alphago.strings(np.array([[BLACK, WHITE, EMPTY], [WHITE, BLACK, EMPTY], [EMPTY] * 3]))
    assert count == 4 and len(set(labels[labels > 0].tolist())) == 4


def test_a_capture_removes_the_string_and_frees_its_points():
    position = board(SEVEN, "O")
    result, after = alphago.play(position, 2, 0)
    # X (0,0)-(1,0) is captured; O's new string (the old one plus (2,0)) gets (3,0) and the two
    # freed points: (0,2) (1,2) (2,2) (3,1) (3,0) (0,0) (1,0)
    assert result == alphago.MoveResult(legal=True, captured=2, liberties=7, stones=4)
    assert after[0, 0] == EMPTY and after[1, 0] == EMPTY and after[2, 0] == WHITE
    assert position.board[0, 0] == BLACK  # the position itself is not changed


def test_suicide_is_illegal_but_capturing_into_no_liberties_is_legal():
    eye = board("""
        . X . . .
        X X . . .
        . . . . .
        . . . . .
        . . . . .""", "O")
    assert not alphago.play(eye, 0, 0)[0].legal
    assert not alphago.legal_moves(eye)[0, 0] and alphago.legal_moves(eye)[2, 2]
    assert not alphago.play(eye, 0, 1)[0].legal  # occupied
    rescue = board("""
        . O X . .
        O X . . .
        X . . . .
        . . . . .
        . . . . .""", "X")
    assert alphago.play(rescue, 0, 0)[0] == alphago.MoveResult(True, captured=2, liberties=2, stones=1)


def test_own_eye_is_not_sensible():
    position = board("""
        . X . . .
        X X . . .
        . . . . .
        . . . . .
        . . . . .""", "X")
    assert alphago.is_eye(position, 0, 0)
    assert not alphago.is_eye(position, 2, 2)
    planes = alphago.encode(position)
    sensible = planes[alphago.PLANES["sensibleness"]][0]
    assert sensible[0, 0] == 0 and sensible[2, 2] == 1 and sensible[0, 1] == 0


def test_a_false_eye_is_not_an_eye():
    # (2,2) is surrounded by X; two of its diagonals are O: a false eye. With one O diagonal it is
    # still a real eye in the middle of the board.
    position = board("""
        . . . . .
        . O X O .
        . X . X .
        . . X . .
        . . . . .""", "X")
    assert not alphago.is_eye(position, 2, 2)
    one_hostile = board("""
        . . . . .
        . O X . .
        . X . X .
        . . X . .
        . . . . .""", "X")
    assert alphago.is_eye(one_hostile, 2, 2)



@pytest.mark.parametrize("size", [2, 3, 5, 19])
def test_eyes_of_a_whole_board_agree_with_is_eye_at_every_point(size):
    """encode reads the eye test for all points at once; it must be is_eye, point by point,
    on boards crowded enough to hold many eyes, false eyes and eyes on edges and corners."""
    rng = np.random.default_rng(size)
    found = 0
    for own_share, other_share in [(0.6, 0.1), (0.5, 0.2), (0.4, 0.3), (0.7, 0.05)]:
        for _ in range(25):
            draw = rng.random((size, size))
            to_play = BLACK if rng.random() < 0.5 else WHITE
            other = WHITE if to_play == BLACK else BLACK
            board = np.where(draw < own_share, to_play,
                             np.where(draw < own_share + other_share, other, EMPTY)).astype(np.int8)
            position = alphago.Position(board, to_play)
            one_by_one = np.array([[alphago.is_eye(position, r, c) for c in range(size)] for r in range(size)])
            assert np.array_equal(alphago.eyes(position), one_by_one)
            found += int(one_by_one.sum())
    assert found > 10  # the boards did hold eyes to compare

# --- the 48 planes --------------------------------------------------------------------------------


def plane(planes, name):
    return planes[alphago.plane_names().index(name)]


def test_encode_builds_the_published_planes():
    position = board(SEVEN, "O")
    planes = alphago.encode(position)
    assert planes.shape == (48, 7, 7) and planes.dtype == torch.float32
    assert len(alphago.plane_names()) == 48 == sum(count for _, count, _, _ in alphago.FEATURES)
    b = torch.from_numpy(position.board)
    assert torch.equal(plane(planes, "player stones"), (b == WHITE).float())
    assert torch.equal(plane(planes, "opponent stones"), (b == BLACK).float())
    assert torch.equal(plane(planes, "empty points"), (b == EMPTY).float())
    assert (plane(planes, "ones") == 1).all() and (plane(planes, "zeros") == 0).all()
    # liberties, one-hot: every stone lit in exactly one liberties plane, the right one
    libs = planes[alphago.PLANES["liberties"]]
    assert torch.equal(libs.sum(0), (b != EMPTY).float())
    for n in (1, 2, 5, 7):
        assert torch.equal(plane(planes, f"liberties {n}"), torch.from_numpy(SEVEN_LIBERTIES == n).float())
    # capture size: O captures 2 at (2,0) and 1 at (6,5), nothing elsewhere
    capture = planes[alphago.PLANES["capture size"]]
    assert capture.sum() == 2 and plane(planes, "capture size 2")[2, 0] == 1 and plane(planes, "capture size 1")[6, 5] == 1
    assert plane(planes, "liberties after move 7")[2, 0] == 1
    # the planes a single position cannot fill stay zero
    for name in ("turns since", "ladder capture", "ladder escape"):
        assert (planes[alphago.PLANES[name]] == 0).all()


def test_encode_is_seen_from_the_side_to_play():
    as_black, as_white = alphago.encode(board(SEVEN, "X")), alphago.encode(board(SEVEN, "O"))
    assert torch.equal(as_black[0], as_white[1]) and torch.equal(as_black[1], as_white[0])
    # X playing (2,0) joins its string in atari: three stones with one liberty, (3,0)
    assert plane(as_black, "self-atari size 3")[2, 0] == 1
    assert (as_black[alphago.PLANES["capture size"]] == 0).all()  # no white string is in atari


def test_large_values_go_to_the_last_plane():
    # one black string of 10 stones along a 19x19 row has 22 liberties -> "liberties 8+"
    rows = ["." * 19] * 19
    rows[9] = "." * 4 + "X" * 10 + "." * 5
    planes = alphago.encode(alphago.parse("\n".join(rows), "X"))
    assert (plane(planes, "liberties 8+")[9, 4:14] == 1).all()
    assert alphago.liberties(alphago.parse("\n".join(rows)).board)[9, 4] == 22


# --- the network ----------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [128, 192, 256, 384])
def test_parameter_count_matches_the_architecture(k):
    # layer 1: 48*k*5*5 weights + k biases; layers 2-12: k*k*3*3 + k each; layer 13: k weights,
    # no shared bias; one bias for each of the 361 points
    expected = (48 * k * 5 * 5 + k) + 11 * (k * k * 3 * 3 + k) + k + 361
    with torch.device("meta"):
        net = alphago.PolicyNetwork(k=k)
    assert sum(p.numel() for p in net.parameters()) == expected == alphago.parameter_count(k)


def test_the_output_is_a_distribution_over_the_361_points():
    torch.manual_seed(0)
    net = alphago.PolicyNetwork(k=16)
    x = torch.rand(3, 48, 19, 19)
    p = net.probabilities(x)
    assert p.shape == (3, 361)
    assert torch.allclose(p.sum(1), torch.ones(3)) and (p >= 0).all()
    assert torch.allclose(net(x).exp(), p)  # forward gives log-probabilities


def test_illegal_points_get_probability_zero():
    torch.manual_seed(0)
    net = alphago.PolicyNetwork(k=8)
    legal = torch.zeros(2, 19, 19, dtype=torch.bool)
    legal[0, 3, 3] = legal[0, 15, 15] = True
    legal[1] = True
    legal[1, 0, 0] = False
    p = net.probabilities(torch.rand(2, 48, 19, 19), legal)
    assert p[0].nonzero().flatten().tolist() == [3 * 19 + 3, 15 * 19 + 15]
    assert p[1, 0] == 0 and torch.allclose(p.sum(1), torch.ones(2))
    with pytest.raises(ValueError, match="no legal point in batch item"):
        net(torch.rand(1, 48, 19, 19), torch.zeros(1, 361, dtype=torch.bool))
    with pytest.raises(ValueError, match="one flag per point"):
        net(torch.rand(2, 48, 19, 19), torch.ones(2, 360, dtype=torch.bool))


def test_wrong_input_shape_and_arguments_are_refused():
    net = alphago.PolicyNetwork(k=4)
    with pytest.raises(ValueError, match=r"expected input of shape \(B, 48, 19, 19\)"):
        net(torch.rand(1, 48, 9, 9))
    with pytest.raises(ValueError, match="k must be a whole number"):
        alphago.PolicyNetwork(k=0)


def test_every_layer_keeps_the_board_size_and_nothing_pools():
    net = alphago.PolicyNetwork(k=8)
    rows = trace_shapes(net, (1, 48, 19, 19))
    convs = [r for r in rows if r.layer_type == "Conv2d"]
    assert len(convs) == 13
    assert all(r.output_shape[-2:] == (19, 19) for r in convs)
    assert [m for m in net.modules() if "Pool" in type(m).__name__] == []
    assert rows[-1].output_shape == (1, 361)
    assert net.layers.conv1.padding == (2, 2) and net.layers.conv2.padding == (1, 1)
    assert net.layers.conv13.bias is None and net.layers.bias.bias.shape == (1, 1, 19, 19)


def test_receptive_field_grows_by_two_per_layer_after_the_first():
    fields = {r.name: r.size for r in receptive_fields(alphago.PolicyNetwork(k=4).layers)}
    assert fields["conv1"] == 5
    assert [fields[f"conv{i}"] for i in range(2, 13)] == [5 + 2 * (i - 1) for i in range(2, 13)]
    assert fields["conv13"] == 27


# --- the capture task -----------------------------------------------------------------------------


@pytest.mark.parametrize("density", [0.08, 0.12, 0.3])
def test_the_quick_capture_check_finds_exactly_the_moves_that_capture(density):
    """atari_positions turns boards down with capturing_points; it must agree with judging every move."""
    from cnnbook.alphago.atari import capturing_points

    rng = np.random.default_rng(7)
    for _ in range(40):
        draw = rng.random((19, 19))
        board = np.where(draw < density, BLACK, np.where(draw < 2 * density, WHITE, EMPTY)).astype(np.int8)
        position = alphago.Position(board, BLACK if rng.random() < 0.5 else WHITE)
        judged = {point for point, result in alphago.move_results(position).items() if result.captured > 0}
        assert capturing_points(position) == judged


def test_atari_positions_have_exactly_one_capturing_move_and_repeat():
    data = alphago.atari_positions(30, seed=3)
    assert data.planes.shape == (30, 48, 19, 19) and data.legal.shape == (30, 361)
    for position, move, legal in zip(data.positions, data.moves.tolist(), data.legal):
        row, col = divmod(move, 19)
        assert alphago.play(position, row, col)[0].captured > 0
        assert legal[move]
        captures = [(r, c) for r in range(19) for c in range(19)
                    if position.board[r, c] == EMPTY and alphago.play(position, r, c)[0].captured]
        assert captures == [(row, col)]
    again = alphago.atari_positions(30, seed=3)
    assert torch.equal(again.planes, data.planes) and torch.equal(again.moves, data.moves)


def test_a_small_policy_network_learns_to_capture():
    train_set, test_set = alphago.atari_positions(600, seed=0), alphago.atari_positions(200, seed=1)
    hide = alphago.PLANES["capture size"]  # the plane that would give the answer away
    x_train, x_test = train_set.planes.clone(), test_set.planes.clone()
    x_train[:, hide], x_test[:, hide] = 0, 0
    torch.manual_seed(0)
    net = alphago.PolicyNetwork(k=16)
    before = alphago.accuracy(net, x_test, test_set.moves, test_set.legal)
    losses = alphago.fit(net, x_train, train_set.moves, train_set.legal, epochs=10, lr=2e-3, seed=0)
    after = alphago.accuracy(net, x_test, test_set.moves, test_set.legal)
    assert losses[-1] < losses[0]
    assert before < 0.1 and after > 0.6  # measured 0.78 (0.70 to 0.78 over training seeds 0-3)
    assert all(p.grad is None for p in net.parameters())
    assert not net.training  # left in eval mode, as train.fit leaves its models
    with pytest.raises(ValueError, match="same number of positions"):
        alphago.fit(net, x_train[:5], train_set.moves[:4])


@pytest.mark.parametrize("training", [True, False])
def test_fit_that_blows_up_gives_the_weights_back_and_leaves_eval_mode(training):
    data = alphago.atari_positions(4, seed=0, size=19)
    torch.manual_seed(0)
    net = alphago.PolicyNetwork(k=4).train(training)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(FloatingPointError, match=r"lr=1e\+30 too large, or is a move illegal under its mask\?\); "
                                                 r"the model keeps the weights it had before fit"):
        alphago.fit(net, data.planes, data.moves, data.legal, epochs=3, lr=1e30, batch_size=1)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert not net.training and all(p.grad is None for p in net.parameters())


# --- chapter 11's claims, as the chapter computes them --------------------------------------------

# The example position of chapter 11's "From a position to 48 planes": a made-up opening with a
# white stone in atari on the left side, Black to play.
CHAPTER_POSITION = """
...................
...................
...O...........X...
..X.O.......X.O....
...O.............O.
...................
...................
...................
...................
...............X...
...................
...................
..X.............O..
..............X....
..O..........XXO...
...X.........OO....
..XO...............
...X.......X.......
...................
"""


def test_ch11_every_convolution_of_the_match_network_keeps_the_board_at_19x19():
    torch.manual_seed(0)
    rows = trace_shapes(alphago.PolicyNetwork(k=192), (1, 48, 19, 19))
    convs = [r for r in rows if r.layer_type == "Conv2d"]
    assert len(convs) == 13
    assert all(r.output_shape[-2:] == (19, 19) for r in convs)
    assert rows[-1].output_shape[-1] == 361


def test_ch11_example_position_has_one_capturing_move_and_one_stone_in_atari():
    position = alphago.parse(CHAPTER_POSITION, to_play="X")
    planes = alphago.encode(position)
    capture_points = np.argwhere(planes[alphago.PLANES["capture size"]].sum(0).numpy() > 0)
    assert capture_points.tolist() == [[16, 4]]  # Black captures the white stone at (16, 3)
    lit = planes[alphago.PLANES["liberties"]].sum(0)
    assert torch.equal(lit, torch.from_numpy(position.board != 0).float())  # every stone in one plane
    assert np.argwhere(plane(planes, "liberties 1").numpy() > 0).tolist() == [[16, 3]]
