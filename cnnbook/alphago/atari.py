"""A Go task whose right answer is known: random positions in which exactly one move captures, for
checking that the policy network learns a Go pattern. Used by chapter 11 (``book/11-alphago.md``,
"Does it learn? Capturing a string in atari")."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import checks
from .go import BLACK, EMPTY, SIZE, WHITE, LibertyAnalysis, Position, legal_mask, move_results, strings
from .planes import encode


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
        captures = capturing_points(position)  # whole-board arithmetic: most boards stop here
        if len(captures) != 1:
            continue
        (r, c), = captures
        analysis = LibertyAnalysis(position)  # one analysis serves the moves and the planes
        results = move_results(position, analysis)
        positions.append(position)
        moves.append(int(r) * size + int(c))
        planes.append(encode(position, results, analysis))
        legal.append(torch.from_numpy(legal_mask(results, board.shape)).flatten())
    return AtariPositions(torch.stack(planes), torch.tensor(moves), torch.stack(legal), positions)


def capturing_points(position: Position, analysis: LibertyAnalysis | None = None) -> set[tuple[int, int]]:
    """The points where the side to play captures: the last liberty of each opponent string in
    atari (a move that captures is always legal). Far cheaper than judging every point's move, so
    most random boards are turned down before :func:`move_results` runs. With ``analysis`` (the
    position's :class:`~cnnbook.alphago.go.LibertyAnalysis`) it is read from there; without, it is
    computed for the whole board at once: every (opponent string, empty neighbour) pair, counted
    per string."""
    if analysis is not None:
        return {next(iter(free)) for stones, free in zip(analysis.stones, analysis.liberty_points)
                if len(free) == 1 and stones and position.board[stones[0]] == position.opponent}
    board, size = position.board, position.size
    labels, _ = strings(board)
    theirs = np.pad(np.where(board == position.opponent, labels, 0), 1)  # 0: no opponent stone, or off the board
    empty = board == EMPTY
    points = np.arange(size * size).reshape(size, size)
    pairs = []
    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        neighbour = theirs[1 + dr:1 + dr + size, 1 + dc:1 + dc + size]
        touching = empty & (neighbour > 0)
        pairs.append(neighbour[touching].astype(np.int64) * (size * size) + points[touching])
    pairs = np.unique(np.concatenate(pairs))  # each (string, liberty) once
    strings_of, liberty = np.divmod(pairs, size * size)
    in_atari = np.bincount(strings_of)[strings_of] == 1
    return {(int(p) // size, int(p) % size) for p in liberty[in_atari]}
