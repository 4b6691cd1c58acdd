import urllib.error
import warnings
from pathlib import Path

import pytest
import torch
import torchvision

from cnnbook import models
from cnnbook.notice import UntrainedNetworkWarning


def no_network(*args, **kwargs):
    raise urllib.error.URLError("no network in this test")


@pytest.fixture
def offline(monkeypatch):
    """Every download attempt fails as it does on a machine without internet."""
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)


def plant_resnet18(torch_home: Path, bias: float = 0.125) -> Path:
    """Write a resnet18 checkpoint whose classifier bias is a known constant."""
    model = torchvision.models.resnet18(weights=None)
    with torch.no_grad():
        model.fc.bias.fill_(bias)
    path = models.checkpoint_path(models.default_weights("resnet18"))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


def test_checkpoint_path_is_where_torchvision_caches(torch_home):
    weights = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    expected = torch_home / "hub" / "checkpoints" / Path(weights.url).name
    assert models.checkpoint_path(weights) == expected
    assert models.checkpoint_path(weights).parent == Path(torch.hub.get_dir()) / "checkpoints"


@pytest.mark.parametrize("name", models.BOOK_MODELS)
def test_default_weights_come_from_torchvision_enums(name):
    weights = models.default_weights(name)
    assert weights is torchvision.models.get_model_weights(name).DEFAULT
    assert weights.url.startswith("https://")


def test_unknown_model_name_is_rejected_with_the_known_names():
    with pytest.raises(ValueError, match=r"unknown model 'alexnett'.*alexnet"):
        models.default_weights("alexnett")


def test_planted_checkpoint_is_the_one_loaded(torch_home, offline):
    plant_resnet18(torch_home, bias=0.125)
    model = models.load("resnet18")
    assert model.is_pretrained is True
    assert torch.all(model.fc.bias == 0.125)
    assert not model.training
    assert model.weights is torchvision.models.ResNet18_Weights.IMAGENET1K_V1


def test_weights_are_loaded_with_weights_only(torch_home, offline, monkeypatch):
    plant_resnet18(torch_home)
    seen = {}
    real_load = torch.load

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    models.load("resnet18")
    assert seen.get("weights_only") is True


def test_missing_weights_give_a_warning_and_an_untrained_network(torch_home, offline):
    with pytest.warns(UntrainedNetworkWarning, match=r"resnet18.*download failed"):
        model = models.load("resnet18")
    assert model.is_pretrained is False
    assert not model.training
    # the categories and preprocessing still describe ImageNet
    assert len(model.weights.meta["categories"]) == 1000
    assert models.weights_available("resnet18") is False


def test_untrained_network_is_the_same_on_every_build(torch_home, offline):
    torch.manual_seed(123)
    state_before = torch.random.get_rng_state()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrainedNetworkWarning)
        first = models.load("resnet18")
        second = models.load("resnet18")
    assert torch.equal(first.conv1.weight, second.conv1.weight)
    # the global random state the reader seeded is left as it was
    assert torch.equal(torch.random.get_rng_state(), state_before)


def test_require_weights_mode_names_model_file_and_url(torch_home, offline, monkeypatch):
    monkeypatch.setenv("CNNBOOK_REQUIRE_WEIGHTS", "1")
    weights = models.default_weights("alexnet")
    with pytest.raises(models.WeightsUnavailableError) as info:
        models.load("alexnet")
    message = str(info.value)
    assert "'alexnet'" in message
    assert str(models.checkpoint_path(weights)) in message
    assert weights.url in message


def test_require_weights_mode_loads_planted_weights(torch_home, offline, monkeypatch):
    monkeypatch.setenv("CNNBOOK_REQUIRE_WEIGHTS", "1")
    plant_resnet18(torch_home)
    assert models.load("resnet18").is_pretrained is True


def test_offline_mode_never_tries_to_download(torch_home, monkeypatch):
    def must_not_download(*args, **kwargs):
        raise AssertionError("download attempted in CNNBOOK_OFFLINE mode")

    monkeypatch.setattr(torch.hub, "download_url_to_file", must_not_download)
    monkeypatch.setenv("CNNBOOK_OFFLINE", "1")
    with pytest.warns(UntrainedNetworkWarning, match="CNNBOOK_OFFLINE"):
        assert models.load("resnet18").is_pretrained is False


def test_download_goes_into_the_cache_with_hash_check(torch_home, monkeypatch):
    calls = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        calls.append((url, dst, hash_prefix))
        Path(dst).write_bytes(b"x")

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    weights = models.default_weights("resnet18")
    path = models.download(weights, progress=False)
    assert path == models.checkpoint_path(weights) and path.is_file()
    assert calls == [(weights.url, str(path), "f37072fd")]


def test_damaged_checkpoint_is_an_error_not_a_silent_fallback(torch_home, offline):
    path = models.checkpoint_path(models.default_weights("resnet18"))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(models.WeightsUnavailableError, match="could not be loaded.*download-weights"):
        models.load("resnet18")
    assert path.read_bytes() == b"not a checkpoint"  # nothing deleted behind the reader's back


def test_describe_reads_torchvision_metadata():
    info = models.describe("resnet18")
    assert info["weights"] == "ResNet18_Weights.IMAGENET1K_V1"
    assert info["parameters"] == sum(p.numel() for p in torchvision.models.resnet18().parameters())
    assert info["dataset"] == "ImageNet-1K"
    assert set(info["metrics"]) >= {"acc@1", "acc@5"}
