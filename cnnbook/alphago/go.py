"""The rules of Go that AlphaGo's input planes need: a position, its strings and their liberties,
what a move would capture, suicide, eyes and the legal moves. Used by chapter 11
(``book/11-alphago.md``) and, through :mod:`cnnbook.alphago.planes`, by the network's input.

A position is written as text, one line per row, ``.`` for an empty point, ``X`` for black and
``O`` for white, and :func:`parse` reads it. Points are ``(row, col)``, counted from 0 at the top
left. Ko needs the previous position and is never judged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .. import checks

SIZE = 19
EMPTY, BLACK, WHITE = 0, 1, 2
SYMBOLS = {".": EMPTY, "X": BLACK, "O": WHITE}


# --- positions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """A board ``(size, size)`` of ``EMPTY``/``BLACK``/``WHITE`` and the colour to play."""

    board: np.ndarray
    to_play: int

    @property
    def size(self) -> int:
        """The board's width in points (19 for a full board)."""
        return self.board.shape[0]

    @property
    def opponent(self) -> int:
        return BLACK + WHITE - self.to_play

    def __str__(self) -> str:
        symbol = {v: k for k, v in SYMBOLS.items()}
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
            if char not in SYMBOLS:
                raise ValueError(f"row {r + 1}, column {c + 1}: {char!r} is not a point; "
                                 "use '.' (empty), 'X' (black) or 'O' (white)")
            board[r, c] = SYMBOLS[char]
    dead = np.argwhere((liberties(board) == 0) & (board != EMPTY))
    if len(dead):
        r, c = (int(v) for v in dead[0])
        colour = "X" if board[r, c] == BLACK else "O"
        raise ValueError(f"the {colour} stone at row {r + 1}, column {c + 1} belongs to a string without liberties: "
                         "it would have been captured, so the position cannot arise")
    return Position(board, SYMBOLS[to_play])


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
    """What playing a point would do: ``legal``; the number of opponent stones ``captured``; the
    ``liberties`` and the number of ``stones`` of the player's string holding the new stone
    afterwards (the new stone and every own string it joins)."""

    legal: bool
    captured: int = 0
    liberties: int = 0
    stones: int = 0


class LibertyAnalysis:
    """One position's strings, each with its stones and its set of liberties, computed once so
    that every empty point's move can be judged locally.

    ``labels`` is :func:`strings`' label map; for a label, ``stones[label]`` lists the string's
    points and ``liberty_points[label]`` is the set of its liberties.
    """

    def __init__(self, position: Position):
        self.position = position
        board, size = position.board, position.size
        self.labels, count = strings(board)
        self.stones: list[list[tuple[int, int]]] = [[] for _ in range(count + 1)]
        self.liberty_points: list[set[tuple[int, int]]] = [set() for _ in range(count + 1)]
        for r, c in zip(*np.nonzero(self.labels)):
            label = self.labels[r, c]
            self.stones[label].append((int(r), int(c)))
            for nr, nc in _neighbours(int(r), int(c), size):
                if board[nr, nc] == EMPTY:
                    self.liberty_points[label].add((nr, nc))

    def liberty_counts(self) -> np.ndarray:
        """For every stone, its string's number of liberties; 0 on empty points."""
        counts = np.array([len(s) for s in self.liberty_points], dtype=np.int32)
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
            elif self.liberty_points[label] == {(row, col)}:
                captured.add(label)
        merged = {(row, col)}
        for label in own:
            merged.update(self.stones[label])
            free |= self.liberty_points[label]
        free.discard((row, col))
        for label in captured:  # a captured stone next to the new string becomes its liberty
            for r, c in self.stones[label]:
                if any(n in merged for n in _neighbours(r, c, size)):
                    free.add((r, c))
        if not free:
            return MoveResult(False), set()  # suicide
        taken = sum(len(self.stones[label]) for label in captured)
        return MoveResult(True, captured=taken, liberties=len(free), stones=len(merged)), captured


