"""AlphaGo's SL policy network p_sigma (Silver et al., Nature 529, 2016, Methods, "Neural network
architecture"), built layer by layer as the paper writes it, and its parameter count. Used by
chapter 11 (``book/11-alphago.md``).

The 19x19x48 stack of feature planes is zero-padded to 23x23 and convolved with ``k`` 5x5
filters; layers 2 to 12 zero-pad to 21x21 and convolve ``k`` 3x3 filters; every one of these is
followed by a ReLU. Layer 13 is a 1x1 convolution with one filter and a different bias for each
board point, and a softmax over the 361 points gives the move probabilities. There is no pooling
anywhere: every point of the board matters.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from .. import checks
from .go import SIZE


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
