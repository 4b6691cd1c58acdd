"""AlphaGo's policy network and the board features it reads (Silver et al., Nature 529, 2016).

The network (Methods, "Neural network architecture"): the 19x19x48 stack of feature planes is
zero-padded to 23x23 and convolved with ``k`` 5x5 filters; layers 2 to 12 zero-pad to 21x21 and
convolve ``k`` 3x3 filters; every one of these is followed by a ReLU. Layer 13 is a 1x1 convolution
with one filter and a different bias for each board point, and a softmax over the 361 points gives
the move probabilities. There is no pooling anywhere: every point of the board matters.

A position is written as text, one line per row, ``.`` for an empty point, ``X`` for black and
``O`` for white, and :func:`parse` reads it. :func:`encode` turns it into the paper's 48 input
planes (Extended Data Table 2), seen from the side to play. Planes that need a game history
(turns since a move) or a search (ladders) are left zero; :data:`FEATURES` says which and why.
"""

from __future__ import annotations

import copy

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn

from . import checks

SIZE = 19
EMPTY, BLACK, WHITE = 0, 1, 2
_SYMBOLS = {".": EMPTY, "X": BLACK, "O": WHITE}
_NEIGHBOURS = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=bool)


# --- the network --------------------------------------------------------------------------------


class PositionBias(nn.Module):
    """Adds one learned bias per board point to a ``(B, 1, size, size)`` map: the paper's final
    1x1 convolution has "a different bias for each position" instead of one shared bias."""

    def __init__(self, size: int = SIZE):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, 1, size, size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bias


