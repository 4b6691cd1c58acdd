"""The Traditional Chinese edition's catalogs: one set of sources, translations that cannot drift.

The English chapters are the only sources. Their text reaches the translators through Sphinx's
gettext workflow: ``python -m cnnbook translations`` extracts every paragraph, heading, list item,
caption and alt text into templates (Sphinx's ``gettext`` builder, with MyST-NB told not to execute
anything), and merges them into ``locales/zh_TW/LC_MESSAGES/<page>.po``. A paragraph whose English
changed keeps its old translation marked *fuzzy* (gettext's word for "older than the English it
translates"); a new paragraph arrives untranslated. Both count as not done, and
``tests/test_translations.py`` fails while any is left, so an English edit cannot land without its
Chinese counterpart.

Cells compute some words as well as numbers: a chapter glues "higher" or "does not hold" into a
sentence, or a whole sentence with numbers in it. Those are *phrases*, collected from the code that
glues them (every string literal and f-string in the value a ``glue`` call receives, or in what the
same cell assigned to the name it receives) into ``phrases.po``. An f-string becomes a template
with numbered slots, ``{0} (class {1}, {2})``; the Chinese build matches the English text a cell
glued against the templates and fills the slots into the Chinese one, so the numbers come from the
one execution both editions share.
"""

from __future__ import annotations

import ast
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jupytext
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from ..words import prose_words  # noqa: F401  (i18n.prose_words: what a translation must not leave)
from .bookconfig import ROOT, chapters

#: The edition's language, as Sphinx names it.
LANGUAGE = "zh_TW"
#: Where the catalogs live: ``locales/zh_TW/LC_MESSAGES/<docname>.po``, Sphinx's layout.
LOCALES = "locales"
#: The catalog of text that cells compute (see the module's docstring).
PHRASES = "phrases"
#: Has two letters in a row: text a reader reads as words (``"3x3"`` or ``"0.25"`` is not).
WORDS = re.compile(r"[A-Za-z]{2}")
#: A name in code, not a phrase: no spaces, and a digit, an underscore or a dot in it ("conv1",
#: "features.3", "libraries_rss_mb").
IDENTIFIER = re.compile(r"(?=\S*[\d_.])[\w.-]+")


def catalog_dir(root: Path = ROOT) -> Path:
    return root / LOCALES / LANGUAGE / "LC_MESSAGES"


# --- phrases: the words cells compute -------------------------------------------------------------


def _template(node: ast.JoinedStr) -> str:
    """An f-string as a template: its literal text, ``{0}``, ``{1}``, ... for what it computes."""
    parts, slot = [], 0
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value).replace("{", "{{").replace("}", "}}"))
        else:
            parts.append("{%d}" % slot)
            slot += 1
    return "".join(parts)


def _texts(node: ast.AST) -> list[str]:
    """The string literals and f-string templates inside ``node`` that hold words (outside the
    format specs of f-strings and the arguments of ``join``)."""
    found: list[str] = []

    def visit(n: ast.AST) -> None:
        if isinstance(n, ast.JoinedStr):
            template = _template(n)
            if WORDS.search(re.sub(r"\{\d+\}", "", template)):
                found.append(template)
            for value in n.values:  # what the slots compute may hold phrases of its own
                if isinstance(value, ast.FormattedValue):
                    visit(value.value)
            return
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            if WORDS.search(n.value) and not IDENTIFIER.fullmatch(n.value):
                found.append(n.value)
            return
        if isinstance(n, ast.Subscript):  # table["FGSM"], report["chapter_s"]: keys, not prose
            visit(n.value)
            return
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in {"join", "format"}:
            for arg in n.args:
                visit(arg)
            return
        if isinstance(n, ast.keyword):
            return
        for child in ast.iter_child_nodes(n):
            visit(child)

    visit(node)
    return found


