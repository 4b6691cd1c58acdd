"""Pretrained torchvision networks, loaded offline-honestly.

``load("alexnet")`` returns the network with its ImageNet weights when they can be had: from
torchvision's own cache (``$TORCH_HOME/hub/checkpoints``, the very file ``torchvision`` would use),
or downloaded there. When they cannot be had, what happens depends on the mode:

* default: a warning (in a notebook, a visible box on the page) and an *untrained* network with
  ``model.is_pretrained = False``, so the book still builds and says so;
* ``CNNBOOK_REQUIRE_WEIGHTS=1`` (publishing mode): :class:`WeightsUnavailableError`, naming the
  model, the file and the URL.

``CNNBOOK_OFFLINE=1`` skips the download attempt (the cache is still used).
"""

from __future__ import annotations

import os
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

import torch
import torchvision
from PIL import Image
from torch import nn
from torchvision.models import WeightsEnum

from . import notice
from .notice import UntrainedNetworkWarning

#: The networks the book's chapters load; ``python -m cnnbook download-weights`` fetches these.
BOOK_MODELS: tuple[str, ...] = ("alexnet", "vgg16", "resnet18")

REQUIRE_WEIGHTS_ENV = "CNNBOOK_REQUIRE_WEIGHTS"
OFFLINE_ENV = "CNNBOOK_OFFLINE"

#: Seed for the random initialisation of an untrained network, so offline builds are repeatable.
UNTRAINED_SEED = 0


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights were required but could not be loaded."""


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def require_weights() -> bool:
    """True in publishing mode (``CNNBOOK_REQUIRE_WEIGHTS=1``)."""
    return _env_flag(REQUIRE_WEIGHTS_ENV)


def default_weights(name: str) -> WeightsEnum:
    """The default (best) ImageNet weights torchvision offers for the model ``name``."""
    try:
        return torchvision.models.get_model_weights(name).DEFAULT
    except (ValueError, KeyError) as err:
        known = ", ".join(sorted(torchvision.models.list_models()))
        raise ValueError(f"unknown model {name!r}; torchvision knows: {known}") from err


def checkpoint_path(weights: WeightsEnum) -> Path:
    """Where torchvision caches this checkpoint: ``torch.hub.get_dir()/checkpoints/<file name>``."""
    filename = os.path.basename(urlparse(weights.url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def weights_available(name: str) -> bool:
    """True when the checkpoint for ``name`` is already in the local cache."""
    return checkpoint_path(default_weights(name)).is_file()


def download(weights: WeightsEnum, progress: bool = True) -> Path:
    """Download a checkpoint into torchvision's cache (checking its hash) and return its path.

    Network failures surface as :class:`urllib.error.URLError` or :class:`OSError`.
    """
    path = checkpoint_path(weights)
    path.parent.mkdir(parents=True, exist_ok=True)
    # torchvision's file names end in the first hex digits of the file's SHA-256.
    hash_prefix = path.stem.rsplit("-", 1)[-1]
    torch.hub.download_url_to_file(weights.url, str(path), hash_prefix=hash_prefix, progress=progress)
    return path


def _fetch(weights: WeightsEnum) -> tuple[Path | None, str]:
    """The cached checkpoint, downloading it if allowed; else ``(None, why)``."""
    path = checkpoint_path(weights)
    if path.is_file():
        return path, ""
    if _env_flag(OFFLINE_ENV):
        return None, f"it is not in the cache and {OFFLINE_ENV}=1 forbids downloading it"
    try:
        return download(weights, progress=False), ""
    except (urllib.error.URLError, OSError, RuntimeError) as err:
        reason = getattr(err, "reason", err)
        return None, f"it is not in the cache and the download failed ({reason})"


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


def load(name: str) -> nn.Module:
    """The torchvision model ``name`` in evaluation mode, pretrained when the weights can be had.

    The model carries ``is_pretrained`` (bool) and ``weights`` (the torchvision weights enum, whose
    ``transforms()`` and ``meta["categories"]`` describe the ImageNet training even when the
    network itself is untrained).
    """
    weights = default_weights(name)
    path, why = _fetch(weights)
    release_freed_memory()  # room for hundreds of MB of weights (VGG16: 528 MB)
    if path is not None:
        # Build the network on the meta device (no memory, no random init) and let it take over
        # the checkpoint's tensors, memory-mapped from the file: one copy of the weights, not two.
        with torch.device("meta"):
            model = torchvision.models.get_model(name, weights=None)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            model.load_state_dict(state, assign=True)
        except Exception as err:
            first_line = str(err).strip().splitlines()[0][:160] if str(err).strip() else ""
            raise WeightsUnavailableError(
                f"the checkpoint {path} for {name!r} could not be loaded, it looks damaged or is not "
                f"a {name} checkpoint ({type(err).__name__}: {first_line}); delete it and run "
                f"`python -m cnnbook download-weights` to fetch it again from {weights.url}"
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
    return model.eval()


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
        transform = lecture_transform()
    elif weights is not None:
        transform = weights.transforms()
    else:
        raise ValueError("pass the model's weights (model.weights) or lecture=True")
    return transform(image.convert("RGB")).unsqueeze(0)


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
    if x.ndim != 4:
        raise ValueError(f"x must be a batch (B, C, H, W), got shape {tuple(x.shape)}")
    with torch.no_grad():
        probabilities = model(x).softmax(dim=1)
    if not 1 <= k <= probabilities.shape[1]:
        raise ValueError(f"k must be between 1 and {probabilities.shape[1]}, got {k}")
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
    "UntrainedNetworkWarning",
    "WeightsUnavailableError",
    "checkpoint_path",
    "default_weights",
    "describe",
    "download",
    "lecture_transform",
    "load",
    "as_picture",
    "preprocess",
    "top_k",
    "require_weights",
    "weights_available",
]
