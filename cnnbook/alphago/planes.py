"""The 48 input planes of AlphaGo's policy network (Silver et al., Nature 529, 2016, Extended Data
Table 2): what each feature holds, where it sits, and :func:`encode`, which computes them for one
position, seen from the side to play. Used by chapter 11 (``book/11-alphago.md``).

Planes that need a game history (turns since a move) or a search (ladders) are left zero;
:data:`FEATURES` says which and why.
"""

from __future__ import annotations

import numpy as np
import torch

from .go import EMPTY, LibertyAnalysis, MoveResult, Position, eyes, move_results

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


def encode(position: Position, results: dict[tuple[int, int], MoveResult] | None = None,
           analysis: LibertyAnalysis | None = None) -> torch.Tensor:
    """The 48 input planes ``(48, size, size)`` (float32) of a position, from the side to play.

    Stone colour, ones, liberties, capture size, self-atari size, liberties after move,
    sensibleness and zeros are computed; "turns since" and the two ladder planes stay zero (see
    :data:`FEATURES`). Eight-plane features are one-hot, values of 8 or more in the last plane.
    ``results``, every empty point's move already judged by :func:`~cnnbook.alphago.go.move_results`,
    saves judging them again; by default they are judged here. ``analysis``, the position's
    :class:`~cnnbook.alphago.go.LibertyAnalysis`, likewise saves computing its strings again.
    """
    analysis = LibertyAnalysis(position) if analysis is None else analysis
    if results is None:
        results = move_results(position, analysis)
    board, size = position.board, position.size
    planes = np.zeros((48, size, size), dtype=np.float32)
    planes[0] = board == position.to_play  # stone colour, from the side to play
    planes[1] = board == position.opponent
    planes[2] = board == EMPTY
    planes[PLANES["ones"]] = 1.0
    _one_hot(planes[PLANES["liberties"]], analysis.liberty_counts(), board != EMPTY)
    captured = np.zeros((size, size), dtype=np.int32)
    self_atari = np.zeros((size, size), dtype=np.int32)
    after = np.zeros((size, size), dtype=np.int32)
    eye = eyes(position)
    for (row, col), result in results.items():
        if not result.legal:
            continue
        captured[row, col] = result.captured
        after[row, col] = result.liberties
        if result.liberties == 1:
            self_atari[row, col] = result.stones
    legal = after > 0
    _one_hot(planes[PLANES["capture size"]], captured, legal)
    _one_hot(planes[PLANES["self-atari size"]], self_atari, legal)
    _one_hot(planes[PLANES["liberties after move"]], after, legal)
    planes[PLANES["sensibleness"]] = legal & ~eye  # legal and not filling an own eye
    # "turns since", "ladder capture", "ladder escape" and "zeros" stay zero (see FEATURES)
    return torch.from_numpy(planes)
