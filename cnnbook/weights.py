"""Pretrained weights: where torchvision caches them, getting them, and checking them. Used by
:mod:`cnnbook.models` (so by every page that loads a pretrained network; the preface and the
homework reach :func:`weights_available` and :func:`default_weights` through it), by
``python -m cnnbook download-weights`` and by the build's Sphinx extension.

A network's checkpoint lives in torchvision's own cache (``$TORCH_HOME/hub/checkpoints``, the very
file ``torchvision`` would use) and is downloaded there when it is missing. Two environment flags
decide what happens when it cannot be had:

* ``CNNBOOK_OFFLINE=1`` skips the download attempt (the cache is still used);
* ``CNNBOOK_REQUIRE_WEIGHTS=1`` (publishing mode, :func:`require_weights`): loading a network
  without its weights is a :class:`WeightsUnavailableError` instead of an untrained network.

A cached checkpoint is checked before it is used: torchvision names each file with the first hex
digits of its SHA-256, and :func:`verify` compares them (once per file; the result is remembered
beside the file in :data:`VERIFIED_FILE`, keyed on its size and modification time). A file that
fails is a :class:`DamagedCheckpointError`. :func:`trust` vouches for stand-in checkpoints that
tests and benchmarks make themselves.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.error
from pathlib import Path
from urllib.parse import urlparse

import torch
import torchvision
from torchvision.models import WeightsEnum

REQUIRE_WEIGHTS_ENV = "CNNBOOK_REQUIRE_WEIGHTS"
OFFLINE_ENV = "CNNBOOK_OFFLINE"

#: Seed for the random initialisation of an untrained network, so offline builds are repeatable.
UNTRAINED_SEED = 0


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights were required but could not be loaded."""


class DamagedCheckpointError(WeightsUnavailableError):
    """A cached checkpoint is not the file torchvision published (truncated, overwritten, ...)."""


#: Beside the checkpoints: the files already verified, as {file name: [size, mtime_ns]}.
VERIFIED_FILE = ".cnnbook-verified.json"


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def require_weights() -> bool:
    """True in publishing mode (``CNNBOOK_REQUIRE_WEIGHTS=1``)."""
    return _env_flag(REQUIRE_WEIGHTS_ENV)


def offline() -> bool:
    """True when downloads are forbidden (``CNNBOOK_OFFLINE=1``); the cache is still used."""
    return _env_flag(OFFLINE_ENV)


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


def _stamp(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _verified(folder: Path) -> dict:
    try:
        found = json.loads((folder / VERIFIED_FILE).read_text())
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError):
        return {}


def _remember(path: Path) -> None:
    """Record ``path`` (its size and modification time) as verified, where the folder is writable."""
    record = _verified(path.parent)
    record[path.name] = _stamp(path)
    try:
        tmp = path.parent / f"{VERIFIED_FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(record))
        os.replace(tmp, path.parent / VERIFIED_FILE)
    except OSError:  # a read-only cache: verify again next time
        pass


def expected_hash_prefix(path: Path) -> str | None:
    """The SHA-256 prefix in a torchvision checkpoint's name (``resnet18-f37072fd.pth``), if any."""
    match = re.fullmatch(r".+-([0-9a-f]{6,64})\.pth", path.name)
    return match.group(1) if match else None


def verify(path: Path) -> None:
    """Raise :class:`DamagedCheckpointError` unless ``path``'s SHA-256 starts with the digits in its
    name. A file verified before (same size, same modification time) is not read again."""
    path = Path(path)
    if _verified(path.parent).get(path.name) == _stamp(path):
        return
    prefix = expected_hash_prefix(path)
    if prefix is None:
        raise DamagedCheckpointError(f"cannot verify {path}: its name does not end in -<SHA-256 prefix>.pth as "
                                     "torchvision's checkpoints do")
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    actual = digest.hexdigest()
    if not actual.startswith(prefix):
        raise DamagedCheckpointError(
            f"the checkpoint {path} is damaged or not the published file: its SHA-256 begins {actual[:len(prefix)]}, "
            f"its name says {prefix}")
    _remember(path)


def trust(path: Path) -> None:
    """Vouch for the checkpoint at ``path`` without its hash: for stand-in checkpoints that tests
    and benchmarks make themselves under torchvision's file names. Changing the file afterwards
    undoes it."""
    _remember(Path(path))


def download(weights: WeightsEnum, progress: bool = True) -> Path:
    """Download a checkpoint into torchvision's cache (checking its hash) and return its path.

    Network failures surface as :class:`urllib.error.URLError` or :class:`OSError`.
    """
    path = checkpoint_path(weights)
    path.parent.mkdir(parents=True, exist_ok=True)
    # torchvision's file names end in the first hex digits of the file's SHA-256; the download is
    # written to a temporary file and moved over ``path`` only once its hash is right.
    torch.hub.download_url_to_file(weights.url, str(path), hash_prefix=expected_hash_prefix(path), progress=progress)
    _remember(path)
    return path


#: Why a network's weights could not be had, as the untrained-network notice says it ({0}: the
#: setting, or the download's error): templates the Chinese edition translates (phrases.po).
REASONS = {"offline": "it is not in the cache and {0}=1 forbids downloading it",
           "failed": "it is not in the cache and the download failed ({0})"}


def fetch(weights: WeightsEnum) -> tuple[Path | None, str]:
    """The cached checkpoint, downloading it unless :func:`offline`; else ``(None, why)``, the
    reason in words. The file is not verified here: that is :func:`verify`'s job."""
    path = checkpoint_path(weights)
    if path.is_file():
        return path, ""
    if offline():
        return None, REASONS["offline"].format(OFFLINE_ENV)
    try:
        return download(weights, progress=False), ""
    except (urllib.error.URLError, OSError, RuntimeError) as err:
        reason = getattr(err, "reason", err)
        return None, REASONS["failed"].format(reason)


__all__ = [
    "DamagedCheckpointError",
    "OFFLINE_ENV",
    "REQUIRE_WEIGHTS_ENV",
    "UNTRAINED_SEED",
    "VERIFIED_FILE",
    "WeightsUnavailableError",
    "checkpoint_path",
    "default_weights",
    "download",
    "expected_hash_prefix",
    "fetch",
    "offline",
    "require_weights",
    "trust",
    "verify",
    "weights_available",
]
