"""The chapters as Jupyter notebooks for Colab and Binder, written for readers.

Each chapter is written once, as a MyST markdown notebook (``book/NAME.md``) that Jupyter Book
builds into a web page. Colab opens only ``.ipynb`` files, so every chapter has a generated
``book/NAME.ipynb`` beside it, committed without outputs and left out of the Sphinx build.
``python -m cnnbook notebooks`` (or ``make notebooks``) writes them; :func:`out_of_sync` lists the
ones that differ from what it would write (a test runs it).

A notebook is not a copy of the MyST source: Jupyter does not understand MyST's roles and
directives, so :func:`to_jupyter_markdown` rewrites every markdown cell into Markdown that Colab
and JupyterLab render:

* ``{glue:text}`name``` becomes **`name`** in bold code. The hidden cell that computes it prints
  ``name = value`` from the reader's own run (:func:`cnnbook.glue.glue`); the build's number is
  never shown, because a reader's run may differ from it.
* ``{cite}`key``` becomes author-year text linking to the chapter's reference list, and the
  ``{bibliography}`` directive becomes that list.
* Admonitions become block quotes with a bold title; a ``dropdown`` one (the exercises'
  solutions) becomes a collapsed HTML ``<details>`` block.
* ``(label)=`` targets become HTML anchors, and ``{ref}``/``{doc}`` references and links to other
  chapters link to the page on the website (``html.baseurl`` in ``_config.yml``).

Anything else MyST-only is an error, so a new construct cannot reach a notebook unconverted;
:func:`leftover_myst` finds any that would.

Each notebook's first cell installs the ``cnnbook`` package where it is missing (a fresh Colab
runtime), from ``repository.url`` and ``repository.branch`` in ``_config.yml``, keeping the torch
and torchvision already installed. In the chapter source it is tagged ``remove-cell`` (not on the
website) and ``skip-execution`` (not run by the build). Under each chapter's title, the web page
(through :mod:`cnnbook.build.sphinxext`) and the notebook say what running it costs, read from
``cnnbook/report.json`` (:mod:`cnnbook.costs`).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path

import yaml

from .. import costs

ROOT = Path(__file__).resolve().parents[2]  # the repository: cnnbook/build/notebooks.py
INSTALL_TAGS = ("remove-cell", "skip-execution")
INSTALL_FIRST_LINE = "# Colab, or any Python without the book's package: install cnnbook first."
_INSTALL_CELL = re.compile(
    r"```\{code-cell\} ipython3\n:tags: \[remove-cell, skip-execution\]\n\n"
    + re.escape(INSTALL_FIRST_LINE) + r"\n.*?```\n\n", re.S)


# --- where the book lives ----------------------------------------------------------------------------


def _config(root: Path) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text())


def repository_url(root: Path = ROOT) -> str:
    """``repository.url`` from ``_config.yml``: the one place the repository's address is kept."""
    try:
        url = _config(root)["repository"]["url"]
    except (KeyError, TypeError):
        raise ValueError(f"{root / '_config.yml'} has no repository.url; the install cell needs it") from None
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", str(url)):
        raise ValueError(f"repository.url must be https://github.com/OWNER/NAME, got {url!r}")
    return url


def repository_branch(root: Path = ROOT) -> str:
    """``repository.branch`` from ``_config.yml``: the branch the launch buttons open and the
    install cell installs from."""
    branch = (_config(root).get("repository") or {}).get("branch", "main")
    if not re.fullmatch(r"[\w./-]+", str(branch)):
        raise ValueError(f"repository.branch must be a git branch name, got {branch!r}")
    return str(branch)


def website_url(root: Path = ROOT) -> str:
    """``html.baseurl`` from ``_config.yml``: where the published book lives, ending in ``/``."""
    url = ((_config(root).get("html") or {}).get("baseurl") or "")
    if not re.fullmatch(r"https://\S+/", str(url)):
        raise ValueError(f"html.baseurl in _config.yml must be the published book's https address ending in /, "
                         f"got {url!r}")
    return url


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


# --- MyST to the Markdown that Jupyter renders ---------------------------------------------------------

_ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<content>[^`]*)`")
_FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>.*)$")
_TARGET = re.compile(r"^\((?P<label>[\w.:-]+)\)=[ \t]*$")
_OPTION = re.compile(r"^:(?P<key>[\w-]+):[ \t]*(?P<value>.*)$")
_LOCAL_LINK = re.compile(r"\]\((?!https?:|mailto:|#)(?P<path>[^)#\s]+?)\.(?:md|ipynb)(?P<anchor>#[^)\s]*)?\)")
_ADMONITIONS = {"note": "Note", "warning": "Warning", "tip": "Tip", "important": "Important",
                "caution": "Caution", "attention": "Attention", "danger": "Danger", "error": "Error",
                "hint": "Hint", "seealso": "See also"}
# What leftover_myst reports: any of these in a notebook's markdown means a reader sees raw MyST.
_LEFTOVERS = {
    "role": re.compile(r"\{[\w:-]+\}`"),
    "directive": re.compile(r"^[ \t]*(?:`{3,}|:{3,})\{[\w:-]+\}", re.M),
    "target": re.compile(r"^[ \t]*\([\w.:-]+\)=[ \t]*$", re.M),
    "substitution": re.compile(r"\{\{[^}]*\}\}"),
    "directive option": re.compile(r"^[ \t]*:[\w-]+:[ \t]", re.M),
}


class Context:
    """What converting a chapter needs to know beyond its own text."""

    def __init__(self, root: Path, docname: str):
        self.root = root
        self.docname = docname
        self.website = website_url(root)
        self.cited: list[str] = []

    def page_url(self, docname: str, anchor: str = "") -> str:
        return f"{self.website}{docname}.html{anchor}"

    @property
    def labels(self) -> dict[str, str]:
        return _labels(self.root)


@lru_cache(maxsize=4)
def _labels(root: Path) -> dict[str, str]:
    """Every ``(label)=`` target in the book: label -> docname (``book/04-pooling``)."""
    found = {}
    for page in sorted((root / "book").glob("*.md")):
        for line in page.read_text().splitlines():
            match = _TARGET.match(line)
            if match:
                found[match["label"]] = str(page.relative_to(root).with_suffix(""))
    return found


@lru_cache(maxsize=4)
def _bibliography(path: Path) -> dict:
    from pybtex.database import parse_file

    return parse_file(str(path)).entries


def _bib_path(root: Path) -> Path:
    files = _config(root).get("bibtex_bibfiles") or []
    if not files:
        raise ValueError("_config.yml lists no bibtex_bibfiles, but a chapter cites")
    return root / files[0]


def _plain(latex: str) -> str:
    import latexcodec  # noqa: F401  (registers the "ulatex" codec)

    return codecs.decode(latex, "ulatex").replace("{", "").replace("}", "")


def _author_year(entry) -> str:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_plain(" ".join(p.last_names)) for p in people]
    if not names:
        who = _plain(entry.fields.get("title", "Anonymous"))
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


def _cite(content: str, ctx: Context) -> str:
    entries = _bibliography(_bib_path(ctx.root))
    links = []
    for key in (k.strip() for k in content.split(",")):
        if key not in entries:
            raise ValueError(f"{ctx.docname}: {{cite}} names {key!r}, which is not in the bibliography")
        if key not in ctx.cited:
            ctx.cited.append(key)
        links.append(f"[{_author_year(entries[key])}](#ref-{key})")
    return "(" + "; ".join(links) + ")"


def _reference_list(ctx: Context) -> str:
    """The ``{bibliography}`` directive: the entries this chapter cites, as a Markdown list."""
    from pybtex.plugin import find_plugin

    if not ctx.cited:
        return ""
    entries = _bibliography(_bib_path(ctx.root))
    style = find_plugin("pybtex.style.formatting", "plain")()
    formatted = style.format_entries(entries[key] for key in ctx.cited)
    items = []
    for item in sorted(formatted, key=lambda f: _author_year(entries[f.key])):
        text = " ".join(item.text.render_as("markdown").split())
        items.append(f'- <a id="ref-{item.key}"></a>{text}')
    return "\n".join(items)


