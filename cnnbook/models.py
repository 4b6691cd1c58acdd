"""Pretrained torchvision networks, loaded offline-honestly, and what the chapters do with them
(preprocessing, top-k predictions, metadata). Used by the preface, the homework and chapters 5 to 10.

``load("alexnet")`` returns the network with its ImageNet weights when they can be had (getting
and checking the checkpoint is :mod:`cnnbook.weights`'s job). When they cannot be had, what
happens depends on the mode:

* default: a warning (in a notebook, a visible box on the page) and an *untrained* network with
  ``model.is_pretrained = False``, so the book still builds and says so;
* ``CNNBOOK_REQUIRE_WEIGHTS=1`` (publishing mode): :class:`~cnnbook.weights.WeightsUnavailableError`,
  naming the model, the file and the URL.

A damaged checkpoint is an error naming the command that replaces it. A loaded network owns its
weights: changing or deleting the file afterwards does not touch it. :func:`default_weights` and
:func:`weights_available` come from :mod:`cnnbook.weights`, for the chapters that call them here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol, cast, runtime_checkable

import torch
import torchvision
from PIL import Image
from torch import nn
from torchvision.models import WeightsEnum

from . import checks, notice
from .notice import UntrainedNetworkWarning
from .weights import (
    REQUIRE_WEIGHTS_ENV,
    UNTRAINED_SEED,
    DamagedCheckpointError,
    WeightsUnavailableError,
    checkpoint_path,
    default_weights,
    fetch,
    require_weights,
    verify,
    weights_available,
)

#: The networks the book's chapters load; ``python -m cnnbook download-weights`` fetches these.
BOOK_MODELS: tuple[str, ...] = ("alexnet", "vgg16", "resnet18")


def release_freed_memory() -> None:
    """Give memory that Python and PyTorch have freed back to the operating system.

    After a chapter trains a small network, glibc's allocator keeps the freed heap (on this book's
    chapters, a few hundred MB) for reuse, and the process's resident memory stays high; loading a
    large pretrained network on top of that is what pushes a chapter over its memory budget. This
    collects garbage and asks glibc to return free pages (``malloc_trim``); elsewhere it only
    collects garbage.
    """
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl)
        pass


@runtime_checkable
class LoadedNetwork(Protocol):
    """What :func:`load` returns: torchvision's own network (an ``nn.Module`` such as ``AlexNet``,
    ``VGG`` or ``ResNet``, in evaluation mode) with two attributes that :func:`load` adds.

    It is used like any module: ``model(x)`` gives the class scores ``(B, 1000)`` of a batch
    ``(B, 3, 224, 224)``, its layers keep torchvision's names (``model.features[0]``, found as
    ``"features.0"``), and ``model.eval()``, ``model.parameters()`` and the rest work as usual.

    Attributes:
        is_pretrained: True when the ImageNet weights were loaded; False for a network with
            random weights (no weights to be had offline), whose predictions mean nothing.
        weights: torchvision's weights enum for this network, set even when it is untrained:
            ``weights.transforms()`` is the preprocessing it was trained with and
            ``weights.meta["categories"]`` its 1000 class names.

    ``isinstance(model, LoadedNetwork)`` checks that both attributes are there.
    """

    is_pretrained: bool
    weights: WeightsEnum

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...

    def __getattr__(self, name: str) -> Any: ...  # everything else an nn.Module has


def load(name: str) -> LoadedNetwork:
    """The torchvision model ``name`` in evaluation mode, pretrained when the weights can be had.

    What it returns is described by :class:`LoadedNetwork`: the ``nn.Module`` itself, carrying
    ``is_pretrained`` (bool) and ``weights`` (the torchvision weights enum, whose ``transforms()``
    and ``meta["categories"]`` describe the ImageNet training even when the network itself is
    untrained).

    Raises :class:`~cnnbook.weights.DamagedCheckpointError` for a cached file that fails its
    hash check and :class:`~cnnbook.weights.WeightsUnavailableError` for one that cannot be
    loaded, or in publishing mode for one that cannot be had.
    """
    weights = default_weights(name)
    path, why = fetch(weights)
    release_freed_memory()  # room for hundreds of MB of weights (VGG16: 528 MB)
    if path is not None:
        # Build the network on the meta device (no memory, no random init) and let it take over
        # the tensors read from the file: one copy of the weights, not two, and the model owns
        # them (a memory-mapped file would tie the model to a file that may change or vanish).
        try:
            verify(path)
        except DamagedCheckpointError as err:
            raise DamagedCheckpointError(f"{err}. Run `python -m cnnbook download-weights {name}` to replace it "
                                         f"with the one from {weights.url}") from None
        with torch.device("meta"):
            model = torchvision.models.get_model(name, weights=None)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(state, assign=True)
            del state
        except Exception as err:
            first_line = str(err).strip().splitlines()[0][:160] if str(err).strip() else ""
            raise WeightsUnavailableError(
                f"the checkpoint {path} for {name!r} could not be loaded, it looks damaged or is not "
                f"a {name} checkpoint ({type(err).__name__}: {first_line}); run "
                f"`python -m cnnbook download-weights {name}` to replace it with the one from {weights.url}"
            ) from err
        model.is_pretrained = True
    else:
        if require_weights():
            raise WeightsUnavailableError(
                f"{REQUIRE_WEIGHTS_ENV}=1 but the pretrained weights for {name!r} are missing: "
                f"{why}. Expected file: {checkpoint_path(weights)}; URL: {weights.url}. "
                "Run `python -m cnnbook download-weights` on a machine with internet access."
            )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(UNTRAINED_SEED)
            model = torchvision.models.get_model(name, weights=None)
        model.is_pretrained = False
        notice.untrained(name, reason=why, file=str(checkpoint_path(weights)), url=weights.url)
    model.weights = weights
    return cast(LoadedNetwork, model.eval())


def lecture_transform() -> Callable[[Image.Image], torch.Tensor]:
    """The lecture's preprocessing: resize to 224, centre crop 224, scale to [0, 1], then
    normalise every channel with mean 0.5 and std 0.5 (so values lie in [-1, 1])."""
    from torchvision import transforms

    return transforms.Compose([
        transforms.Resize(224),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5]),
    ])


def preprocess(image: Image.Image, weights: WeightsEnum | None = None, lecture: bool = False) -> torch.Tensor:
    """A PIL image as the ``(1, 3, 224, 224)`` batch a network takes.

    By default with the preprocessing the weights were trained with (``weights.transforms()``:
    resize, centre crop, ImageNet mean and std); with ``lecture=True``, the lecture's mean = std =
    0.5 normalisation instead.
    """
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a PIL image (see cnnbook.data.load_image), got {type(image).__name__}")
    if lecture:
        transform, short_side = lecture_transform(), 224
    elif weights is not None:
        transform = weights.transforms()
        short_side = int(getattr(transform, "resize_size", [256])[0])
    else:
        raise ValueError("pass the model's weights (model.weights) or lecture=True")
    _check_resizable(image, short_side)
    return transform(image.convert("RGB")).unsqueeze(0)


#: The longest side an image may have once its short side is resized (a 16:1 strip at 256).
MAX_RESIZED_SIDE = 4096


def _check_resizable(image: Image.Image, short_side: int) -> None:
    """Refuse an image that resizing would blow up: a 1x60000 strip, resized so that its short side
    is 256 pixels, would be 15 million pixels long (gigabytes of memory) before the centre crop."""
    width, height = image.size
    if min(width, height) < 1:
        raise ValueError(f"image has no pixels (size {width}x{height})")
    longest = -(-max(width, height) * short_side // min(width, height))
    if longest > MAX_RESIZED_SIDE:
        ratio = max(width, height) / min(width, height)
        raise ValueError(
            f"image is {width}x{height} pixels (aspect ratio {ratio:.0f}:1): resizing its short side to {short_side} "
            f"would make the long side {longest:,} pixels; crop it to at most "
            f"{MAX_RESIZED_SIDE // short_side}:1 first (the network only sees the centre square)")


def as_picture(x: torch.Tensor, weights: WeightsEnum) -> "np.ndarray":
    """One preprocessed image ``(3, H, W)`` back as an ``(H, W, 3)`` picture in [0, 1]: the photo
    as the network saw it (resized and cropped), with the normalisation undone."""
    transform = weights.transforms()
    mean = torch.tensor(transform.mean)[:, None, None]
    std = torch.tensor(transform.std)[:, None, None]
    return (x.detach().cpu() * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()


@dataclass(frozen=True)
class Prediction:
    index: int
    name: str
    probability: float


def top_k(model: nn.Module, x: torch.Tensor, k: int = 5, categories: list[str] | None = None) -> list[list[Prediction]]:
    """The ``k`` most probable classes for each image of the batch ``x``, best first.

    Class names come from ``categories`` or, by default, the model's weights metadata
    (``model.weights.meta["categories"]``, set by :func:`load`).
    """
    if categories is None:
        weights = getattr(model, "weights", None)
        if weights is None:
            raise ValueError("the model has no .weights; load it with cnnbook.models.load or pass categories")
        categories = weights.meta["categories"]
    checks.batch("x", x)
    with torch.no_grad():
        probabilities = checks.forward(model, x).softmax(dim=1)
    checks.whole("k", k, 1, probabilities.shape[1])
    if len(categories) != probabilities.shape[1]:
        raise ValueError(f"categories has {len(categories)} names but the model gives {probabilities.shape[1]} classes")
    values, indices = probabilities.topk(k, dim=1)
    return [
        [Prediction(int(i), categories[int(i)], float(v)) for v, i in zip(row_values, row_indices)]
        for row_values, row_indices in zip(values, indices)
    ]


def describe(name: str) -> dict[str, object]:
    """What torchvision's metadata says about ``name``'s default weights, without loading them.

    Returns the weights' enum name, the parameter count and the headline metrics of the data set
    the weights were evaluated on (for example ``{"acc@1": 69.758, ...}`` on ImageNet-1K).
    """
    weights = default_weights(name)
    (dataset, metrics), *_ = weights.meta["_metrics"].items()
    return {
        "model": name,
        "weights": f"{type(weights).__name__}.{weights.name}",
        "parameters": int(weights.meta["num_params"]),
        "dataset": dataset,
        "metrics": dict(metrics),
    }


__all__ = [
    "BOOK_MODELS",
    "LoadedNetwork",
    "Prediction",
    "UntrainedNetworkWarning",
    "as_picture",
    "default_weights",
    "describe",
    "lecture_transform",
    "load",
    "preprocess",
    "release_freed_memory",
    "top_k",
    "weights_available",
]