def liberties(board: np.ndarray) -> np.ndarray:
    """For every stone, the number of liberties (distinct empty points next to its string); 0 on
    empty points. A string shares its liberties: every stone of it gets the same number."""
    return LibertyAnalysis(Position(np.asarray(board), BLACK)).liberty_counts()


# --- moves ------------------------------------------------------------------------------------------


def play(position: Position, row: int, col: int) -> tuple[MoveResult, np.ndarray]:
    """Place a stone of the side to play at ``(row, col)``: captures opponent strings left without
    liberties, refuses suicide. Returns the result and the board after the move (the input
    board itself is not changed; an illegal move returns it as it was). Ko cannot be judged
    without the previous position and is not checked."""
    _check_point(position, row, col)
    analysis = LibertyAnalysis(position)
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


def eyes(position: Position) -> np.ndarray:
    """Boolean ``(size, size)``: :func:`is_eye` at every point at once (whole-board array
    arithmetic instead of one Python call per point)."""
    board, me = position.board, position.to_play
    off = 99  # beyond the edge: no colour
    padded = np.pad(board.astype(np.int16), 1, constant_values=off)
    n = board.shape[0]

    def shifted(dr: int, dc: int) -> np.ndarray:
        return padded[1 + dr:1 + dr + n, 1 + dc:1 + dc + n]

    walled = np.ones(board.shape, dtype=bool)
    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        neighbour = shifted(dr, dc)
        walled &= (neighbour == me) | (neighbour == off)
    diagonals = [shifted(dr, dc) for dr in (-1, 1) for dc in (-1, 1)]
    hostile = sum((d == position.opponent).astype(np.int8) for d in diagonals)
    on_board = sum((d != off).astype(np.int8) for d in diagonals)
    return (board == EMPTY) & walled & np.where(on_board < 4, hostile == 0, hostile <= 1)


def _check_point(position: Position, row: int, col: int) -> None:
    checks.whole("row", row, 0, position.size - 1)
    checks.whole("col", col, 0, position.size - 1)


def move_results(position: Position, analysis: LibertyAnalysis | None = None) -> dict[tuple[int, int], MoveResult]:
    """What a move of the side to play would do at every empty point, ``{(row, col): result}``:
    one :class:`LibertyAnalysis` serves them all (pass ``analysis`` if you already have the
    position's)."""
    analysis = LibertyAnalysis(position) if analysis is None else analysis
    board, size = position.board, position.size
    padded = np.pad(board, 1, constant_values=-1)  # -1: beyond the edge
    around = [padded[1 + dr:1 + dr + size, 1 + dc:1 + dc + size] for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))]
    empty_around = sum((a == EMPTY).astype(np.int8) for a in around)
    stone_around = np.any([(a == BLACK) | (a == WHITE) for a in around], axis=0)
    results = {}
    for r, c in zip(*np.nonzero(board == EMPTY)):
        r, c = int(r), int(c)
        if stone_around[r, c]:
            results[(r, c)] = analysis.move(r, c)[0]
        else:  # no stone next to it: a lone new stone, its liberties its empty neighbours
            results[(r, c)] = MoveResult(True, captured=0, liberties=int(empty_around[r, c]), stones=1)
    return results


def legal_mask(results: dict[tuple[int, int], MoveResult], shape: tuple[int, ...]) -> np.ndarray:
    """Boolean ``shape``: the points whose result in ``results`` (from :func:`move_results`) is legal."""
    legal = np.zeros(shape, dtype=bool)
    for (r, c), result in results.items():
        legal[r, c] = result.legal
    return legal


def legal_moves(position: Position) -> np.ndarray:
    """Boolean ``(size, size)``: empty points where the side to play may place a stone (suicide
    excluded; ko not judged, see :func:`play`)."""
    return legal_mask(move_results(position), position.board.shape)
