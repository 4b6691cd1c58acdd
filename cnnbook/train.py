"""Small networks and a plain training loop, for experiments that run in seconds on a CPU.

Used by chapters 1 and 6 to 10. The loop, :func:`fit_batches`, also trains the Go policy network
of :mod:`cnnbook.alphago` (:func:`cnnbook.alphago.fit`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from . import checks


def mlp(in_shape: tuple[int, int, int], hidden: int = 128, classes: int = 10) -> nn.Sequential:
    """A one-hidden-layer perceptron: every hidden unit sees every pixel."""
    channels, height, width = (checks.whole(f"in_shape[{i}]", n, 1) for i, n in enumerate(in_shape))
    hidden, classes = checks.whole("hidden", hidden, 1), checks.whole("classes", classes, 1)
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(channels * height * width, hidden),
        nn.ReLU(),
        nn.Linear(hidden, classes),
    )


def small_cnn(in_channels: int = 1, widths: tuple[int, int] = (32, 64), classes: int = 10) -> nn.Sequential:
    """Two 3x3 convolutions, a 2x2 max pool between them, then the strongest response per channel.

    The final global max pool makes the prediction depend on *whether* a pattern occurs, not where.
    """
    first, second = (checks.whole(f"widths[{i}]", n, 1) for i, n in enumerate(widths))
    in_channels, classes = checks.whole("in_channels", in_channels, 1), checks.whole("classes", classes, 1)
    return nn.Sequential(
        nn.Conv2d(in_channels, first, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(first, second, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.AdaptiveMaxPool2d(1),
        nn.Flatten(),
        nn.Linear(second, classes),
    )


def digits_cnn(
    in_shape: tuple[int, int, int] = (1, 28, 28),
    widths: tuple[int, int] = (25, 50),
    hidden: int = 100,
    classes: int = 10,
) -> nn.Sequential:
    """The lecture's handwritten-digit CNN, with a fully connected hidden layer inside it.

    Two blocks of (3x3 convolution without padding, ReLU, 2x2 max pooling), then flatten, a fully
    connected layer of ``hidden`` ReLU units and the output layer. On a 28x28 input the second
    convolution (layer ``"3"``) gives ``widths[1]`` maps of 11x11 and the flattened features are
    ``widths[1] * 5 * 5``. Layer names: ``"0"`` and ``"3"`` the convolutions, ``"7"`` the hidden
    layer (before its ReLU ``"8"``), ``"9"`` the class scores. On 28x28 the second pooling drops
    the last row and column of the 11x11 maps (floor), so the input's last two rows and columns
    never affect the output; with a side of the form 4n + 2, such as 26, every size along the way
    is even and no pixel is left out.

    Unlike :func:`small_cnn`, whose global max pool keeps one position per channel, every position
    of the last feature maps has its own weights into the hidden layer: a class score or a hidden
    neuron depends on the whole image, as in the fully connected part of AlexNet or VGG.
    """
    if not isinstance(in_shape, (tuple, list)) or len(in_shape) != 3:
        raise ValueError(f"in_shape must be (channels, height, width), got {in_shape!r}")
    channels, height, width = (checks.whole(f"in_shape[{i}]", n, 1 if i == 0 else 10)
                               for i, n in enumerate(in_shape))
    if not isinstance(widths, (tuple, list)) or len(widths) != 2:
        raise ValueError(f"widths must be two numbers (channels of the two convolutions), got {widths!r}")
    first, second = (checks.whole(f"widths[{i}]", n, 1) for i, n in enumerate(widths))
    hidden, classes = checks.whole("hidden", hidden, 1), checks.whole("classes", classes, 1)
    # each block: the 3x3 convolution loses 2 pixels per side length, the pooling halves (floor)
    side_h, side_w = ((height - 2) // 2 - 2) // 2, ((width - 2) // 2 - 2) // 2
    return nn.Sequential(
        nn.Conv2d(channels, first, kernel_size=3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(first, second, kernel_size=3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(second * side_h * side_w, hidden),
        nn.ReLU(),
        nn.Linear(hidden, classes),
    )


def count_parameters(model: nn.Module) -> int:
    """Number of trainable numbers in ``model`` (works on the ``meta`` device, without memory)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def fit(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
) -> list[float]:
    """Train with Adam and cross-entropy on shuffled mini-batches; return the mean loss per epoch.

    If the loss stops being a finite number (a learning rate far too large, say), training stops
    with an error and the model gets back the weights it had before the call. The model is left in
    eval mode with no ``.grad``, ready to be evaluated (the loop is :func:`fit_batches`).
    """
    checks.batch("x", x)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)} labels")
    loss_fn = nn.CrossEntropyLoss()

    def batch_loss(batch: torch.Tensor) -> torch.Tensor:
        logits = checks.forward(model, x[batch])
        _check_labels(y[batch], logits.shape[1])
        return loss_fn(logits, y[batch])

    return fit_batches(model, len(x), batch_loss, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)


