"""Every chapter's .ipynb for Colab and Binder: in sync with its .md, with the install cell."""

import json
import shutil
from pathlib import Path

import pytest

from cnnbook import notebooks

ROOT = Path(__file__).resolve().parent.parent


def test_every_chapter_has_its_notebook_in_sync():
    assert notebooks.out_of_sync(ROOT) == [], "run: python -m cnnbook notebooks"


def test_every_page_of_the_table_of_contents_is_paired():
    pages = notebooks.chapters(ROOT)
    assert pages[0] == ROOT / "book" / "preface.md" and ROOT / "book" / "11-alphago.md" in pages
    assert all(page.with_suffix(".ipynb").is_file() for page in pages)


def test_the_install_cell_comes_first_hidden_and_skipped():
    url = notebooks.repository_url(ROOT)
    for page in notebooks.chapters(ROOT):
        nb = json.loads(page.with_suffix(".ipynb").read_text())
        first = nb["cells"][0]
        assert first["cell_type"] == "code"
        assert first["metadata"]["tags"] == list(notebooks.INSTALL_TAGS)
        assert f"cnnbook @ git+{url}" in "".join(first["source"])
        assert all(not cell.get("outputs") for cell in nb["cells"])


@pytest.fixture
def copy(tmp_path):
    """A copy of the book's sources to change."""
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "book", tmp_path / "book")
    return tmp_path


def test_an_edited_chapter_is_caught_and_regenerating_fixes_it(copy):
    chapter = copy / "book" / "04-pooling.md"
    chapter.write_text(chapter.read_text().replace("# 4. Pooling", "# 4. Pooling, edited"))
    assert notebooks.out_of_sync(copy) == ["book/04-pooling.ipynb differs from book/04-pooling.md"]
    ids_before = [c["id"] for c in json.loads(chapter.with_suffix(".ipynb").read_text())["cells"]]
    notebooks.regenerate(copy, quiet=True)
    assert notebooks.out_of_sync(copy) == []
    # jupytext --update keeps the cell ids, so a regenerated notebook diffs only where it changed
    assert [c["id"] for c in json.loads(chapter.with_suffix(".ipynb").read_text())["cells"]] == ids_before


def test_a_new_repository_address_reaches_every_install_cell(copy):
    config = copy / "_config.yml"
    config.write_text(config.read_text().replace("https://github.com/cnnbook/cnnbook", "https://github.com/someone/cnn-book"))
    problems = notebooks.out_of_sync(copy)
    assert any("does not point at https://github.com/someone/cnn-book" in p for p in problems)
    notebooks.regenerate(copy, quiet=True)
    assert notebooks.out_of_sync(copy) == []
    assert "git+https://github.com/someone/cnn-book" in (copy / "book" / "preface.ipynb").read_text()


def test_outputs_in_a_committed_notebook_are_refused(copy):
    ipynb = copy / "book" / "03-output-size.ipynb"
    nb = json.loads(ipynb.read_text())
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi"}]
    ipynb.write_text(json.dumps(nb))
    assert any("holds outputs" in p for p in notebooks.out_of_sync(copy))


def test_repository_url_must_be_a_github_repository(copy):
    config = copy / "_config.yml"
    config.write_text(config.read_text().replace("https://github.com/cnnbook/cnnbook", "not a url"))
    with pytest.raises(ValueError, match="repository.url must be https://github.com/OWNER/NAME"):
        notebooks.repository_url(copy)


def test_a_page_without_front_matter_is_refused():
    with pytest.raises(ValueError, match="jupytext front matter"):
        notebooks.with_install_cell("# a title\n", "https://github.com/a/b")