def _assigned(tree: ast.AST) -> dict[str, list[ast.AST]]:
    """Within one cell: every value assigned to each name, and every value a function defined in
    the cell returns (a glued ``said(answer)`` reads the phrases of ``said``)."""
    values: dict[str, list[ast.AST]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    values.setdefault(target.id, []).append(node.value)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            values.setdefault(node.target.id, []).append(node.value)
        elif isinstance(node, ast.FunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Return) and inner.value is not None:
                    values.setdefault(node.name, []).append(inner.value)
    return values


def cell_phrases(source: str) -> list[str]:
    """The phrases one code cell glues (see the module's docstring), and the alt text it gives an
    output (``alt="..."``), in order, without repeats."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # IPython magics; the book's cells that glue have none
    assigned = _assigned(tree)
    found: list[str] = []

    def collect(node: ast.AST, seen: set[str]) -> None:
        found.extend(_texts(node))
        for name in {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - seen:
            for value in assigned.get(name, []):
                collect(value, seen | {name})

    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "glue"
                and len(node.args) >= 2):
            collect(node.args[1], set())
        elif isinstance(node, ast.Call):  # alt text a call gives its output (an animation's)
            for keyword in node.keywords:
                if keyword.arg == "alt":
                    found.extend(_texts(keyword.value))
    return list(dict.fromkeys(found))


def phrases(root: Path = ROOT) -> dict[str, list[str]]:
    """Every phrase the book's cells glue: ``{phrase: [pages that glue it]}``."""
    found: dict[str, list[str]] = {}
    for page in chapters(root):
        for cell in jupytext.read(page).cells:
            if cell.cell_type == "code":
                for text in cell_phrases(cell.source):
                    found.setdefault(text, [])
                    if page.stem not in found[text]:
                        found[text].append(page.stem)
    return found


def runtime_phrases() -> dict[str, str]:
    """What the package writes itself when a reader runs a chapter (the notice, its reasons, the
    calculator, a listing): ``{text: the module that writes it}``. A Chinese notebook has it said in
    Chinese (:func:`cnnbook.build.notebooks.speak_cell`)."""
    from .. import glue, notice, weights, widgets

    return {**{text: "cnnbook/notice.py" for text in notice.WORDS.values()},
            **{text: "cnnbook/weights.py" for text in weights.REASONS.values()},
            **{text: "cnnbook/widgets.py" for text in widgets.CALCULATOR_WORDS.values()},
            glue.LISTING: "cnnbook/glue.py"}


def module_phrases(root: Path = ROOT) -> dict[str, list[str]]:
    """Text the book's own code writes into the pages (the cost note under each chapter's title)."""
    from .. import costs, datasets, viz
    from . import myst, notebooks
    from .bookconfig import author, title
    from .translate import CODE_PROMPTS, GLOSSARY_HEADINGS, PDF_FOOTER, SEARCH_BAR

    return {**{text: ["cnnbook/costs.py"] for text in costs.PHRASES},
            **{text: ["cnnbook/build/myst.py"] for text in myst.PHRASES},
            notebooks.NOTEBOOK_NOTE: ["cnnbook/build/notebooks.py"],
            **{text: [module] for text, module in runtime_phrases().items()},
            **{text: ["cnnbook/viz.py"] for text in viz.PLAYER_WORDS},
            **{text: ["cnnbook/build/translate.py"] for text in CODE_PROMPTS},
            PDF_FOOTER: ["cnnbook/build/translate.py"],
            SEARCH_BAR: ["cnnbook/build/translate.py"],
            title(root): ["_config.yml"],
            author(root): ["_config.yml"],
            **{text: ["cnnbook/build/translate.py"] for text in GLOSSARY_HEADINGS},
            **{text: ["cnnbook/datasets.py"] for text in datasets.SHAPES}}


def phrase_template(root: Path = ROOT) -> Catalog:
    template = Catalog(project="cnnbook", locale=None, fuzzy=False)
    found = {**module_phrases(root), **{t: [f"book/{p}.md" for p in pages] for t, pages in phrases(root).items()}}
    for text, pages in found.items():
        template.add(text, locations=[(page, 0) for page in pages],
                     flags=["python-brace-format"] if re.search(r"\{\d+\}", text) else [])
    return template


# --- the pages: Sphinx's gettext builder --------------------------------------------------------


def alt_texts(page: Path) -> list[str]:
    """The alt text a page's code cells give their figures (``mystnb: image: alt:`` metadata)."""
    found = []
    for cell in jupytext.read(page).cells:
        image = ((cell.metadata.get("mystnb") or {}).get("image") or {}) if cell.cell_type == "code" else {}
        if isinstance(image, dict) and image.get("alt"):
            found.append(str(image["alt"]))
    return found


def sphinx_build(root: Path, out: Path, doctrees: Path, builder: str, overrides: dict,
                 strict: bool = False, quiet: bool = False, write_all: bool = False) -> None:
    """What ``jupyter-book build ROOT`` does, with Sphinx settings of our own on top (``overrides``),
    a builder, an output folder and a doctree folder of our own; ``write_all`` writes every page, not
    only those whose sources changed. Raises ``RuntimeError`` when the build fails."""
    from jupyter_book.sphinx import build_sphinx

    root = Path(root)
    overrides = {"external_toc_path": (root / "_toc.yml").as_posix(), "latex_individualpages": False,
                 **overrides}
    result = build_sphinx(str(root), str(out), noconfig=True, path_config=str(root / "_config.yml"),
                          doctreedir=str(doctrees), confoverrides=overrides, builder=builder,
                          warningiserror=strict, keep_going=strict, really_quiet=quiet, force_all=write_all)
    if isinstance(result, Exception) or result:
        raise RuntimeError(f"the {builder} build of {root} failed: {result}")


def page_templates(root: Path = ROOT, out: Path | None = None) -> dict[str, Catalog]:
    """Every page's messages, ``{docname: template}``, from Sphinx's ``gettext`` builder run on the
    book without executing anything (the text is all in the sources)."""
    work = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="cnnbook-gettext-"))
    try:
        sphinx_build(root, work / "gettext", work / "doctrees", "gettext", quiet=True, overrides={
            "nb_execution_mode": "off", "gettext_compact": False, "gettext_uuid": False,
            "gettext_location": False, "gettext_additional_targets": ["image"],
            "suppress_warnings": ["mystnb", "myst", "bibtex"]})
        templates = {}
        for pot in sorted((work / "gettext").rglob("*.pot")):
            docname = pot.relative_to(work / "gettext").with_suffix("").as_posix()
            with pot.open("rb") as handle:
                templates[docname] = read_po(handle)
        for page in chapters(root):  # figures exist only once cells run: their alt text is in the cells
            docname = page.relative_to(root).with_suffix("").as_posix()
            for alt in alt_texts(page):
                templates.setdefault(docname, Catalog(locale=None)).add(alt)
        return templates
    finally:
        if out is None:
            shutil.rmtree(work, ignore_errors=True)