def fit_batches(
    model: nn.Module,
    n: int,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int = 0,
    also_suspect: str | None = None,
) -> list[float]:
    """The training loop of :func:`fit` and :func:`cnnbook.alphago.fit`: Adam on shuffled
    mini-batches of the examples ``0 .. n - 1``, where ``batch_loss(indices)`` is the mean loss
    of the examples ``indices``. Returns the mean loss of each epoch; the same ``seed`` gives the
    same batches.

    If the loss or a weight stops being a finite number, training stops with a
    ``FloatingPointError`` (its message asks whether ``lr`` is too large, and ``also_suspect``
    if given) and the model gets back the weights it had before the call. However it ends, the
    model is left in eval mode, with no ``.grad`` on its parameters.
    """
    epochs, batch_size = checks.whole("epochs", epochs, 1), checks.whole("batch_size", batch_size, 1)
    lr = checks.number("lr", lr, low=0, low_open=True)
    suspects = f"is lr={lr:g} too large" + (f", or {also_suspect}" if also_suspect else "")
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    before = copy.deepcopy(model.state_dict())
    model.train()
    history = []
    try:
        for epoch in range(epochs):
            order = torch.randperm(n, generator=generator)
            total = 0.0
            for start in range(0, n, batch_size):
                batch = order[start : start + batch_size]
                loss = batch_loss(batch)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"the loss became {loss.item()} in epoch {epoch + 1} ({suspects}?); "
                                             "the model keeps the weights it had before fit")
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += loss.item() * len(batch)
            history.append(total / n)
            checks.finite_weights(model, epoch, lr)
    except BaseException:
        model.load_state_dict(before)
        raise
    finally:
        model.eval()
        model.zero_grad(set_to_none=True)
    return history


def _check_labels(y: torch.Tensor, classes: int) -> None:
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= classes):
        raise ValueError(f"y holds labels from {int(y.min())} to {int(y.max())}, but the model has {classes} "
                         f"classes (labels 0 to {classes - 1})")


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> float:
    """Fraction of ``x`` that ``model`` labels correctly (evaluated in eval mode, without
    gradients, ``batch_size`` images at a time so that memory does not grow with ``len(x)``)."""
    checks.batch("x", x)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} images but y has {len(y)} labels")
    batch_size = checks.whole("batch_size", batch_size, 1)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            correct = sum((model(x[i:i + batch_size]).argmax(dim=1) == y[i:i + batch_size]).sum().item()
                          for i in range(0, len(x), batch_size))
    finally:
        model.train(was_training)
    return correct / len(y)


def accuracy_under_shift(model: nn.Module, x: torch.Tensor, y: torch.Tensor, distance: int) -> float:
    """Mean accuracy over the four copies of ``x`` moved ``distance`` pixels right, left, down, up."""
    from .datasets import shift

    if distance == 0:
        return accuracy(model, x, y)
    moves = [(distance, 0), (-distance, 0), (0, distance), (0, -distance)]
    return sum(accuracy(model, shift(x, dx, dy), y) for dx, dy in moves) / len(moves)


class ConvBlock(nn.Module):
    """Two 3x3 convolutions with batch norm; with ``residual=True`` the input is added back
    before the last ReLU, as in ResNet's BasicBlock (shapes never change, so no downsample)."""

    def __init__(self, width: int, residual: bool):
        super().__init__()
        self.residual = residual
        self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + x
        return self.relu(out)


def deep_cnn(blocks: int, residual: bool, width: int = 16, in_channels: int = 1, classes: int = 10) -> nn.Sequential:
    """A stem convolution, ``blocks`` ConvBlocks (2 conv layers each), global average pooling and a
    linear classifier: ``2 * blocks + 2`` weighted layers, plain or residual."""
    blocks, width = checks.whole("blocks", blocks, 1), checks.whole("width", width, 1)
    in_channels, classes = checks.whole("in_channels", in_channels, 1), checks.whole("classes", classes, 1)
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        *[ConvBlock(width, residual) for _ in range(blocks)],
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, classes),
    )


def shapes_cnn(classes: int = 3) -> nn.Sequential:
    """Three 3x3 convolutions (16, 32, 64 channels, max pooling after the first two), global
    average pooling and a linear layer: small enough to train on the shapes data in seconds.
    Its last convolution's ReLU, ``"7"``, is the natural Grad-CAM layer."""
    classes = checks.whole("classes", classes, 1)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes),
    )