class PolicyNetwork(nn.Module):
    """The SL policy network p_sigma: ``(B, planes, 19, 19)`` -> ``(B, 361)`` log-probabilities.

    ``forward`` returns log-probabilities (``log_softmax``; exponentiate for the probabilities, or
    use :meth:`probabilities`), which is what training with ``F.nll_loss`` needs. ``legal``, a
    boolean ``(B, 361)`` or ``(B, 19, 19)`` mask, gives every illegal point probability 0. Points
    are numbered row by row: point ``i`` is row ``i // 19``, column ``i % 19``.

    ``layers`` is one flat ``nn.Sequential`` (``conv1``, ``relu1``, ..., ``conv13``, ``bias``,
    ``flatten``), so :func:`cnnbook.conv.trace_shapes` and
    :func:`cnnbook.features.receptive_fields` read it directly.
    """

    def __init__(self, k: int = 192, planes: int = 48):
        super().__init__()
        k, planes = checks.whole("k", k, 1), checks.whole("planes", planes, 1)
        self.k, self.planes = k, planes
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["conv1"] = nn.Conv2d(planes, k, kernel_size=5, padding=2)  # 19 + 2*2 = 23
        layers["relu1"] = nn.ReLU()
        for i in range(2, 13):
            layers[f"conv{i}"] = nn.Conv2d(k, k, kernel_size=3, padding=1)  # 19 + 2*1 = 21
            layers[f"relu{i}"] = nn.ReLU()
        layers["conv13"] = nn.Conv2d(k, 1, kernel_size=1, bias=False)
        layers["bias"] = PositionBias(SIZE)
        layers["flatten"] = nn.Flatten()
        self.layers = nn.Sequential(layers)

    def forward(self, x: torch.Tensor, legal: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 4 or tuple(x.shape[1:]) != (self.planes, SIZE, SIZE):
            raise ValueError(f"expected input of shape (B, {self.planes}, {SIZE}, {SIZE}), got {tuple(x.shape)}")
        scores = self.layers(x)
        if legal is not None:
            legal = torch.as_tensor(legal, dtype=torch.bool, device=scores.device).reshape(scores.shape[0], -1)
            if legal.shape != scores.shape:
                raise ValueError(f"legal must hold one flag per point, shape (B, {SIZE * SIZE}) or (B, {SIZE}, {SIZE}), "
                                 f"for a batch of {scores.shape[0]}")
            if not legal.any(dim=1).all():
                empty = (~legal.any(dim=1)).nonzero().flatten().tolist()
                raise ValueError(f"no legal point in batch item(s) {empty}: the network has no pass move, "
                                 "so at least one point must be legal")
            scores = scores.masked_fill(~legal, float("-inf"))
        return F.log_softmax(scores, dim=1)

    def probabilities(self, x: torch.Tensor, legal: torch.Tensor | None = None) -> torch.Tensor:
        """Move probabilities ``(B, 361)``, summing to 1 over the (legal) points."""
        return self.forward(x, legal).exp()


def parameter_count(k: int, planes: int = 48) -> int:
    """The policy network's number of weights, from the architecture as written in the paper:
    layer 1 ``planes*k*5*5 + k``, layers 2-12 ``11 * (k*k*3*3 + k)``, layer 13 ``k`` (no shared
    bias) plus one bias per point, 361."""
    k, planes = checks.whole("k", k, 1), checks.whole("planes", planes, 1)
    return (planes * k * 25 + k) + 11 * (k * k * 9 + k) + k + SIZE * SIZE


# --- positions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """A board ``(size, size)`` of ``EMPTY``/``BLACK``/``WHITE`` and the colour to play."""

    board: np.ndarray
    to_play: int

    @property
    def size(self) -> int:
        return self.board.shape[0]

    @property
    def opponent(self) -> int:
        return BLACK + WHITE - self.to_play

    def __str__(self) -> str:
        symbol = {v: k for k, v in _SYMBOLS.items()}
        rows = ["".join(symbol[v] for v in row) for row in self.board]
        return "\n".join(rows) + f"\n{symbol[self.to_play]} to play"


def parse(text: str, to_play: str = "X", size: int = SIZE) -> Position:
    """Read a position: ``size`` lines of ``size`` points, ``.`` empty, ``X`` black, ``O`` white.

    Spaces inside a line are ignored (``X . O`` reads like ``X.O``), as are blank lines and lines
    starting with ``#``. ``to_play`` is ``"X"`` or ``"O"``. Any other size or character, or a
    string of stones without liberties, is a ``ValueError`` that says which row and column.
    """
    if to_play not in ("X", "O"):
        raise ValueError(f"to_play must be 'X' (black) or 'O' (white), got {to_play!r}")
    size = checks.whole("size", size, 2, SIZE)
    if not isinstance(text, str):
        raise ValueError(f"text must be a string of rows of . X O, got {type(text).__name__}")
    rows = [line.replace(" ", "").replace("\t", "") for line in text.splitlines()]
    rows = [row for row in rows if row and not row.startswith("#")]
    if len(rows) != size:
        raise ValueError(f"a {size}x{size} board needs {size} rows, got {len(rows)}")
    board = np.zeros((size, size), dtype=np.int8)
    for r, row in enumerate(rows):
        if len(row) != size:
            raise ValueError(f"row {r + 1} has {len(row)} points, expected {size}: {row!r}")
        for c, char in enumerate(row):
            if char not in _SYMBOLS:
                raise ValueError(f"row {r + 1}, column {c + 1}: {char!r} is not a point; "
                                 "use '.' (empty), 'X' (black) or 'O' (white)")
            board[r, c] = _SYMBOLS[char]
    dead = np.argwhere((liberties(board) == 0) & (board != EMPTY))
    if len(dead):
        r, c = (int(v) for v in dead[0])
        colour = "X" if board[r, c] == BLACK else "O"
        raise ValueError(f"the {colour} stone at row {r + 1}, column {c + 1} belongs to a string without liberties: "
                         "it would have been captured, so the position cannot arise")
    return Position(board, _SYMBOLS[to_play])


# --- strings and liberties ------------------------------------------------------------------------


def strings(board: np.ndarray) -> tuple[np.ndarray, int]:
    """Label the strings (4-connected groups of stones of one colour): ``(labels, count)``, label 0
    on empty points. Black and white stones never share a string even when they touch."""
    board = np.asarray(board)
    labels = np.zeros(board.shape, dtype=np.int32)
    count = 0
    for colour in (BLACK, WHITE):
        lab, n = ndimage.label(board == colour)  # the default structure is the 4-neighbour cross
        labels[lab > 0] = lab[lab > 0] + count
        count += n
    return labels, count


def _neighbours(row: int, col: int, size: int):
    for r, c in ((row - 1, col), (row + 1, col), (row, col - 1), (row, col + 1)):
        if 0 <= r < size and 0 <= c < size:
            yield r, c


@dataclass(frozen=True)
class MoveResult:
    """What playing a point would do: ``legal``; ``captured`` opponent stones; the ``liberties``
    and ``size`` of the player's string containing the new stone afterwards."""

    legal: bool
    captured: int = 0
    liberties: int = 0
    size: int = 0


class _Board:
    """One position's strings, each with its stones and its set of liberties, computed once so
    that every empty point's move can be judged locally."""

    def __init__(self, position: Position):
        self.position = position
        board, size = position.board, position.size
        self.labels, count = strings(board)
        self.stones: list[list[tuple[int, int]]] = [[] for _ in range(count + 1)]
        self.libs: list[set[tuple[int, int]]] = [set() for _ in range(count + 1)]
        for r, c in zip(*np.nonzero(self.labels)):
            label = self.labels[r, c]
            self.stones[label].append((int(r), int(c)))
            for nr, nc in _neighbours(int(r), int(c), size):
                if board[nr, nc] == EMPTY:
                    self.libs[label].add((nr, nc))

    def liberties(self) -> np.ndarray:
        counts = np.array([len(s) for s in self.libs], dtype=np.int32)
        return np.where(self.labels > 0, counts[self.labels], 0)

    def move(self, row: int, col: int) -> tuple[MoveResult, set[int]]:
        """The result of playing ``(row, col)`` and the labels of the strings it captures."""
        position, board, size = self.position, self.position.board, self.position.size
        if board[row, col] != EMPTY:
            return MoveResult(False), set()
        own, captured, free = set(), set(), set()
        for r, c in _neighbours(row, col, size):
            label = self.labels[r, c]
            if board[r, c] == EMPTY:
                free.add((r, c))
            elif board[r, c] == position.to_play:
                own.add(label)
            elif self.libs[label] == {(row, col)}:
                captured.add(label)
        merged = {(row, col)}
        for label in own:
            merged.update(self.stones[label])
            free |= self.libs[label]
        free.discard((row, col))
        for label in captured:  # a captured stone next to the new string becomes its liberty
            for r, c in self.stones[label]:
                if any(n in merged for n in _neighbours(r, c, size)):
                    free.add((r, c))
        if not free:
            return MoveResult(False), set()  # suicide
        return MoveResult(True, sum(len(self.stones[label]) for label in captured), len(free), len(merged)), captured


def liberties(board: np.ndarray) -> np.ndarray:
    """For every stone, the number of liberties (distinct empty points next to its string); 0 on
    empty points. A string shares its liberties: every stone of it gets the same number."""
    return _Board(Position(np.asarray(board), BLACK)).liberties()


def play(position: Position, row: int, col: int) -> tuple[MoveResult, np.ndarray]:
    """Place a stone of the side to play at ``(row, col)``: captures opponent strings left without
    liberties, refuses suicide. Returns the result and the board after the move (the input
    board itself is not changed; an illegal move returns it as it was). Ko cannot be judged
    without the previous position and is not checked."""
    _check_point(position, row, col)
    analysis = _Board(position)
    result, captured = analysis.move(row, col)
    if not result.legal:
        return result, position.board
    after = position.board.copy()
    after[row, col] = position.to_play
    for label in captured:
        for r, c in analysis.stones[label]:
            after[r, c] = EMPTY
    return result, after


def is_eye(position: Position, row: int, col: int) -> bool:
    """Whether an empty point is a true eye of the side to play: every neighbour is its stone, and
    of the diagonal points at most one (none on the edge) is the opponent's. Filling one's own eye
    is never sensible."""
    _check_point(position, row, col)
    board, me, size = position.board, position.to_play, position.size
    if board[row, col] != EMPTY or any(board[r, c] != me for r, c in _neighbours(row, col, size)):
        return False
    diagonals = [(row + dr, col + dc) for dr in (-1, 1) for dc in (-1, 1)]
    on_board = [(r, c) for r, c in diagonals if 0 <= r < size and 0 <= c < size]
    hostile = sum(board[r, c] == position.opponent for r, c in on_board)
    return hostile == 0 if len(on_board) < 4 else hostile <= 1


def _check_point(position: Position, row: int, col: int) -> None:
    checks.whole("row", row, 0, position.size - 1)
    checks.whole("col", col, 0, position.size - 1)


def _moves(position: Position) -> dict[tuple[int, int], MoveResult]:
    analysis = _Board(position)
    return {(int(r), int(c)): analysis.move(int(r), int(c))[0] for r, c in zip(*np.nonzero(position.board == EMPTY))}


def legal_moves(position: Position) -> np.ndarray:
    """Boolean ``(size, size)``: empty points where the side to play may place a stone (suicide
    excluded; ko not judged, see :func:`play`)."""
    return _legal_mask(_moves(position), position.board.shape)


def _legal_mask(results: dict[tuple[int, int], MoveResult], shape: tuple[int, ...]) -> np.ndarray:
    legal = np.zeros(shape, dtype=bool)
    for (r, c), result in results.items():
        legal[r, c] = result.legal
    return legal


# --- the 48 input planes -------------------------------------------------------------------------

#: The paper's features in input order: (name, number of planes, computed here?, what it holds).
FEATURES: list[tuple[str, int, bool, str]] = [
    ("stone colour", 3, True, "player's stone / opponent's stone / empty"),
    ("ones", 1, True, "a constant plane of 1s (lets the padded border be told from an empty point)"),
    ("turns since", 8, False, "how many moves ago a stone was played: needs the game's history, "
                              "which a single position does not have; left zero"),
    ("liberties", 8, True, "liberties of the string a stone belongs to: 1, 2, ..., 7, 8 or more"),
    ("capture size", 8, True, "opponent stones a move here would capture: 1, ..., 8 or more "
                              "(no plane set when it captures nothing)"),
    ("self-atari size", 8, True, "own stones left in atari (one liberty) by a move here: 1, ..., 8+"),
    ("liberties after move", 8, True, "liberties of the mover's string after a move here: 1, ..., 8+"),
    ("ladder capture", 1, False, "whether a move here wins a ladder: needs reading the ladder out "
                                 "move by move (a small search); left zero"),
    ("ladder escape", 1, False, "whether a move here escapes a ladder: same search; left zero"),
    ("sensibleness", 1, True, "the move is legal and does not fill the mover's own eye"),
    ("zeros", 1, True, "a constant plane of 0s"),
]


#: Where each feature sits in the 48 planes: ``planes[:, PLANES["liberties"]]``.
PLANES: dict[str, slice] = {}
_start = 0
for _name, _count, _, _ in FEATURES:
    PLANES[_name] = slice(_start, _start + _count)
    _start += _count
del _start, _name, _count


def plane_names() -> list[str]:
    """A name for each of the 48 planes, e.g. ``"liberties 3"``, ``"liberties 8+"``."""
    names = []
    for name, count, _, _ in FEATURES:
        if name == "stone colour":
            names += ["player stones", "opponent stones", "empty points"]
        elif count == 1:
            names.append(name)
        else:
            names += [f"{name} {i}" for i in range(1, count)] + [f"{name} {count}+"]
    return names


def _one_hot(planes: np.ndarray, values: np.ndarray, where: np.ndarray) -> None:
    """Set ``planes[min(v, 8) - 1]`` at every point where ``where`` holds and ``v >= 1``."""
    hit = where & (values >= 1)
    index = np.minimum(values, planes.shape[0]) - 1
    rr, cc = np.nonzero(hit)
    planes[index[rr, cc], rr, cc] = 1


def encode(position: Position) -> torch.Tensor:
    """The 48 input planes ``(48, size, size)`` (float32) of a position, from the side to play.

    Stone colour, ones, liberties, capture size, self-atari size, liberties after move,
    sensibleness and zeros are computed; "turns since" and the two ladder planes stay zero (see
    :data:`FEATURES`). Eight-plane features are one-hot, values of 8 or more in the last plane.
    """
    return _encode(position, _moves(position))


def _encode(position: Position, results: dict[tuple[int, int], MoveResult]) -> torch.Tensor:
    """:func:`encode` with every empty point's move already judged (``_moves``)."""
    board, size = position.board, position.size
    planes = np.zeros((48, size, size), dtype=np.float32)
    planes[0] = board == position.to_play  # stone colour, from the side to play
    planes[1] = board == position.opponent
    planes[2] = board == EMPTY
    planes[PLANES["ones"]] = 1.0
    _one_hot(planes[PLANES["liberties"]], liberties(board), board != EMPTY)
    captured = np.zeros((size, size), dtype=np.int32)
    self_atari = np.zeros((size, size), dtype=np.int32)
    after = np.zeros((size, size), dtype=np.int32)
    sensible = np.zeros((size, size), dtype=bool)
    for (row, col), result in results.items():
        if not result.legal:
            continue
        captured[row, col] = result.captured
        after[row, col] = result.liberties
        if result.liberties == 1:
            self_atari[row, col] = result.size
        sensible[row, col] = not is_eye(position, row, col)
    legal = after > 0
    _one_hot(planes[PLANES["capture size"]], captured, legal)
    _one_hot(planes[PLANES["self-atari size"]], self_atari, legal)
    _one_hot(planes[PLANES["liberties after move"]], after, legal)
    planes[PLANES["sensibleness"]] = sensible
    # "turns since", "ladder capture", "ladder escape" and "zeros" stay zero (see FEATURES)
    return torch.from_numpy(planes)


# --- a task with a known best move ----------------------------------------------------------------


@dataclass
class AtariPositions:
    """Positions where exactly one move captures: ``planes (N, 48, 19, 19)``, the capturing point
    ``moves (N,)`` (row * 19 + column), ``legal (N, 361)`` and the positions themselves."""

    planes: torch.Tensor
    moves: torch.Tensor
    legal: torch.Tensor
    positions: list[Position]


def atari_positions(n: int, seed: int = 0, density: float = 0.12, size: int = SIZE) -> AtariPositions:
    """``n`` random positions in which the side to play can capture, at exactly one point.

    Stones of both colours are scattered (each point black or white with probability
    ``density``); a board is kept when exactly one legal move captures something, and that move is
    the answer. Repeatable: the same ``seed`` gives the same positions. About a third of the boards
    qualify at the default density; if fewer than one in a hundred do (a density far from it), the
    search stops with an error instead of running for ever.
    """
    n, size = checks.whole("n", n, 1), checks.whole("size", size, 2, SIZE)
    # each colour's share of the points; at 0.5 or more no point would be left empty
    density = checks.number("density", density, low=0, high=0.5, low_open=True, high_open=True)
    rng = np.random.default_rng(seed)
    planes, moves, legal, positions = [], [], [], []
    tries = 0
    while len(positions) < n:
        tries += 1
        if tries > 1000 and len(positions) < tries / 100:
            raise RuntimeError(f"only {len(positions)} of {tries - 1} random {size}x{size} boards at density {density} "
                               f"had exactly one capturing move, too few to find {n}; try a density near 0.12")
        draw = rng.random((size, size))
        board = np.where(draw < density, BLACK, np.where(draw < 2 * density, WHITE, EMPTY)).astype(np.int8)
        to_play = BLACK if rng.random() < 0.5 else WHITE
        position = Position(board, to_play)
        results = _moves(position)
        captures = [point for point, result in results.items() if result.captured > 0]
        if len(captures) != 1:
            continue
        (r, c), = captures
        positions.append(position)
        moves.append(int(r) * size + int(c))
        planes.append(_encode(position, results))
        legal.append(torch.from_numpy(_legal_mask(results, board.shape)).flatten())
    return AtariPositions(torch.stack(planes), torch.tensor(moves), torch.stack(legal), positions)



def fit(net: PolicyNetwork, planes: torch.Tensor, moves: torch.Tensor, legal: torch.Tensor | None = None,
        epochs: int = 5, lr: float = 1e-3, batch_size: int = 32, seed: int = 0) -> list[float]:
    """Supervised learning of moves, as the paper's SL policy network was trained (on expert
    moves; here on whatever ``moves`` holds): Adam on the negative log-likelihood of the move,
    illegal points masked. Repeatable for a given ``seed``; returns the mean loss of each epoch."""
    if len(planes) != len(moves) or (legal is not None and len(legal) != len(moves)):
        raise ValueError(f"planes, moves and legal must hold the same number of positions, got "
                         f"{len(planes)}, {len(moves)} and {len(legal) if legal is not None else '-'}")
    _check_positions(planes, moves)
    epochs, batch_size = checks.whole("epochs", epochs, 1), checks.whole("batch_size", batch_size, 1)
    lr = checks.number("lr", lr, low=0, low_open=True)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    was_training = net.training
    before = copy.deepcopy(net.state_dict())
    net.train()
    losses = []
    try:
        for epoch in range(epochs):
            order = torch.randperm(len(planes), generator=generator)
            total = 0.0
            for start in range(0, len(planes), batch_size):
                batch = order[start:start + batch_size]
                mask = legal[batch] if legal is not None else None
                loss = F.nll_loss(net(planes[batch], mask), moves[batch])
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"the loss became {loss.item()} in epoch {epoch + 1} (is lr={lr:g} too "
                                             "large, or is a move illegal under its mask?); the network keeps the "
                                             "weights it had before fit")
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += loss.item() * len(batch)
            losses.append(total / len(planes))
            checks.finite_weights(net, epoch, lr)
    except BaseException:
        net.load_state_dict(before)
        raise
    finally:
        net.train(was_training)
        net.zero_grad(set_to_none=True)
    return losses