# --- merging and checking -----------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    """One message that still needs a translator: untranslated, or fuzzy (its English changed)."""

    catalog: str
    msgid: str
    fuzzy: bool

    def __str__(self) -> str:
        first = self.msgid.strip().splitlines()[0] if self.msgid.strip() else self.msgid
        what = "changed (fuzzy)" if self.fuzzy else "untranslated"
        return f"{self.catalog}.po: {what}: {first[:100]}"


def catalogs(root: Path = ROOT) -> list[tuple[str, Path]]:
    """Every catalog of the edition as ``(name, path)``: ``book/09-fooling``, ``phrases``, ..."""
    folder = catalog_dir(root)
    return [(path.relative_to(folder).with_suffix("").as_posix(), path)
            for path in sorted(folder.rglob("*.po"))] if folder.exists() else []


def _read(path: Path) -> Catalog | None:
    if not path.exists():
        return None
    with path.open("rb") as handle:
        return read_po(handle, locale=LANGUAGE)


def finished(name: str, root: Path = ROOT) -> dict[str, str]:
    """The finished translations of catalog ``name`` (``book/04-pooling``, ``phrases``): English ->
    Chinese, without the untranslated and the fuzzy messages. Empty when there is no such catalog."""
    catalog = _read(catalog_dir(root) / f"{name}.po")
    if catalog is None:
        return {}
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string and not m.fuzzy}


def _write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100, omit_header=False, ignore_obsolete=True, sort_output=False,
                 include_previous=True)


#: The theme's own labels ("Back to top", "Search", ...): Sphinx looks them up in the ``sphinx``
#: catalog, and the one the PyData theme ships for Chinese is in simplified characters.
THEME = "sphinx"


def theme_template() -> Catalog:
    """The labels of the PyData Sphinx theme (under the book theme), from its own template."""
    import pydata_sphinx_theme

    with (Path(pydata_sphinx_theme.__file__).parent / "locale" / "sphinx.pot").open("rb") as handle:
        return read_po(handle)


#: The book theme's own labels ("Launch on", "Download this page", ...) are in its ``booktheme``
#: catalog; the Chinese one it ships lacks the newer ones, and the edition's fills them in.
BOOK_THEME = "booktheme"


