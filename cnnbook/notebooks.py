"""The chapters as Jupyter notebooks, for Colab and Binder.

Each chapter is written as a MyST markdown notebook (``book/NAME.md``). Colab opens only
``.ipynb`` files, so every chapter has a jupytext-paired ``book/NAME.ipynb`` beside it, without
outputs, committed to the repository and left out of the Sphinx build. The pair is regenerated
with ``python -m cnnbook notebooks`` (or ``make notebooks``), which uses ``jupytext --update`` so
that the cell ids of an existing notebook stay the same, and :func:`out_of_sync` lists the pairs
that differ (a test runs it).

Each chapter's first cell installs the ``cnnbook`` package when it is missing (a fresh Colab
runtime). It is tagged ``remove-cell`` (not shown on the website) and ``skip-execution`` (not run
by the book's build), and its repository address comes from one place, ``repository.url`` in
``_config.yml``; ``python -m cnnbook notebooks`` rewrites the cell when that address changes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
INSTALL_TAGS = ("remove-cell", "skip-execution")
INSTALL_FIRST_LINE = "# Colab, or any Python without the book's package: install cnnbook first."
_INSTALL_CELL = re.compile(
    r"```\{code-cell\} ipython3\n:tags: \[remove-cell, skip-execution\]\n\n"
    + re.escape(INSTALL_FIRST_LINE) + r"\n.*?```\n\n", re.S)


def repository_url(root: Path = ROOT) -> str:
    """``repository.url`` from ``_config.yml``: the one place the repository's address is kept."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    try:
        url = config["repository"]["url"]
    except (KeyError, TypeError):
        raise ValueError(f"{root / '_config.yml'} has no repository.url; the install cell needs it") from None
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise ValueError(f"repository.url must be https://github.com/OWNER/NAME, got {url!r}")
    return url


def install_cell(url: str) -> str:
    """The MyST source of the install cell for the repository at ``url``."""
    return (
        "```{code-cell} ipython3\n"
        f":tags: [{', '.join(INSTALL_TAGS)}]\n\n"
        f"{INSTALL_FIRST_LINE}\n"
        "import importlib.util\n"
        "import subprocess\n"
        "import sys\n\n"
        'if importlib.util.find_spec("cnnbook") is None:\n'
        f'    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "cnnbook @ git+{url}"])\n'
        "    importlib.invalidate_caches()\n"
        "```\n\n"
    )


def chapters(root: Path = ROOT) -> list[Path]:
    """Every notebook page in ``_toc.yml`` (a ``.md`` with jupytext front matter), in reading order;
    plain pages such as the references are not notebooks."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    names = [toc["root"]]

    def walk(entries: list) -> None:
        for entry in entries:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections", []))

    walk(toc.get("chapters", []))
    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    pages = [root / f"{name}.md" for name in names]
    return [page for page in pages if page.read_text().startswith("---\njupytext:")]


def with_install_cell(text: str, url: str) -> str:
    """The chapter's text with the install cell (for ``url``) as its first cell: placed right
    after the front matter, or replacing the one that is there."""
    cell = install_cell(url)
    if _INSTALL_CELL.search(text):
        return _INSTALL_CELL.sub(lambda _: cell, text, count=1)
    match = re.match(r"---\n.*?\n---\n\n?", text, re.S)
    if not match:
        raise ValueError("a chapter must start with jupytext front matter (---) so that it is a notebook")
    return text[:match.end()] + cell + text[match.end():]


def _notebook_json(md: Path) -> dict:
    """The notebook jupytext makes of ``md``, as JSON, cell ids left out."""
    import jupytext

    nb = json.loads(jupytext.writes(jupytext.read(md), fmt="ipynb"))
    return _without_ids(nb)


def _without_ids(nb: dict) -> dict:
    for cell in nb["cells"]:
        cell.pop("id", None)
    return nb


def out_of_sync(root: Path = ROOT) -> list[str]:
    """What is wrong with the chapter/notebook pairs: a missing install cell, a wrong repository
    address in it, a missing ``.ipynb``, or one whose cells differ from its ``.md``."""
    url = repository_url(root)
    problems = []
    for md in chapters(root):
        name = md.relative_to(root)
        text = md.read_text()
        if with_install_cell(text, url) != text:
            problems.append(f"{name}: the install cell is missing or does not point at {url}")
        ipynb = md.with_suffix(".ipynb")
        if not ipynb.is_file():
            problems.append(f"{ipynb.relative_to(root)} is missing")
            continue
        committed = _without_ids(json.loads(ipynb.read_text()))
        if any(cell.get("outputs") for cell in committed["cells"]):
            problems.append(f"{ipynb.relative_to(root)} holds outputs; the pair must be committed without them")
        if committed != _notebook_json(md):
            problems.append(f"{ipynb.relative_to(root)} differs from {name}")
    return problems


def regenerate(root: Path = ROOT, quiet: bool = False) -> list[Path]:
    """Put the install cell in every chapter and rewrite each ``.ipynb`` from its ``.md`` with
    ``jupytext --update`` (cell ids kept). Returns the notebooks written."""
    url = repository_url(root)
    written = []
    for md in chapters(root):
        text = md.read_text()
        updated = with_install_cell(text, url)
        if updated != text:
            md.write_text(updated)
        subprocess.run([sys.executable, "-m", "jupytext", "--quiet", "--update", "--to", "ipynb", str(md)],
                       check=True, capture_output=quiet)
        written.append(md.with_suffix(".ipynb"))
    return written
