import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest
import torch

from cnnbook import models, weights
from cnnbook.__main__ import main


def test_download_weights_reports_no_network_clearly(torch_home, monkeypatch, capsys):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    assert main(["download-weights", "--quiet"]) == 1
    err = capsys.readouterr().err
    for name in models.BOOK_MODELS:
        assert f"{name}: FAILED to download {weights.default_weights(name).url}" in err
    assert "Is this machine online?" in err
    assert not list(torch_home.rglob("*.pth"))  # nothing half-written left behind


def test_download_weights_fetches_every_book_model_into_the_cache(torch_home, monkeypatch, capsys):
    fetched = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        fetched.append(url)
        Path(dst).write_bytes(b"checkpoint")

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    assert main(["download-weights", "--quiet"]) == 0
    assert fetched == [weights.default_weights(n).url for n in models.BOOK_MODELS]
    for name in models.BOOK_MODELS:
        assert weights.weights_available(name)
    # a second run downloads nothing
    assert main(["download-weights", "--quiet"]) == 0
    assert len(fetched) == len(models.BOOK_MODELS)
    assert "already cached" in capsys.readouterr().out


def test_download_weights_for_one_named_model(torch_home, monkeypatch):
    fetched = []
    monkeypatch.setattr(torch.hub, "download_url_to_file",
                        lambda url, dst, **kw: fetched.append(url) or Path(dst).write_bytes(b"x"))
    assert main(["download-weights", "resnet18", "--quiet"]) == 0
    assert fetched == [weights.default_weights("resnet18").url]


def test_unknown_model_is_a_usage_error(torch_home, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["download-weights", "notanet"])
    assert exit_info.value.code == 2
    assert "unknown model 'notanet'" in capsys.readouterr().err


def test_module_runs_as_a_command():
    result = subprocess.run([sys.executable, "-m", "cnnbook", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "download-weights" in result.stdout


def test_the_help_lists_every_command():
    """The module's docstring is the --help text: it lists each command with what it takes."""
    import argparse
    import re

    from cnnbook import __main__ as cli

    parser = cli.build_parser()
    assert parser.description == cli.__doc__
    (commands,) = [a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    entries = dict(re.findall(r"^  ([a-z][\w-]*)(.*)$", cli.__doc__, re.M))
    assert list(entries) == list(commands)
    for name, command in commands.items():
        for positional in (a for a in command._actions if not a.option_strings):
            assert (positional.metavar or positional.dest.upper()) in entries[name], (name, positional.dest)


def test_predict_says_plainly_when_a_network_is_untrained(torch_home, monkeypatch, capsys, tmp_path):
    from cnnbook.data import sample_image

    monkeypatch.setenv("CNNBOOK_OFFLINE", "1")
    photo = tmp_path / "coffee.jpg"
    sample_image("coffee").save(photo)
    assert main(["predict", str(photo), "--model", "resnet18", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("resnet18:\n  UNTRAINED")
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == 3


def test_predict_with_planted_weights_shows_no_warning(torch_home, monkeypatch, capsys, tmp_path):
    import torchvision
    from cnnbook.data import sample_image

    monkeypatch.setenv("CNNBOOK_OFFLINE", "1")
    path = weights.checkpoint_path(weights.default_weights("resnet18"))
    path.parent.mkdir(parents=True)
    torch.save(torchvision.models.resnet18().state_dict(), path)
    weights.trust(path)
    photo = tmp_path / "cat.png"
    sample_image("cat").save(photo)
    assert main(["predict", str(photo), "--model", "resnet18"]) == 0
    assert "UNTRAINED" not in capsys.readouterr().out


def test_predict_a_bad_file_exits_with_the_reason(tmp_path, capsys):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    assert main(["predict", str(bad)]) == 2
    assert "notes.jpg: not an image file" in capsys.readouterr().err


def test_predict_in_publishing_mode_without_weights_fails_clearly(torch_home, monkeypatch, capsys, tmp_path):
    from cnnbook.data import sample_image

    monkeypatch.setenv("CNNBOOK_OFFLINE", "1")
    monkeypatch.setenv("CNNBOOK_REQUIRE_WEIGHTS", "1")
    photo = tmp_path / "cat.png"
    sample_image("cat").save(photo)
    assert main(["predict", str(photo), "--model", "alexnet"]) == 1
    err = capsys.readouterr().err
    assert "'alexnet' are missing" in err and weights.default_weights("alexnet").url in err


def test_gradcam_saves_a_figure_and_says_when_untrained(torch_home, monkeypatch, capsys, tmp_path):
    from PIL import Image

    from cnnbook.data import sample_image

    monkeypatch.setenv("CNNBOOK_OFFLINE", "1")
    photo, out = tmp_path / "cat.jpg", tmp_path / "heat.png"
    sample_image("cat").save(photo)
    assert main(["gradcam", str(photo), "--model", "resnet18", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "resnet18:" in printed and "UNTRAINED" in printed and f"saved {out}" in printed
    with Image.open(out) as figure:
        assert figure.width > 400


def test_gradcam_bad_file_and_publishing_mode(torch_home, monkeypatch, capsys, tmp_path):
    from cnnbook.data import sample_image

    bad = tmp_path / "empty.png"
    bad.write_bytes(b"")
    assert main(["gradcam", str(bad)]) == 2
    assert "empty.png: the file is empty" in capsys.readouterr().err
    monkeypatch.setenv("CNNBOOK_OFFLINE", "1")
    monkeypatch.setenv("CNNBOOK_REQUIRE_WEIGHTS", "1")
    photo = tmp_path / "cat.png"
    sample_image("cat").save(photo)
    assert main(["gradcam", str(photo), "--model", "vgg16", "--out", str(tmp_path / "x.png")]) == 1
    assert "'vgg16' are missing" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