def _role(match: re.Match, ctx: Context) -> str:
    role, content = match["role"], match["content"]
    if role in ("glue", "glue:text", "glue:"):
        name = content.split(":", 1)[0].strip()
        return f"**`{name}`**"
    if role == "cite" or role.startswith("cite:"):
        return _cite(content, ctx)
    if role == "math":
        return f"${content}$"
    if role in ("ref", "doc", "numref"):
        title, target = content, content
        explicit = re.fullmatch(r"(?P<title>.*?)\s*<(?P<target>[^>]+)>", content, re.S)
        if explicit:
            title, target = explicit["title"], explicit["target"]
        if role == "doc":
            docname = str((Path(ctx.docname).parent / target).as_posix()).lstrip("/")
            return f"[{title}]({ctx.page_url(docname)})"
        if target not in ctx.labels:
            raise ValueError(f"{ctx.docname}: {{{role}}} names the label {target!r}, which no page defines")
        return f"[{title}]({ctx.page_url(ctx.labels[target], '#' + target)})"
    raise ValueError(f"{ctx.docname}: the MyST role {{{role}}} has no Jupyter equivalent in cnnbook.build.notebooks; "
                     "add one or write the text without it")


def _inline(text: str, ctx: Context) -> str:
    text = _ROLE.sub(lambda m: _role(m, ctx), text)

    def local(match: re.Match) -> str:
        docname = (Path(ctx.docname).parent / match["path"]).as_posix()
        return f"]({ctx.page_url(docname, match['anchor'] or '')})"

    return _LOCAL_LINK.sub(local, text)


def _quote(title: str, body: str) -> str:
    lines = [f"**{title}**", ""] + body.strip("\n").splitlines()
    return "\n".join(f"> {line}".rstrip() for line in lines)


def _directive(name: str, arg: str, options: dict, body: str, ctx: Context) -> str:
    if name == "bibliography":
        return _reference_list(ctx)
    inner = to_jupyter_markdown(body, ctx)
    if name == "admonition" or name in _ADMONITIONS:
        title = arg.strip() or _ADMONITIONS.get(name, "Note")
        if name != "admonition" and arg.strip():
            inner = arg.strip() + "\n\n" + inner  # a note's argument is the first line of its body
            title = _ADMONITIONS[name]
        if "dropdown" in options.get("class", "").split():
            return f"<details>\n<summary><b>{title}</b> (click to open)</summary>\n\n{inner.strip()}\n\n</details>"
        return _quote(title, inner)
    raise ValueError(f"{ctx.docname}: the MyST directive {{{name}}} has no Jupyter equivalent in cnnbook.build.notebooks; "
                     "add one or write the text without it")


def to_jupyter_markdown(text: str, ctx: Context) -> str:
    """One markdown cell of a MyST chapter, rewritten as Markdown that Jupyter renders."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    in_code = None  # the fence of a plain code block (```python), whose text is left alone
    while i < len(lines):
        line = lines[i]
        if in_code is not None:
            out.append(line)
            if line.strip() == in_code:
                in_code = None
            i += 1
            continue
        fence = _FENCE.match(line)
        if fence:
            marker = fence["fence"]
            i += 1
            options: dict[str, str] = {}
            if i < len(lines) and lines[i].strip() == "---":  # options as a YAML block
                end = lines.index("---", i + 1)
                options = {k: str(v) for k, v in (yaml.safe_load("\n".join(lines[i + 1:end])) or {}).items()}
                i = end + 1
            while i < len(lines) and _OPTION.match(lines[i]):
                option = _OPTION.match(lines[i])
                options[option["key"]] = option["value"].strip()
                i += 1
            body = []
            while i < len(lines) and lines[i].strip() != marker:
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise ValueError(f"{ctx.docname}: the {{{fence['name']}}} directive opened with {marker} is never closed")
            i += 1
            out.append(_directive(fence["name"], fence["arg"], options, "\n".join(body), ctx))
            continue
        plain_fence = re.match(r"^(`{3,}|~{3,})", line)
        if plain_fence:
            in_code = plain_fence.group(1)
            out.append(line)
            i += 1
            continue
        target = _TARGET.match(line)
        if target:
            out.append(f'<a id="{target["label"]}"></a>')
            i += 1
            continue
        out.append(_inline(line, ctx))
        i += 1
    return "\n".join(out)


def _prose(markdown: str) -> str:
    """``markdown`` without its plain code blocks (```` ```python ````), which may show anything."""
    kept, directives, code = [], [], None
    for line in markdown.splitlines():
        stripped = line.strip()
        if code is not None:
            code = None if stripped == code else code
            continue
        fence = re.match(r"^(`{3,}|~{3,}|:{3,})(.*)$", stripped)
        if fence and directives and stripped == directives[-1]:
            directives.pop()
        elif fence and fence.group(2).startswith("{"):
            directives.append(fence.group(1))
        elif fence and not fence.group(1).startswith(":"):
            code = fence.group(1)
            continue
        kept.append(line)
    return "\n".join(kept)