def book_theme_template() -> Catalog:
    """The labels sphinx-book-theme translates (``translation("...")`` in its code; it ships no
    template)."""
    import sphinx_book_theme

    template = Catalog(project="cnnbook", locale=None, fuzzy=False)
    for source in sorted(Path(sphinx_book_theme.__file__).parent.rglob("*.py")):
        for text in re.findall(r'\btranslation\("([^"]+)"\)', source.read_text()):
            template.add(text)
    return template


def templates(root: Path = ROOT) -> dict[str, Catalog]:
    """What the English sources say now: every page's template, the phrases' and the theme's."""
    found = page_templates(root)
    found[PHRASES] = phrase_template(root)
    found[THEME] = theme_template()
    found[BOOK_THEME] = book_theme_template()
    return found


def update(root: Path = ROOT, current: dict[str, Catalog] | None = None) -> list[Pending]:
    """Bring every ``.po`` up to date with the English sources and return what needs translating.

    A message whose English changed keeps its translation, marked fuzzy (gettext matches it to the
    old English that is most alike); new messages are added untranslated; messages the English no
    longer has are dropped; a page that is gone loses its catalog."""
    current = templates(root) if current is None else current
    folder = catalog_dir(root)
    for name, template in current.items():
        path = folder / f"{name}.po"
        catalog = _read(path) or Catalog(locale=LANGUAGE, project="cnnbook", fuzzy=False)
        catalog.update(template, no_fuzzy_matching=False, update_header_comment=False, update_creation_date=False)
        if name != PHRASES:  # a page's "99%" is not a format string: no format checks for translators
            for message in catalog:
                message.flags -= {"python-format", "python-brace-format"}
        _write(catalog, path)
    for name, path in catalogs(root):
        if name not in current:
            path.unlink()
            path.with_suffix(".mo").unlink(missing_ok=True)
    return pending(root)


def pending(root: Path = ROOT) -> list[Pending]:
    """Every message of every catalog that is untranslated or fuzzy."""
    left: list[Pending] = []
    for name, path in catalogs(root):
        catalog = _read(path)
        for message in catalog:
            if not message.id:
                continue  # the header
            if message.fuzzy:
                left.append(Pending(name, str(message.id), True))
            elif not message.string:
                left.append(Pending(name, str(message.id), False))
    return left


def out_of_date(root: Path = ROOT, current: dict[str, Catalog] | None = None) -> list[str]:
    """Catalogs whose messages are not exactly the English sources' messages (``update`` not run
    after an English edit): ``["<name>.po: N new, M gone", ...]``."""
    current = templates(root) if current is None else current
    folder = catalog_dir(root)
    problems = []
    for name, template in current.items():
        catalog = _read(folder / f"{name}.po")
        if catalog is None:
            problems.append(f"{name}.po is missing")
            continue
        want = {str(m.id) for m in template if m.id}
        have = {str(m.id) for m in catalog if m.id}
        if want != have:
            problems.append(f"{name}.po: {len(want - have)} new message(s), {len(have - want)} gone")
    for name, _ in catalogs(root):
        if name not in current:
            problems.append(f"{name}.po translates a page the book no longer has")
    return problems


# --- what a translation must keep, and the words it must not use ---------------------------------

_ROLE = re.compile(r"\{[\w:.-]+\}`[^`]*`")
_CODE = re.compile(r"``[^`]+``|`[^`]+`")
_DISPLAY_MATH = re.compile(r"\$\$.+?\$\$", re.S)
_MATH = re.compile(r"(?<![\\$])\$[^$\n]+\$(?!\$)")
_TARGET = re.compile(r"\]\(([^)\s]+)\)")
_SLOT = re.compile(r"\{\d+\}")
_TAG = re.compile(r"</?[a-z]+\b[^<>]*>")


def kept_parts(text: str) -> list[str]:
    """What a translation must carry over unchanged, as often as the English has it: MyST roles
    (a glued number, a citation, a cross-reference), inline code, math, link targets, HTML tags."""
    parts = []
    for pattern in (_ROLE, _DISPLAY_MATH):
        parts += pattern.findall(text)
        text = pattern.sub(" ", text)
    for pattern in (_CODE, _MATH):
        parts += pattern.findall(text)
        text = pattern.sub(" ", text)
    parts += ["](" + target + ")" for target in _TARGET.findall(text)]
    parts += _TAG.findall(text)
    return sorted(parts)


