"""The book itself: a clean strict build, what the pages show, and the build's own safeguards."""

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torchvision
import yaml

from cnnbook import models

REPO = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")
PAGES = {"book/preface": "Preface", "book/01-why-not-mlp": "1. Why not an MLP for images?"}

pytestmark = pytest.mark.build


def build(source: Path, out: Path, env: dict[str, str], clean: bool = True) -> subprocess.CompletedProcess:
    """``jupyter-book build`` in strict mode: every cell error and Sphinx warning fails it."""
    command = [str(JUPYTER_BOOK), "build", str(source), "--path-output", str(out), "-W", "--keep-going"]
    if clean:
        command.append("--all")
    full_env = {**os.environ, **env}
    full_env.pop("MPLBACKEND", None)  # the kernel must use its inline backend
    return subprocess.run(command, capture_output=True, text=True, env=full_env, timeout=1200)


def log(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def offline_env(tmp_path_factory) -> dict[str, str]:
    """No cached weights and no download attempts: how the book builds on a machine offline."""
    home = tmp_path_factory.mktemp("torch_home")
    return {"TORCH_HOME": str(home), "CNNBOOK_OFFLINE": "1", "CNNBOOK_REQUIRE_WEIGHTS": "0"}


@pytest.fixture(scope="module")
def book(tmp_path_factory, offline_env):
    out = tmp_path_factory.mktemp("book")
    result = build(REPO, out, offline_env)
    return result, out / "_build" / "html"


def test_strict_build_of_the_whole_book_passes(book):
    result, html = book
    assert result.returncode == 0, log(result)[-5000:]
    assert "build succeeded" in log(result)


@pytest.mark.parametrize("page", PAGES)
def test_every_chapter_is_built_with_its_title(book, page):
    _, html = book
    text = (html / f"{page}.html").read_text()
    assert PAGES[page] in text


@pytest.mark.parametrize("page", PAGES)
def test_no_page_shows_a_traceback_or_error_output(book, page):
    _, html = book
    text = (html / f"{page}.html").read_text()
    for bad in ("Traceback (most recent call last)", "output traceback", "output stderr", "Error</span>"):
        assert bad not in text, f"{page} shows {bad!r}"


@pytest.mark.parametrize("page", PAGES)
def test_pages_that_need_no_weights_show_no_untrained_notice(book, page):
    result, html = book
    assert "cnnbook-untrained" not in (html / f"{page}.html").read_text()
    assert "UNTRAINED" not in log(result)


def test_chapter_1_shows_its_computed_figures_and_numbers(book):
    _, html = book
    text = (html / "book/01-why-not-mlp.html").read_text()
    images = re.findall(r'<img[^>]+src="([^"]+\.png)"', text)
    assert len(images) >= 4
    for src in images:
        assert (html / "book" / src).resolve().is_file(), src
    # glued numbers reached the prose: the parameter count of a 1000-unit layer on 224x224x3
    assert "150,529,000" in text
    pasted = re.findall(r'<span class="pasted-text">([^<]+)</span>', text)
    assert len(pasted) >= 10  # every glued value was found and pasted
    centred = re.search(r'MLP gets\s+<span class="pasted-text">(\d+\.\d)%</span>\s+of the test', text)
    assert centred and float(centred.group(1)) > 80


def test_preface_has_the_task_map_and_the_torchvision_table(book):
    _, html = book
    text = (html / "book/preface.html").read_text()
    assert len(re.findall(r"<img[^>]+\.png", text)) >= 1
    for name in ("resnet18", "fasterrcnn_resnet50_fpn", "deeplabv3_resnet50", "maskrcnn_resnet50_fpn"):
        assert name in text
    assert f"torchvision {torchvision.__version__}" in text


# --- A tiny book, to test what the build does with failing cells and missing weights -----------


def tiny_book(root: Path, code: str) -> Path:
    """A one-chapter book that uses the real ``_config.yml`` (without the bibliography)."""
    root.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    config.pop("bibtex_bibfiles", None)
    (root / "_config.yml").write_text(yaml.safe_dump(config))
    (root / "_toc.yml").write_text("format: jb-book\nroot: chapter\n")
    header = (REPO / "book" / "preface.md").read_text().split("---\n")[1]
    (root / "chapter.md").write_text(
        f"---\n{header}---\n\n# A chapter\n\n```{{code-cell}} ipython3\n{textwrap.dedent(code).strip()}\n```\n"
    )
    return root


def test_a_cell_that_raises_fails_the_build(tmp_path, offline_env):
    source = tiny_book(tmp_path / "src", "raise RuntimeError('this cell is broken')")
    result = build(source, tmp_path / "out", offline_env)
    assert result.returncode != 0
    assert "this cell is broken" in log(result)


def test_stderr_in_a_cell_fails_the_strict_build(tmp_path, offline_env):
    source = tiny_book(tmp_path / "src", "import sys; print('oops', file=sys.stderr)")
    result = build(source, tmp_path / "out", offline_env)
    assert result.returncode != 0
    assert "stderr was found" in log(result)


LOAD_RESNET = """
from cnnbook import models
model = models.load("resnet18")
print("pretrained:", model.is_pretrained)
"""


def test_untrained_pages_are_marked_listed_and_rerun_once_weights_arrive(tmp_path, offline_env):
    env = {**offline_env, "TORCH_HOME": str(tmp_path / "torch_home")}
    source = tiny_book(tmp_path / "src", LOAD_RESNET)
    out = tmp_path / "out"
    page = out / "_build" / "html" / "chapter.html"

    first = build(source, out, env)
    assert first.returncode == 0, log(first)[-3000:]
    assert 'data-cnnbook-untrained="resnet18"' in page.read_text()
    assert "pretrained: False" in page.read_text()
    assert re.search(r"1 page\(s\) show results from UNTRAINED networks.*\n\s+chapter: resnet18", log(first))

    # The weights arrive (here: planted); an incremental build must not keep the cached result.
    checkpoint = models.checkpoint_path(models.default_weights("resnet18"))
    checkpoint = Path(env["TORCH_HOME"]) / checkpoint.relative_to(checkpoint.parents[2])
    checkpoint.parent.mkdir(parents=True)
    torch.save(torchvision.models.resnet18().state_dict(), checkpoint)
    second = build(source, out, env, clean=False)
    assert second.returncode == 0, log(second)[-3000:]
    assert "re-executing chapter" in log(second)
    assert "cnnbook-untrained" not in page.read_text()
    assert "pretrained: True" in page.read_text()
    assert "UNTRAINED" not in log(second)


def test_publishing_mode_refuses_untrained_results_even_from_the_cache(tmp_path, offline_env):
    source = tiny_book(tmp_path / "src", LOAD_RESNET)
    out = tmp_path / "out"
    assert build(source, out, offline_env).returncode == 0
    strict = build(source, out, {**offline_env, "CNNBOOK_REQUIRE_WEIGHTS": "1"}, clean=False)
    assert strict.returncode != 0
    assert "WeightsUnavailableError" in log(strict)
    assert "CNNBOOK_REQUIRE_WEIGHTS=1 but the pretrained weights for 'resnet18' are missing" in log(strict)
