"""AlphaGo's policy network and the board features it reads (Silver et al., Nature 529, 2016).

Used by chapter 11 (``book/11-alphago.md``). One concept per module:

- :mod:`~cnnbook.alphago.go`: the rules of Go the features need (positions, strings, liberties,
  captures, eyes, legal moves);
- :mod:`~cnnbook.alphago.planes`: the paper's 48 input planes and :func:`encode`;
- :mod:`~cnnbook.alphago.policy`: the 13-layer policy network and its parameter count;
- :mod:`~cnnbook.alphago.atari`: random positions with exactly one capturing move, a task whose
  answer is known;
- :mod:`~cnnbook.alphago.training`: supervised learning of moves and its accuracy.

Every public name is also here, so the chapter writes ``alphago.PolicyNetwork``, ``alphago.parse``,
``alphago.encode`` and so on.
"""

from .atari import AtariPositions, atari_positions
from .go import (BLACK, EMPTY, SIZE, SYMBOLS, WHITE, LibertyAnalysis, MoveResult, Position, eyes, is_eye, legal_mask,
                 legal_moves, liberties, move_results, parse, play, strings)
from .planes import FEATURES, PLANES, encode, plane_names
from .policy import PolicyNetwork, PositionBias, parameter_count
from .training import accuracy, fit

__all__ = [
    "SIZE", "EMPTY", "BLACK", "WHITE", "SYMBOLS",
    "Position", "parse", "strings", "liberties", "MoveResult", "LibertyAnalysis", "play", "is_eye", "eyes",
    "move_results", "legal_mask", "legal_moves",
    "FEATURES", "PLANES", "plane_names", "encode",
    "PositionBias", "PolicyNetwork", "parameter_count",
    "AtariPositions", "atari_positions", "fit", "accuracy",
]
