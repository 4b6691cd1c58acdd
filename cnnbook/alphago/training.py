"""Supervised learning of moves, as AlphaGo's SL policy network was trained on expert moves, and
the accuracy it is measured by: how often the network's most probable point is the move played.

Used by chapter 11 (``book/11-alphago.md``), which trains on the captures of
:mod:`cnnbook.alphago.atari`. The training loop itself is :func:`cnnbook.train.fit_batches`, the
one the book's other small networks are trained with; this module supplies the loss of a batch of
moves.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import checks, train
from .policy import PolicyNetwork


def fit(net: PolicyNetwork, planes: torch.Tensor, moves: torch.Tensor, legal: torch.Tensor | None = None,
        epochs: int = 5, lr: float = 1e-3, batch_size: int = 32, seed: int = 0) -> list[float]:
    """Adam on the negative log-likelihood of the move, illegal points masked; returns the mean loss
    of each epoch. Repeatable for a given ``seed``. As with :func:`cnnbook.train.fit`, a loss that
    stops being finite gives the network back the weights it had before the call, and the network
    is left in eval mode with no ``.grad`` (see :func:`cnnbook.train.fit_batches`)."""
    if len(planes) != len(moves) or (legal is not None and len(legal) != len(moves)):
        raise ValueError(f"planes, moves and legal must hold the same number of positions, got "
                         f"{len(planes)}, {len(moves)} and {len(legal) if legal is not None else '-'}")
    _check_positions(planes, moves)

    def batch_loss(batch: torch.Tensor) -> torch.Tensor:
        mask = legal[batch] if legal is not None else None
        return F.nll_loss(net(planes[batch].contiguous(memory_format=torch.channels_last), mask), moves[batch])

    # Channels-last is the layout oneDNN computes these small convolutions fastest in on a CPU (about
    # a fifth less time per step); the weights get their usual layout back afterwards.
    net.to(memory_format=torch.channels_last)
    try:
        return train.fit_batches(net, len(planes), batch_loss, epochs=epochs, batch_size=batch_size, lr=lr,
                                 seed=seed, also_suspect="is a move illegal under its mask")
    finally:
        net.to(memory_format=torch.contiguous_format)


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
    """Fraction of positions where the network's most probable point is ``moves`` (evaluated in
    eval mode; the network's training flag is restored afterwards)."""
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
