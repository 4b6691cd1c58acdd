"""The chapters as Jupyter notebooks for Colab and Binder, written for readers.

Each chapter is written once, as a MyST markdown notebook (``book/NAME.md``) that Jupyter Book
builds into a web page. Colab opens only ``.ipynb`` files, so every chapter has a generated
``book/NAME.ipynb`` beside it, committed without outputs and left out of the Sphinx build.
``python -m cnnbook notebooks`` (or ``make notebooks``) writes them; :func:`out_of_sync` lists the
ones that differ from what it would write (a test runs it).

A notebook is not a copy of the MyST source: :mod:`cnnbook.build.myst` rewrites every markdown
cell as Markdown that Colab and JupyterLab render. This module holds the rest: which pages are
chapters (:func:`chapters`, from :mod:`cnnbook.build.bookconfig`), the install cell, each cell's
metadata and content-hash id, :func:`reader_notebook`, and writing or checking the ``.ipynb`` files.

The Chinese edition has its own notebooks, ``book/zh_TW/NAME.ipynb``, which the Chinese pages'
Colab and Binder buttons open: the same code cells, and markdown cells translated from the
catalogs in ``locales/zh_TW`` (:func:`cnnbook.build.myst.translate_myst`), linking to the Chinese
pages. A notebook whose page has an untranslated or fuzzy message is not written, and
:func:`out_of_sync` says which messages.

Each notebook's first cell installs the ``cnnbook`` package where it is missing (a fresh Colab
runtime), from ``repository.url`` and ``repository.branch`` in ``_config.yml``, keeping the torch
and torchvision already installed. In the chapter source it is tagged ``remove-cell`` (not on the
website) and ``skip-execution`` (not run by the build). Under each chapter's title, the web page
(through :mod:`cnnbook.build.sphinxext`) and the notebook say what running it costs, read from
``cnnbook/report.json`` (:mod:`cnnbook.costs`).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from .. import costs
# Where the book lives; callers reach these through this module too (notebooks.chapters, ...).
from .bookconfig import ROOT, chapters, repository_branch, repository_url, website_url  # noqa: F401
from . import i18n
from .myst import Context, Untranslated, to_jupyter_markdown, translate_myst

INSTALL_TAGS = ("remove-cell", "skip-execution")
INSTALL_FIRST_LINE = "# Colab, or any Python without the book's package: install cnnbook first."
_INSTALL_CELL = re.compile(
    r"```\{code-cell\} ipython3\n:tags: \[remove-cell, skip-execution\]\n\n"
    + re.escape(INSTALL_FIRST_LINE) + r"\n.*?```\n\n", re.S)


# --- the install cell --------------------------------------------------------------------------------


def install_cell(url: str, branch: str = "main") -> str:
    """The MyST source of the install cell for the repository at ``url``, branch ``branch``."""
    return (
        "```{code-cell} ipython3\n"
        f":tags: [{', '.join(INSTALL_TAGS)}]\n\n"
        f"{INSTALL_FIRST_LINE}\n"
        "import importlib.util\n"
        "import subprocess\n"
        "import sys\n"
        "from importlib.metadata import PackageNotFoundError, version\n\n"
        'if importlib.util.find_spec("cnnbook") is None:\n'
        f'    source = "cnnbook @ git+{url}@{branch}"\n'
        "    keep = []  # the torch and torchvision already here (Colab's own builds) stay as they are\n"
        '    for name in ("torch", "torchvision"):\n'
        "        try:\n"
        '            keep.append(f"{name}=={version(name)}")\n'
        "        except PackageNotFoundError:\n"
        "            pass\n"
        '    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", source, *keep],\n'
        "                         capture_output=True, text=True)\n"
        "    if pip.returncode != 0:\n"
        '        raise RuntimeError(f"pip could not install {source}:\\n{pip.stderr[-3000:]}")\n'
        "    importlib.invalidate_caches()\n"
        '    print("installed", source)\n'
        "```\n\n"
    )


def with_install_cell(text: str, url: str, branch: str = "main") -> str:
    """The chapter's text with the install cell (for ``url`` at ``branch``) as its first cell:
    placed right after the front matter, or replacing the one that is there."""
    cell = install_cell(url, branch)
    if _INSTALL_CELL.search(text):
        return _INSTALL_CELL.sub(lambda _: cell, text, count=1)
    match = re.match(r"---\n.*?\n---\n\n?", text, re.S)
    if not match:
        raise ValueError("a chapter must start with jupytext front matter (---) so that it is a notebook")
    return text[:match.end()] + cell + text[match.end():]


#: The line under a notebook's title that says what it is ({0}: its page on the website).
NOTEBOOK_NOTE = ("*This is the notebook of [a page of cnnbook]({0}), the book's website. Where the page "
                 "quotes a number that a cell computes, this notebook names it in bold code, like "
                 "**`this`**, and the hidden cell above the text prints its value from your own run.*")
#: The editions that have notebooks: None (English) and the Chinese edition's language.
LANGUAGES = (None, i18n.LANGUAGE)


#: The first line of a Chinese notebook's second cell, which makes the package speak Chinese.
SPEAK_FIRST_LINE = "# 中文版：套件自己寫出的文字（印出的句子、未訓練網路的說明框、計算器）也用中文顯示"


def speak_cell(page_code: list[str], phrases: dict[str, str]) -> str:
    """The cell that makes the package say in Chinese what a page's code has it write: the
    translations (from ``phrases``, ``phrases.po``'s finished ones) of the phrases the page's cells
    glue and of the package's own widgets, passed to :func:`cnnbook.words.speak`."""
    wanted = [text for code in page_code for text in i18n.cell_phrases(code)] + list(i18n.runtime_phrases())
    pairs = {text: phrases[text] for text in dict.fromkeys(wanted) if text in phrases}
    lines = ",\n".join(f"    {json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}"
                        for k, v in pairs.items())
    return f"{SPEAK_FIRST_LINE}\nfrom cnnbook import words\n\nwords.speak({{\n{lines},\n}})\n"


def notebook_path(md: Path, language: str | None = None) -> Path:
    """Where the notebook of chapter ``md`` is: ``book/NAME.ipynb``, or ``book/zh_TW/NAME.ipynb``."""
    return md.with_suffix(".ipynb") if language is None else md.parent / language / f"{md.stem}.ipynb"


# --- the notebook -------------------------------------------------------------------------------------


def _cell_id(source: str, seen: set[str]) -> str:
    base = hashlib.sha1(source.encode()).hexdigest()[:12]
    cell_id, n = base, 1
    while cell_id in seen:
        n += 1
        cell_id = f"{base}-{n}"
    seen.add(cell_id)
    return cell_id


def _code_metadata(metadata: dict) -> dict:
    tags = metadata.get("tags", [])
    hidden = dict(metadata)
    jupyter = {}
    # Cells the web page hides keep their code out of the way in Jupyter (JupyterLab) and Colab.
    if {"remove-cell", "remove-input", "hide-input"} & set(tags):
        jupyter["source_hidden"] = True
        hidden["cellView"] = "form"
    if "hide-output" in tags:
        jupyter["outputs_hidden"] = True
    if jupyter:
        hidden["jupyter"] = jupyter
    return hidden


def reader_notebook(md: Path, root: Path = ROOT, report: dict | None = None,
                    language: str | None = None) -> dict:
    """The notebook a reader opens for chapter ``md``, as nbformat JSON (no outputs), in English or,
    with ``language``, translated from that edition's catalogs. Raises
    :class:`~cnnbook.build.myst.Untranslated` when a catalog lacks a message the notebook needs."""
    import jupytext

    docname = str(md.relative_to(root).with_suffix(""))
    source = jupytext.read(md)
    report = costs.load() if report is None else report
    if language is None:
        pages, words = None, (lambda english: english)
        ctx = Context(root, docname)
    else:
        pages, phrases, missing = i18n.finished(docname, root), i18n.finished(i18n.PHRASES, root), []

        def words(english: str) -> str:
            if english not in phrases:
                missing.append(english)
            return phrases.get(english, english)

        ctx = Context(root, docname, edition=f"{language}/", words=words)
    appendix = ctx.page_url(f"book/{costs.APPENDIX}")
    note = words(NOTEBOOK_NOTE).format(ctx.page_url(docname))
    cells, seen, titled = [], set(), False
    for cell in source.cells:
        text = cell.source
        if cell.cell_type == "markdown":
            if pages is not None:
                text = translate_myst(text, pages, docname)
            text = to_jupyter_markdown(text, ctx)
            if not titled:
                title = re.search(r"^# .*$", text, re.M)
                if title:
                    name = Path(docname).name
                    cost = costs.cost_note(name, report, None if name == costs.APPENDIX else appendix, words)
                    extra = note + "\n\n" + cost
                    text = text[:title.end()] + "\n\n" + extra + text[title.end():]
                    titled = True
            cells.append({"cell_type": "markdown", "id": _cell_id(text, seen), "metadata": {}, "source": text})
        else:
            cells.append({"cell_type": "code", "execution_count": None, "id": _cell_id(text, seen),
                          "metadata": _code_metadata(dict(cell.metadata)), "outputs": [], "source": text})
    if not titled:
        raise ValueError(f"{docname}: no '# title' line, so the notebook has nowhere to say what it is")
    if language is not None:
        if missing:
            raise Untranslated(f"{i18n.PHRASES} (for {docname})", sorted(set(missing)))
        # right after the install cell: the package speaks Chinese from here on
        code = [cell.source for cell in source.cells if cell.cell_type == "code"]
        speak = speak_cell(code, phrases)
        cells.insert(1, {"cell_type": "code", "execution_count": None, "id": _cell_id(speak, seen),
                         "metadata": {"cellView": "form", "jupyter": {"source_hidden": True}},
                         "outputs": [], "source": speak})
    for cell in cells:  # nbformat keeps sources as lists of lines
        cell["source"] = cell["source"].splitlines(keepends=True)
    return {
        "cells": cells,
        "metadata": {
            "colab": {"provenance": []},
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            **({"cnnbook": {"language": language}} if language else {}),
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def _expected(md: Path, root: Path, report: dict, language: str | None) -> str:
    return _dumps(reader_notebook(md, root, report, language))


def out_of_sync(root: Path = ROOT) -> list[str]:
    """What is wrong with the chapters' notebooks: a missing or stale install cell in a chapter, a
    missing notebook (English or Chinese), one that differs from what :func:`regenerate` would
    write, or messages a Chinese notebook needs that its catalogs do not translate yet."""
    url, branch = repository_url(root), repository_branch(root)
    report = costs.load()
    problems = []
    for md in chapters(root):
        name = md.relative_to(root)
        text = md.read_text()
        if with_install_cell(text, url, branch) != text:
            problems.append(f"{name}: the install cell is missing or does not install {url}@{branch}")
        for language in LANGUAGES:
            ipynb = notebook_path(md, language)
            shown = ipynb.relative_to(root)
            try:
                expected = _expected(md, root, report, language)
            except Untranslated as err:
                problems.append(f"{shown} cannot be written: {err}")
                continue
            if not ipynb.is_file():
                problems.append(f"{shown} is missing")
                continue
            committed = ipynb.read_text()
            if any(cell.get("outputs") for cell in json.loads(committed)["cells"]):
                problems.append(f"{shown} holds outputs; notebooks are committed without them")
            if committed != expected:
                problems.append(f"{shown} differs from {name}")
    return problems


def regenerate(root: Path = ROOT, quiet: bool = False) -> list[Path]:
    """Put the install cell in every chapter and write each chapter's notebooks, English and
    Chinese. Returns the notebooks written. A Chinese notebook whose messages are not all
    translated yet is not written (the old one is left; :func:`out_of_sync` reports it): run
    ``python -m cnnbook translations``, translate, and run this again."""
    url, branch = repository_url(root), repository_branch(root)
    report = costs.load()
    written = []
    for md in chapters(root):
        text = md.read_text()
        updated = with_install_cell(text, url, branch)
        if updated != text:
            md.write_text(updated)
        for language in LANGUAGES:
            ipynb = notebook_path(md, language)
            try:
                expected = _expected(md, root, report, language)
            except Untranslated as err:
                if not quiet:
                    print(f"not written: {ipynb.relative_to(root)}: {err}")
                continue
            ipynb.parent.mkdir(parents=True, exist_ok=True)
            ipynb.write_text(expected)
            if not quiet:
                print(f"wrote {ipynb.relative_to(root)}")
            written.append(ipynb)
    return written
