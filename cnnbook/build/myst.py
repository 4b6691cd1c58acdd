"""MyST markdown rewritten as the plain Markdown that Jupyter, Colab and JupyterLab render.

A chapter's notebook (:mod:`cnnbook.build.notebooks`) is not a copy of its MyST source: Jupyter
does not understand MyST's roles and directives, so :func:`to_jupyter_markdown` rewrites every
markdown cell:

* ``{glue:text}`name``` becomes **`name`** in bold code (written in HTML in a Chinese notebook). The hidden cell that computes it prints
  ``name = value`` from the reader's own run (:func:`cnnbook.glue.glue`); the build's number is
  never shown, because a reader's run may differ from it.
* ``{cite}`key``` becomes author-year text linking to the chapter's reference list, and the
  ``{bibliography}`` directive becomes that list (formatted by pybtex).
* Admonitions become block quotes with a bold title; a ``dropdown`` one (the exercises'
  solutions) becomes a collapsed HTML ``<details>`` block.
* ``(label)=`` targets become HTML anchors, and ``{ref}``/``{doc}`` references and links to other
  chapters link to the page on the website (``html.baseurl`` in ``_config.yml``; the Chinese
  edition's pages for a Chinese notebook).

A Chinese notebook is made from the same MyST text: :func:`translate_myst` first replaces every
paragraph, heading, list item and directive title by its translation from the page's catalog (the
messages are the ones Sphinx's gettext builder extracts, so the website and the notebook share
one translation), and the result is converted as above.

Anything else MyST-only is an error, so a new construct cannot reach a notebook unconverted;
:func:`leftover_myst` finds any that would.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import yaml

from .bookconfig import bib_path, website_url

_ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<content>[^`]*)`")
_FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>.*)$")
_TARGET = re.compile(r"^\((?P<label>[\w.:-]+)\)=[ \t]*$")
_OPTION = re.compile(r"^:(?P<key>[\w-]+):[ \t]*(?P<value>.*)$")
_LOCAL_LINK = re.compile(r"\]\((?!https?:|mailto:|#)(?P<path>[^)#\s]+?)\.(?:md|ipynb)(?P<anchor>#[^)\s]*)?\)")
_ADMONITIONS = {"note": "Note", "warning": "Warning", "tip": "Tip", "important": "Important",
                "caution": "Caution", "attention": "Attention", "danger": "Danger", "error": "Error",
                "hint": "Hint", "seealso": "See also"}
#: The words beside a collapsed solution's title in a notebook.
CLICK_TO_OPEN = "(click to open)"
#: What the converter itself writes in English: the Chinese edition's catalogs translate it.
PHRASES = (*_ADMONITIONS.values(), CLICK_TO_OPEN)
# What leftover_myst reports: any of these in a notebook's markdown means a reader sees raw MyST.
_LEFTOVERS = {
    "role": re.compile(r"\{[\w:-]+\}`"),
    "directive": re.compile(r"^[ \t]*(?:`{3,}|:{3,})\{[\w:-]+\}", re.M),
    "target": re.compile(r"^[ \t]*\([\w.:-]+\)=[ \t]*$", re.M),
    "substitution": re.compile(r"\{\{[^}]*\}\}"),
    "directive option": re.compile(r"^[ \t]*:[\w-]+:[ \t]", re.M),
}


class Context:
    """What converting a chapter needs to know beyond its own text. ``edition`` is the folder of the
    website's edition that links go to (``"zh_TW/"`` for the Chinese one, ``""`` for English), and
    ``words`` turns the converter's own English words (a note's title) into the edition's."""

    def __init__(self, root: Path, docname: str, edition: str = "",
                 words: Callable[[str], str] = lambda english: english):
        self.root = root
        self.docname = docname
        self.website = website_url(root)
        self.edition = edition
        self.words = words
        self.cited: list[str] = []

    def page_url(self, docname: str, anchor: str = "") -> str:
        return f"{self.website}{self.edition}{docname}.html{anchor}"

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
    entries = _bibliography(bib_path(ctx.root))
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
    entries = _bibliography(bib_path(ctx.root))
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
        if ctx.edition:  # beside Chinese characters, ** cannot open bold (CommonMark's flanking rules)
            return f"<b><code>{name}</code></b>"
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
    raise ValueError(f"{ctx.docname}: the MyST role {{{role}}} has no Jupyter equivalent in cnnbook.build.myst; "
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
        title = arg.strip() or ctx.words(_ADMONITIONS.get(name, "Note"))
        if name != "admonition" and arg.strip():
            inner = arg.strip() + "\n\n" + inner  # a note's argument is the first line of its body
            title = ctx.words(_ADMONITIONS[name])
        if "dropdown" in options.get("class", "").split():
            return f"<details>\n<summary><b>{title}</b> {ctx.words(CLICK_TO_OPEN)}</summary>\n\n{inner.strip()}\n\n</details>"
        return _quote(title, inner)
    raise ValueError(f"{ctx.docname}: the MyST directive {{{name}}} has no Jupyter equivalent in cnnbook.build.myst; "
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


# --- a page in another language ------------------------------------------------------------------


def _parser():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.amsmath import amsmath_plugin
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    return MarkdownIt("commonmark").use(dollarmath_plugin).use(amsmath_plugin)


def message(text: str) -> str:
    """A block's text as Sphinx's gettext builder extracts it: its lines joined by spaces."""
    return text.replace("\n", " ").strip()


class Untranslated(LookupError):
    """Messages of a page that its catalog does not translate."""

    def __init__(self, docname: str, messages: list[str]):
        self.messages = messages
        shown = "; ".join(repr(m if len(m) < 60 else m[:57] + "...") for m in messages[:3])
        super().__init__(f"{docname}: {len(messages)} message(s) have no translation in the catalog "
                         f"(run: python -m cnnbook translations): {shown}")


def translate_myst(text: str, translations: dict[str, str], docname: str = "") -> str:
    """One markdown cell of a MyST chapter with every paragraph, heading, list item and directive
    title replaced by its translation in ``translations`` (English message -> translated text).
    Code, math and directives' options are left as they are. Raises :class:`Untranslated`, listing
    every message that has no translation."""
    missing: list[str] = []
    out = _translate_lines(text, translations, missing)
    if missing:
        raise Untranslated(docname, missing)
    return out


def _translate_lines(text: str, translations: dict[str, str], missing: list[str]) -> str:
    lines = text.split("\n")
    tokens = _parser().parse(text)
    edits: list[tuple[int, int, list[str]]] = []  # (first line, end line, new lines)

    def translated(english: str) -> str:
        msg = message(english)
        if msg not in translations:
            missing.append(msg)
            return msg
        return message(translations[msg])

    for i, token in enumerate(tokens):
        if token.type == "inline" and token.map and token.content.strip():
            if _TARGET.match(token.content.strip()):
                continue
            start, end = token.map
            first = lines[start].rstrip()
            head = token.content.split("\n", 1)[0].strip()
            prefix = first[:-len(head)] if first.endswith(head) else first[:len(first) - len(first.lstrip())]
            edits.append((start, end, [prefix + translated(token.content)]))
        elif token.type == "fence" and token.info.startswith("{") and token.map:
            name, _, arg = token.info.partition(" ")
            if name in ("{code-cell}", "{bibliography}", "{cnnbook-glossary}"):
                continue
            start, end = token.map
            opening = lines[start]
            if arg.strip():
                opening = opening[:opening.rindex(arg.strip())] + translated(arg)
            indent = opening[:len(opening) - len(opening.lstrip())]  # a directive inside a list item
            body = [line[len(indent):] if line.startswith(indent) else line for line in lines[start + 1:end - 1]]
            options = 0
            while options < len(body) and _OPTION.match(body[options]):
                options += 1
            inner = _translate_lines("\n".join(body[options:]), translations, missing).split("\n")
            new = [opening, *(indent + line if line else line for line in body[:options] + inner), lines[end - 1]]
            edits.append((start, end, new))
    for start, end, new in sorted(edits, reverse=True):
        lines[start:end] = new
    return "\n".join(lines)


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