@dataclass(frozen=True)
class Term:
    """One glossary row: the English term, the Traditional Chinese the book uses, and the forms of
    other regions (mostly mainland China) that it must not use."""

    english: str
    chinese: str
    avoid: tuple[str, ...]


def glossary(root: Path = ROOT) -> list[Term]:
    """The book's terms, ``locales/glossary.tsv`` (columns ``english``, ``zh_TW``, ``avoid``; several
    avoided forms are separated by ``/``)."""
    rows = (root / LOCALES / "glossary.tsv").read_text(encoding="utf-8").splitlines()
    header, *body = [row.split("\t") for row in rows if row.strip()]
    if header[:3] != ["english", "zh_TW", "avoid"]:
        raise ValueError(f"{root / LOCALES / 'glossary.tsv'} must start with the columns english, zh_TW, avoid; "
                         f"got {header}")
    terms = []
    for row in body:
        row = (row + ["", "", ""])[:3]
        terms.append(Term(row[0].strip(), row[1].strip(),
                          tuple(form.strip() for form in row[2].split("/") if form.strip())))
    return terms


#: Characters OpenCC's simplified-to-traditional table changes that Taiwan writes as they are in
#: some words (明了, 峰值, 一群, 污染, 干擾, 台灣, 准許, 占據, 游泳, 風采, 叫吃, 周圍, 宣布, 沖洗, 公里, 皇后, 面對, 系統, 只有, 才能).
TRADITIONAL_TOO = set("了峰群污干台准占游范采吃周布沖里后面系只才余谷松丑卷斗借征朴仆")


def simplified(text: str) -> list[str]:
    """The characters of ``text`` that are simplified Chinese, not traditional: those OpenCC's
    simplified-to-traditional (Taiwan) table changes, less :data:`TRADITIONAL_TOO` (``[]`` where OpenCC
    is not installed)."""
    try:
        import opencc
    except ImportError:
        return []
    converter = opencc.OpenCC("s2tw")
    return sorted({a for a, b in zip(text, converter.convert(text)) if a != b and a not in TRADITIONAL_TOO})


def mainland_forms(text: str, terms: list[Term]) -> list[tuple[Term, str]]:
    """The glossary's avoided forms that ``text`` uses, outside the forms it prescribes (算法 is
    avoided, but not inside 演算法)."""
    prescribed = sorted({form for term in terms for form in re.split(r"[、（）/]", term.chinese) if form},
                        key=len, reverse=True)
    for form in prescribed:
        text = text.replace(form, "\0")
    return [(term, form) for term in terms for form in term.avoid if form in text]


def problems(msgid: str, msgstr: str, terms: list[Term] | None = None) -> list[str]:
    """Why a translation cannot stand: a part that must be kept is missing or changed, a slot of a
    template is lost, a mainland form or a simplified character is used. ``[]`` when it can."""
    if not msgstr:
        return []
    found = []
    want, have = kept_parts(msgid), kept_parts(msgstr)
    if want != have:
        lost = [p for p in want if want.count(p) > have.count(p)]
        added = [p for p in have if have.count(p) > want.count(p)]
        found.append(f"markup must be kept exactly: missing {sorted(set(lost))}, extra {sorted(set(added))}")
    slots_want = sorted(_SLOT.findall(_ROLE.sub("", msgid)))
    slots_have = sorted(_SLOT.findall(_ROLE.sub("", msgstr)))
    if slots_want != slots_have:
        found.append(f"template slots must be kept: {slots_want} in the English, {slots_have} in the translation")
    terms = glossary() if terms is None else terms
    for term, form in mainland_forms(msgstr, terms):
        found.append(f"uses {form!r}; Taiwan's courses say {term.chinese!r} ({term.english})")
    if re.match(r"\d+\. ", msgstr):
        found.append("starts with a number and a full stop, which Markdown reads as a numbered list: "
                     "write the number as `9\\.` (a title such as `9\\. 愚弄 CNN`)")
    chars = simplified(msgstr)
    if chars:
        found.append(f"simplified characters: {''.join(chars)}")
    return found


def lint(root: Path = ROOT) -> list[str]:
    """Every translation in every catalog that :func:`problems` objects to, one line each."""
    terms = glossary(root)
    lines = []
    for name, path in catalogs(root):
        for message in _read(path):
            if message.id and message.string:
                for problem in problems(str(message.id), str(message.string), terms):
                    lines.append(f"{name}.po: {str(message.id)[:60]!r}: {problem}")
    return lines
