"""cnnbook.weights: where the checkpoints are cached, getting them, checking their hashes, and the
environment flags (CNNBOOK_OFFLINE, CNNBOOK_REQUIRE_WEIGHTS). Loading a network with them is
tests/test_models.py."""

import urllib.error
from pathlib import Path

import pytest
import torch
import torchvision

from cnnbook import models, weights


def plant_stand_in(torch_home: Path) -> Path:
    """A file under resnet18's checkpoint name, vouched for as tests do with their stand-ins."""
    path = weights.checkpoint_path(weights.default_weights("resnet18"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"a stand-in checkpoint")
    weights.trust(path)  # a stand-in: its hash is not the published file's
    return path


def test_checkpoint_path_is_where_torchvision_caches(torch_home):
    resnet18 = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    expected = torch_home / "hub" / "checkpoints" / Path(resnet18.url).name
    assert weights.checkpoint_path(resnet18) == expected
    assert weights.checkpoint_path(resnet18).parent == Path(torch.hub.get_dir()) / "checkpoints"


@pytest.mark.parametrize("name", models.BOOK_MODELS)
def test_default_weights_come_from_torchvision_enums(name):
    default = weights.default_weights(name)
    assert default is torchvision.models.get_model_weights(name).DEFAULT
    assert default.url.startswith("https://")


def test_unknown_model_name_is_rejected_with_the_known_names():
    with pytest.raises(ValueError, match=r"unknown model 'alexnett'.*alexnet"):
        weights.default_weights("alexnett")


def test_the_names_chapters_call_through_models_are_these():
    """The preface calls models.weights_available and the homework models.default_weights."""
    assert models.default_weights is weights.default_weights
    assert models.weights_available is weights.weights_available


@pytest.mark.parametrize("value, on", [("1", True), ("yes", True), (" TRUE ", True), ("0", False), ("", False)])
def test_the_environment_flags(monkeypatch, value, on):
    monkeypatch.setenv(weights.OFFLINE_ENV, value)
    monkeypatch.setenv(weights.REQUIRE_WEIGHTS_ENV, value)
    assert weights.offline() is on and weights.require_weights() is on


def test_fetch_uses_the_cache_downloads_or_says_why_not(torch_home, monkeypatch):
    resnet18 = weights.default_weights("resnet18")

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network in this test")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    assert weights.fetch(resnet18) == (None, "it is not in the cache and the download failed (no network in this test)")
    monkeypatch.setenv(weights.OFFLINE_ENV, "1")
    path, why = weights.fetch(resnet18)
    assert path is None and "CNNBOOK_OFFLINE=1 forbids downloading it" in why
    assert weights.weights_available("resnet18") is False
    planted = plant_stand_in(torch_home)
    assert weights.fetch(resnet18) == (planted, "")
    assert weights.weights_available("resnet18") is True


def test_download_goes_into_the_cache_with_hash_check(torch_home, monkeypatch):
    calls = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        calls.append((url, dst, hash_prefix))
        Path(dst).write_bytes(b"x")

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    resnet18 = weights.default_weights("resnet18")
    path = weights.download(resnet18, progress=False)
    assert path == weights.checkpoint_path(resnet18) and path.is_file()
    assert calls == [(resnet18.url, str(path), "f37072fd")]


def test_the_hash_prefix_comes_from_torchvision_file_names(tmp_path):
    assert weights.expected_hash_prefix(Path("resnet18-f37072fd.pth")) == "f37072fd"
    assert weights.expected_hash_prefix(Path("my-model.pth")) is None
    unnamed = tmp_path / "model.pth"
    unnamed.write_bytes(b"weights")
    with pytest.raises(weights.DamagedCheckpointError, match="does not end in -<SHA-256 prefix>.pth"):
        weights.verify(unnamed)


def test_a_verified_file_is_not_hashed_again_until_it_changes(torch_home, monkeypatch):
    path = plant_stand_in(torch_home)
    hashed = []
    real_sha256 = weights.hashlib.sha256
    monkeypatch.setattr(weights.hashlib, "sha256", lambda: hashed.append(1) or real_sha256())
    weights.verify(path)
    assert hashed == []  # remembered (planted files are vouched for with weights.trust)
    assert (path.parent / weights.VERIFIED_FILE).is_file()
    with path.open("ab") as file:
        file.write(b"tampered")
    with pytest.raises(weights.DamagedCheckpointError):
        weights.verify(path)
    assert hashed == [1]