def _check_positions(planes: torch.Tensor, moves: torch.Tensor) -> None:
    if len(planes) == 0:
        raise ValueError("planes holds no positions")
    if len(planes) != len(moves):
        raise ValueError(f"planes holds {len(planes)} positions but moves holds {len(moves)}")
    checks.finite("planes", planes)
    points = planes.shape[-1] * planes.shape[-2]
    if int(moves.min()) < 0 or int(moves.max()) >= points:
        raise ValueError(f"moves must be points 0 to {points - 1} (row * {planes.shape[-1]} + column), got values "
                         f"from {int(moves.min())} to {int(moves.max())}")


@torch.no_grad()
def accuracy(net: PolicyNetwork, planes: torch.Tensor, moves: torch.Tensor, legal: torch.Tensor | None = None,
             batch_size: int = 256) -> float:
    """Fraction of positions where the network's most probable point is ``moves``."""
    _check_positions(planes, moves)
    batch_size = checks.whole("batch_size", batch_size, 1)
    was_training = net.training
    net.eval()
    try:
        hits = 0
        for start in range(0, len(planes), batch_size):
            mask = legal[start:start + batch_size] if legal is not None else None
            hits += (net(planes[start:start + batch_size], mask).argmax(1) == moves[start:start + batch_size]).sum().item()
    finally:
        net.train(was_training)
    return hits / len(planes)