def leftover_myst(markdown: str) -> list[str]:
    """The MyST-only syntax left in ``markdown`` (what a reader of the notebook would see raw),
    outside code blocks and inline code, as ``"kind: text"`` strings."""
    prose = re.sub(r"(?<![`}])`[^`\n]+`", "``", _prose(markdown))  # inline code, but not a role's content
    found = []
    for kind, pattern in _LEFTOVERS.items():
        found += [f"{kind}: {m.group(0).strip()}" for m in pattern.finditer(prose)]
    return found


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


def reader_notebook(md: Path, root: Path = ROOT, report: dict | None = None) -> dict:
    """The notebook a reader opens for chapter ``md``, as nbformat JSON (no outputs)."""
    import jupytext

    docname = str(md.relative_to(root).with_suffix(""))
    ctx = Context(root, docname)
    source = jupytext.read(md)
    report = costs.load() if report is None else report
    appendix = ctx.page_url(f"book/{costs.APPENDIX}")
    note = ("*This is the notebook of [a page of cnnbook]({web}{doc}.html), the book's website. Where the page quotes a number that a cell computes, this "
            "notebook names it in bold code, like **`this`**, and the hidden cell above the text prints "
            "its value from your own run.*").format(web=ctx.website, doc=docname)
    cells, seen, titled = [], set(), False
    for cell in source.cells:
        text = cell.source
        if cell.cell_type == "markdown":
            text = to_jupyter_markdown(text, ctx)
            if not titled:
                title = re.search(r"^# .*$", text, re.M)
                if title:
                    name = Path(docname).name
                    extra = note + "\n\n" + costs.cost_note(name, report, None if name == costs.APPENDIX else appendix)
                    text = text[:title.end()] + "\n\n" + extra + text[title.end():]
                    titled = True
            cells.append({"cell_type": "markdown", "id": _cell_id(text, seen), "metadata": {}, "source": text})
        else:
            cells.append({"cell_type": "code", "execution_count": None, "id": _cell_id(text, seen),
                          "metadata": _code_metadata(dict(cell.metadata)), "outputs": [], "source": text})
    if not titled:
        raise ValueError(f"{docname}: no '# title' line, so the notebook has nowhere to say what it is")
    for cell in cells:  # nbformat keeps sources as lists of lines
        cell["source"] = cell["source"].splitlines(keepends=True)
    return {
        "cells": cells,
        "metadata": {
            "colab": {"provenance": []},
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def out_of_sync(root: Path = ROOT) -> list[str]:
    """What is wrong with the chapters' notebooks: a missing or stale install cell in a chapter, a
    missing ``.ipynb``, or one that differs from what :func:`regenerate` would write."""
    url, branch = repository_url(root), repository_branch(root)
    report = costs.load()
    problems = []
    for md in chapters(root):
        name = md.relative_to(root)
        text = md.read_text()
        if with_install_cell(text, url, branch) != text:
            problems.append(f"{name}: the install cell is missing or does not install {url}@{branch}")
        ipynb = md.with_suffix(".ipynb")
        if not ipynb.is_file():
            problems.append(f"{ipynb.relative_to(root)} is missing")
            continue
        committed = json.loads(ipynb.read_text())
        if any(cell.get("outputs") for cell in committed["cells"]):
            problems.append(f"{ipynb.relative_to(root)} holds outputs; notebooks are committed without them")
        if ipynb.read_text() != _dumps(reader_notebook(md, root, report)):
            problems.append(f"{ipynb.relative_to(root)} differs from {name}")
    return problems


def regenerate(root: Path = ROOT, quiet: bool = False) -> list[Path]:
    """Put the install cell in every chapter and write each chapter's ``.ipynb``. Returns the
    notebooks written."""
    url, branch = repository_url(root), repository_branch(root)
    report = costs.load()
    written = []
    for md in chapters(root):
        text = md.read_text()
        updated = with_install_cell(text, url, branch)
        if updated != text:
            md.write_text(updated)
        ipynb = md.with_suffix(".ipynb")
        ipynb.write_text(_dumps(reader_notebook(md, root, report)))
        if not quiet:
            print(f"wrote {ipynb.relative_to(root)}")
        written.append(ipynb)
    return written
