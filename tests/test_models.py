import urllib.error
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from cnnbook import models, weights
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
    path = weights.checkpoint_path(weights.default_weights("resnet18"))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    weights.trust(path)  # a stand-in: its hash is not the published file's
    return path


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


@pytest.mark.parametrize("planted", [True, False], ids=["pretrained", "untrained"])
def test_what_load_returns_is_the_documented_loaded_network(torch_home, offline, planted):
    """load's return type, LoadedNetwork, names both attributes with their types, and what load
    returns has them, pretrained or not; it is still torchvision's module with its layer names."""
    import typing

    from torchvision.models import WeightsEnum

    assert typing.get_type_hints(models.load)["return"] is models.LoadedNetwork
    assert typing.get_type_hints(models.LoadedNetwork) == {"is_pretrained": bool, "weights": WeightsEnum}
    for attribute in ("is_pretrained", "weights"):
        assert attribute in models.LoadedNetwork.__doc__
    if planted:
        plant_resnet18(torch_home)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrainedNetworkWarning)
        model = models.load("resnet18")
    assert isinstance(model, models.LoadedNetwork)
    assert isinstance(model, torchvision.models.ResNet)
    assert type(model.is_pretrained) is bool and model.is_pretrained is planted
    assert isinstance(model.weights, WeightsEnum) and model.weights is models.default_weights("resnet18")
    assert dict(model.named_modules())["layer4.1"] is model.layer4[1]
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)
    assert not isinstance(torchvision.models.resnet18(), models.LoadedNetwork)  # a bare module is not one


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
    alexnet = weights.default_weights("alexnet")
    with pytest.raises(weights.WeightsUnavailableError) as info:
        models.load("alexnet")
    message = str(info.value)
    assert "'alexnet'" in message
    assert str(weights.checkpoint_path(alexnet)) in message
    assert alexnet.url in message


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


def test_damaged_checkpoint_is_an_error_not_a_silent_fallback(torch_home, offline):
    path = weights.checkpoint_path(weights.default_weights("resnet18"))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(weights.DamagedCheckpointError, match="SHA-256 begins .*download-weights resnet18"):
        models.load("resnet18")
    assert path.read_bytes() == b"not a checkpoint"  # nothing deleted behind the reader's back


def test_a_checkpoint_full_of_nans_under_the_right_name_is_not_called_pretrained(torch_home, offline):
    """A loadable file of the right shapes but the wrong numbers: only its hash gives it away."""
    model = torchvision.models.resnet18(weights=None)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(float("nan"))
    path = weights.checkpoint_path(weights.default_weights("resnet18"))
    path.parent.mkdir(parents=True)
    torch.save(model.state_dict(), path)
    with pytest.raises(weights.DamagedCheckpointError, match="not the published file"):
        models.load("resnet18")


def test_a_loaded_model_owns_its_weights(torch_home, offline):
    """Truncating or replacing the cached file after loading changes nothing in the model (with
    memory-mapped weights the next forward pass died with a bus error, or silently changed)."""
    path = plant_resnet18(torch_home, bias=0.125)
    model = models.load("resnet18")
    x = torch.rand(1, 3, 64, 64)
    before = model(x)
    with path.open("r+b") as file:
        file.truncate(100)
    assert torch.equal(model(x), before)
    plant_resnet18(torch_home, bias=-3.0)  # another checkpoint over the same file
    assert torch.equal(model(x), before) and torch.all(model.fc.bias == 0.125)


def test_describe_reads_torchvision_metadata():
    info = models.describe("resnet18")
    assert info["weights"] == "ResNet18_Weights.IMAGENET1K_V1"
    assert info["parameters"] == sum(p.numel() for p in torchvision.models.resnet18().parameters())
    assert info["dataset"] == "ImageNet-1K"
    assert set(info["metrics"]) >= {"acc@1", "acc@5"}


# --- preprocessing and predictions -------------------------------------------------------------

from PIL import Image  # noqa: E402

from cnnbook.data import sample_image  # noqa: E402


def test_preprocess_with_the_weights_transforms_gives_one_imagenet_batch():
    weights = models.default_weights("alexnet")
    x = models.preprocess(sample_image("cat"), weights)
    assert x.shape == (1, 3, 224, 224)
    expected = weights.transforms()(sample_image("cat")).unsqueeze(0)
    assert torch.equal(x, expected)


def test_lecture_normalisation_maps_pixels_to_minus_one_one():
    white = Image.new("RGB", (300, 260), (255, 255, 255))
    black = Image.new("RGB", (300, 260), (0, 0, 0))
    assert torch.all(models.preprocess(white, lecture=True) == 1.0)
    assert torch.all(models.preprocess(black, lecture=True) == -1.0)
    imagenet = models.preprocess(white, models.default_weights("alexnet"))
    assert not torch.allclose(imagenet[0, 0], imagenet[0, 2])  # per-channel ImageNet statistics


def test_preprocess_errors():
    with pytest.raises(TypeError, match="expected a PIL image"):
        models.preprocess(torch.zeros(3, 4, 4), models.default_weights("alexnet"))
    with pytest.raises(ValueError, match="model.weights"):
        models.preprocess(Image.new("RGB", (8, 8)))


def test_top_k_names_and_orders_the_classes():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3, bias=False))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[0.0, 0, 0, 0], [1, 0, 0, 0], [2, 0, 0, 0]]))
    x = torch.tensor([[1.0, 0, 0, 0], [-1.0, 0, 0, 0]]).reshape(2, 1, 2, 2)
    result = models.top_k(model, x, k=2, categories=["cat", "dog", "fox"])
    assert [[p.name for p in row] for row in result] == [["fox", "dog"], ["cat", "dog"]]
    assert result[0][0].index == 2
    assert result[0][0].probability == pytest.approx(np.exp(2) / (1 + np.exp(1) + np.exp(2)))


def test_top_k_uses_the_weights_categories_and_checks_k(torch_home):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3, 1000))
    model.weights = models.default_weights("resnet18")
    (row,) = models.top_k(model, torch.zeros(1, 1, 1, 3), k=5)
    assert all(p.name == model.weights.meta["categories"][p.index] for p in row)
    with pytest.raises(ValueError, match="k must be a whole number from 1 to 1000"):
        models.top_k(model, torch.zeros(1, 1, 1, 3), k=0)
    with pytest.raises(ValueError, match="has no .weights"):
        models.top_k(torch.nn.Identity(), torch.zeros(1, 1, 1, 3))


def test_as_picture_undoes_the_normalisation():
    weights = models.default_weights("resnet18")
    photo = sample_image("coffee")
    picture = models.as_picture(models.preprocess(photo, weights)[0], weights)
    assert picture.shape == (224, 224, 3) and 0 <= picture.min() and picture.max() <= 1
    # the centre pixel of the crop, compared with the resized photo's centre
    resized = np.asarray(photo.resize((int(photo.width * 256 / photo.height), 256)), dtype=float) / 255
    centre = resized[128, resized.shape[1] // 2]
    assert np.abs(picture[112, 112] - centre).max() < 0.1
