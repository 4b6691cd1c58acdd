"""The Chinese edition's side of the build: translated glued text, and the catalogs' rules.

Sphinx translates the pages' own text from ``locales/zh_TW/LC_MESSAGES/<page>.po`` (its gettext
machinery). This module adds what Sphinx cannot know about:

* a translated paragraph is parsed on its own, outside the notebook it came from, so MyST-NB's
  ``{glue:text}`` roles in it would find no glued values; :func:`_stash_renderer` keeps the page's
  notebook at hand and :func:`_retrieve` lends it to them;
* a value glued as *text* ("higher", or a sentence with numbers in it) is English, computed by the
  one execution both editions share; :class:`Phrases` finds its translation in ``phrases.po``,
  by the exact text or by the f-string template it came from (see :mod:`cnnbook.build.i18n`), and a
  glued text with words that has none is a build warning, so the strict build fails on it;
* the package's own HTML in cell outputs (the untrained-network notice, the calculator) is written
  again with its words translated (:mod:`cnnbook.words`), MyST-NB's show/hide buttons are
  translated, and the launch buttons open the Chinese notebooks (``book/zh_TW/NAME.ipynb``).
"""

from __future__ import annotations

import argparse
import ast
import html
import os
import re
import subprocess
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

from .. import words as wording
from . import i18n

logger = logging.getLogger(__name__)

#: Five English words in a row: in a translated text, a sentence left untranslated (names of
#: ImageNet classes, kept in English, are shorter).
ENGLISH_RUN = re.compile(r"(?:\b[A-Za-z]+\b[ ,;:'-]+){4}[A-Za-z]+\b")


class Phrases(wording.Phrases):
    """Translations of glued text (:class:`cnnbook.words.Phrases`), read from ``phrases.po``."""

    @classmethod
    def from_catalog(cls, root: Path) -> "Phrases":
        """The finished translations of ``phrases.po`` in the book at ``root``."""
        return cls(i18n.finished(i18n.PHRASES, root))


@lru_cache(maxsize=4)
def phrases(root: str) -> Phrases:
    return Phrases.from_catalog(Path(root))


def _is_translated(document: nodes.document) -> bool:
    """Whether ``document`` is a translated paragraph that Sphinx parses on its own, apart from
    the notebook it belongs to (MyST-NB has let go of that notebook's glued values by then)."""
    return str(document.get("source", "")).endswith("<translated>")


def _glued_text(data: dict) -> str | None:
    """The text of a glued ``str`` (its text/plain is the repr), or None for anything else."""
    plain = data.get("text/plain")
    if not isinstance(plain, str) or plain[:1] not in {"'", '"'}:
        return None
    try:
        value = ast.literal_eval(plain)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


def _glue_file(env: Any) -> dict:
    """The values the page being read glued (``<docname>.glue.json`` in MyST-NB's output folder)."""
    import json

    if "cnnbook_glue" not in env.temp_data:  # read once per page, not once per glued value
        folder = getattr(getattr(env, "mystnb_config", None), "output_folder", None)
        path = Path(folder).joinpath(*(env.docname + ".glue.json").split("/")) if folder else None
        env.temp_data["cnnbook_glue"] = (json.loads(path.read_text(encoding="utf-8"))
                                         if path is not None and path.exists() else {})
    return env.temp_data["cnnbook_glue"]


def _patch_glue(app: Sphinx) -> None:
    """MyST-NB's glue roles and directives, made to work in translated paragraphs and to paste
    glued words in Chinese."""
    from myst_nb.ext.glue import directives, roles, utils

    original = utils.retrieve_glue_data
    if getattr(original, "_cnnbook", False):
        return

    def retrieve(document: nodes.document, key: str):
        env = getattr(document.settings, "env", None)
        if _is_translated(document) and env is not None:
            # MyST-NB wrote the page's glued values beside its executed notebook while parsing it
            glued = _glue_file(env).get(key)
            if glued is None:
                raise utils.RetrievalError(f"No key {key!r} found in glue data for this document.")
            result = utils.VariableOutput(data=glued["data"], metadata=glued.get("metadata", {}),
                                          nb_renderer=None, vtype="glue")
        else:
            result = original(document, key)
        text = _glued_text(result.data)
        if text is not None and i18n.prose_words(text):
            chinese = phrases(str(app.srcdir)).translate(text)
            if chinese is None:
                logger.warning(f"cnnbook: the glued text {key!r} = {text!r} has no translation in "
                               f"{i18n.LOCALES}/{i18n.LANGUAGE}/LC_MESSAGES/{i18n.PHRASES}.po; run "
                               "`python -m cnnbook translations` and translate it",
                               location=(env.docname, None) if env is not None else None)
            else:
                if ENGLISH_RUN.search(chinese):  # a template matched, but a slot holds an English sentence
                    logger.warning(f"cnnbook: the glued text {key!r} = {text!r} is only partly translated "
                                   f"({chinese!r}); give its sentence a translation in {i18n.PHRASES}.po",
                                   location=(env.docname, None) if env is not None else None)
                result.data = {**result.data, "text/plain": repr(chinese)}
        return result

    retrieve._cnnbook = True  # type: ignore[attr-defined]
    for module in (utils, roles, directives):
        if hasattr(module, "retrieve_glue_data"):
            module.retrieve_glue_data = retrieve


def phrase_translator(app: Sphinx):
    """For text the build writes itself (the cost note under a chapter's title): the identity in
    the English edition; in the Chinese one, the catalog's translation (a warning and the English
    where it has none)."""
    if not is_translation(app):
        return lambda text: text
    catalog = phrases(str(app.srcdir))

    def translate(text: str) -> str:
        chinese = catalog.exact.get(text)
        if chinese is None:
            logger.warning(f"cnnbook: {text[:60]!r} has no translation in {i18n.PHRASES}.po; run "
                           "`python -m cnnbook translations` and translate it")
            return text
        return chinese

    return translate


def is_translation(app: Sphinx) -> bool:
    return (app.config.language or "en") == i18n.LANGUAGE


#: The footer line of every page (``html.extra_footer`` in ``_config.yml`` is this sentence with
#: {0} the link to the PDF); the Chinese pages say it in Chinese and link to the Chinese PDF.
PDF_FOOTER = "The whole book on paper: {0}."
#: The search field's placeholder (jupyter-book's ``search_bar_text``), a theme option.
SEARCH_BAR = "Search this book..."
#: The PDF's file name, ``latex.latex_documents.targetname`` in ``_config.yml`` as a PDF.
PDF_NAME = "cnnbook.pdf"


def pdf_footer(baseurl: str, translate=lambda text: text) -> str:
    """The footer that links to the PDF published at ``baseurl``, in the words of ``translate``."""
    return "<p>" + translate(PDF_FOOTER).format(f'<a href="{baseurl}{PDF_NAME}">{PDF_NAME}</a>') + "</p>"


def _configure(app: Sphinx, config: Any) -> None:
    if (config.language or "en") != i18n.LANGUAGE:
        return
    config.locale_dirs = [str(Path(app.srcdir) / i18n.LOCALES)]
    config.gettext_compact = False
    _patch_glue(app)
    # the book's title (the page header, the PDF's title page) and the footer, in Chinese
    translate = phrase_translator(app)
    title = translate(config.html_title) if config.html_title else config.html_title
    config.html_title = config.project = title
    config.author = translate(config.author) if config.author else config.author
    options = dict(config.html_theme_options or {})
    if options.get("extra_footer") and config.html_baseurl:
        options["extra_footer"] = pdf_footer(config.html_baseurl, translate)  # html_baseurl: .../zh_TW/
    options["search_bar_text"] = translate(SEARCH_BAR)
    config.html_theme_options = options
    # the book theme's labels its own Chinese catalog lacks: ours is its fallback, compiled now
    # (Sphinx compiles the pages' catalogs later, once the theme has looked its labels up)
    from sphinx.util.i18n import CatalogInfo

    theme = CatalogInfo(str(i18n.catalog_dir(Path(app.srcdir))), i18n.BOOK_THEME, "utf-8")
    if Path(theme.po_path).exists():
        if theme.is_outdated():
            theme.write_mo(i18n.LANGUAGE)
        app.add_message_catalog(i18n.BOOK_THEME, str(Path(app.srcdir) / i18n.LOCALES))


#: The glossary table's column headings, translated through ``phrases.po`` like the cost note.
GLOSSARY_HEADINGS = ("English", "Traditional Chinese (Taiwan)", "First used in")


def first_use(root: Path, terms: list[i18n.Term]) -> dict[str, str | None]:
    """For each English term, the first page in reading order whose text uses it (as a word, or its
    plural), as a docname; None when no page does."""
    from .bookconfig import chapters

    pages = [(page.relative_to(root).with_suffix("").as_posix(), page.read_text(encoding="utf-8").lower())
             for page in chapters(root)]
    found = {}
    for term in terms:
        pattern = re.compile(r"(?<![\w-])" + re.escape(term.english.lower()) + r"(?:s|es)?(?![\w-])")
        found[term.english] = next((doc for doc, text in pages if pattern.search(text)), None)
    return found


class GlossaryTable(SphinxDirective):
    """``{cnnbook-glossary}``: the book's terms (``locales/glossary.tsv``) as a table, English beside
    the Chinese the book uses, with the page where each is first used (found in the sources when the
    book is built, so it stays true as chapters change)."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from sphinx import addnodes

        root = Path(self.env.srcdir)
        terms = i18n.glossary(root)
        self.env.note_dependency(str(root / i18n.LOCALES / "glossary.tsv"))
        translate = phrase_translator(self.env.app)
        used = first_use(root, terms)
        table = nodes.table(classes=["cnnbook-glossary"])
        group = nodes.tgroup(cols=3)
        table += group
        for _ in range(3):
            group += nodes.colspec(colwidth=1)

        def row(cells: list[nodes.Node]) -> nodes.row:
            line = nodes.row()
            for cell in cells:
                entry = nodes.entry()
                entry += cell
                line += entry
            return line

        head = nodes.thead()
        head += row([nodes.paragraph(text=translate(h)) for h in GLOSSARY_HEADINGS])
        body = nodes.tbody()
        for term in terms:
            where = nodes.paragraph()
            doc = used[term.english]
            if doc is not None:
                ref = addnodes.pending_xref("", refdomain="std", reftype="doc", reftarget="/" + doc,
                                            refexplicit=False, refwarn=True, refdoc=self.env.docname)
                ref += nodes.inline(doc, doc)
                where += ref
            body += row([nodes.paragraph(text=term.english),
                         nodes.paragraph("", "", nodes.inline(term.chinese, term.chinese, lang="zh-Hant-TW")),
                         where])
        group += head
        group += body
        return [table]


#: ``CNNBOOK_EDITIONS=en`` builds the English edition alone (a quick look at one's own edit).
EDITIONS_ENV = "CNNBOOK_EDITIONS"


def _both_editions(app: Sphinx) -> bool:
    """Whether this build makes the Chinese edition beside the English one (_config.yml's
    ``cnnbook_editions``, unless ``CNNBOOK_EDITIONS=en``)."""
    return i18n.LANGUAGE in (app.config.cnnbook_editions or []) and os.environ.get(EDITIONS_ENV, "all") != "en"


def wanted(app: Sphinx) -> bool:
    """Whether this build should build the Chinese edition after itself: an English HTML or LaTeX
    (PDF) build of a book that has the catalogs, unless ``CNNBOOK_EDITIONS=en``."""
    return (app.builder.name in ("html", "latex") and not is_translation(app)
            and _both_editions(app)
            and (Path(app.srcdir) / i18n.LOCALES / i18n.LANGUAGE).is_dir())


def command(app: Sphinx) -> list[str]:
    """The Chinese build that follows an English one: same sources, same executed cells (the same
    jupyter-cache), output in ``<html>/zh_TW``, its own doctrees, as strict as the English build."""
    from .sphinxext import _cache_path

    # -W sets warningiserror; -W --keep-going sets keep_going instead (and warningiserror False)
    strict = bool(getattr(app, "warningiserror", False) or getattr(app, "keep_going", False))
    return [sys.executable, "-m", __name__, str(app.srcdir), str(Path(app.outdir) / i18n.LANGUAGE),
            "--doctrees", str(_doctrees(app)), "--builder", app.builder.name,
            "--cache", _cache_path(app) or "", "--baseurl", app.config.html_baseurl or "",
            *(["--strict"] if strict else [])]


def _doctrees(app: Sphinx) -> Path:
    suffix = "" if app.builder.name == "html" else f"-{app.builder.name}"
    return Path(app.doctreedir).parent / f".doctrees-{i18n.LANGUAGE}{suffix}"


#: Beside the Chinese edition's doctrees: what it was built from, so that a rebuild with nothing
#: changed skips it.
STAMP = ".cnnbook-built-from"


def inputs_stamp(app: Sphinx) -> str:
    """What the Chinese edition depends on, as one string: every source, catalog and setting file,
    the book's own build code and styles (sizes and modification times), the jupyter-cache's
    database (it changes when a chapter runs again) and the build command."""
    from .sphinxext import _cache_path

    root = Path(app.srcdir)
    package = Path(__file__).resolve().parents[1]
    files = [*root.glob("*.yml"), *(root / "book").glob("*.md"), *(root / "book").glob("*.bib"),
             *(root / i18n.LOCALES).rglob("*.po"), *(root / i18n.LOCALES).rglob("*.tsv"),
             *package.rglob("*.py"), *(package / "build" / "static").glob("*"), package / "report.json"]
    cache = Path(_cache_path(app) or root / "_build" / ".jupyter_cache") / "global.db"
    lines = [" ".join(command(app))]
    for path in sorted(set(files + [cache])):
        stat = path.stat() if path.exists() else None
        lines.append(f"{path} {stat.st_size if stat else '-'} {stat.st_mtime_ns if stat else '-'}")
    return "\n".join(lines)


def _build_translation(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or not wanted(app):
        return
    out = Path(app.outdir) / i18n.LANGUAGE
    stamp, stamp_file = inputs_stamp(app), _doctrees(app) / STAMP
    if out.is_dir() and stamp_file.exists() and stamp_file.read_text(encoding="utf-8") == stamp:
        logger.info(f"cnnbook: the {i18n.LANGUAGE} edition is up to date (nothing it is built from changed)")
        return
    logger.info(f"cnnbook: building the {i18n.LANGUAGE} edition into {out}")
    start = time.perf_counter()
    result = subprocess.run(command(app), stdout=sys.stdout, stderr=sys.stderr)
    logger.info(f"cnnbook: the {i18n.LANGUAGE} edition took {time.perf_counter() - start:.1f} s")
    if result.returncode != 0:
        from sphinx.errors import ExtensionError

        raise ExtensionError(f"the {i18n.LANGUAGE} edition failed to build (exit status {result.returncode}); "
                             "its log is above")
    stamp_file.parent.mkdir(parents=True, exist_ok=True)
    stamp_file.write_text(inputs_stamp(app), encoding="utf-8")  # again: reading the cache touches its database


#: The link to the other edition, on every page of both: (its text, its language as HTML writes it).
OTHER_EDITION = {"en": ("繁體中文版", "zh-Hant-TW"), i18n.LANGUAGE: ("English edition", "en")}


def other_edition(app: Sphinx, pagename: str) -> str | None:
    """The relative address of ``pagename`` in the other edition, or None when only one is built."""
    depth = pagename.count("/")
    if is_translation(app):
        return "../" * (depth + 1) + pagename + ".html"
    if _both_editions(app):
        return "../" * depth + f"{i18n.LANGUAGE}/{pagename}.html"
    return None


def _edition_link(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    target = other_edition(app, pagename)
    if target is None or "body" not in context:
        return
    text, lang = OTHER_EDITION[i18n.LANGUAGE if is_translation(app) else "en"]
    label = "Language" if is_translation(app) else "語言"
    context["body"] = (f'<nav class="cnnbook-edition" aria-label="{label}"><a href="{target}" hreflang="{lang}" '
                       f'lang="{lang}">{text}</a></nav>\n' + context["body"])
    context["metatags"] = context.get("metatags", "") + f'\n<link rel="alternate" hreflang="{lang}" href="{target}" />'


#: MyST-NB's words on the buttons that show a hidden cell's code or output (its ``code_prompt_show``
#: and ``code_prompt_hide``, with each ``{type}`` this book's cells use): translated in the page.
CODE_PROMPTS = tuple(f"{verb} code cell {kind}" for verb in ("Show", "Hide")
                     for kind in ("source", "output", "outputs", "content"))


def _launch_path(pagename: str) -> tuple[str, str]:
    """The repository path of ``pagename``'s English notebook, and of the Chinese one (what the
    Chinese page's Colab and Binder buttons open instead): ``book/zh_TW/NAME.ipynb``."""
    folder, _, name = pagename.rpartition("/")
    prefix = f"{folder}/" if folder else ""
    return f"{prefix}{name}.ipynb", f"{prefix}{i18n.LANGUAGE}/{name}.ipynb"


def _to_chinese_notebook(buttons: list, pagename: str) -> None:
    english, chinese = _launch_path(pagename)
    for button in buttons:
        if isinstance(button, dict):
            if isinstance(button.get("url"), str) and button["url"].endswith(english) and (
                    "colab" in button["url"] or "binder" in button["url"]):
                button["url"] = button["url"][:-len(english)] + chinese
            _to_chinese_notebook(button.get("buttons") or [], pagename)  # a group of buttons


class FigureCaptions(SphinxPostTransform):
    """On a Chinese page (HTML and PDF), each figure a cell drew gets its description, the alt text
    Sphinx has translated, as a visible caption under it: the figures are the English edition's
    (the cells run once), so their own labels are English, and the caption explains them."""

    default_priority = 800

    def run(self, **kwargs: Any) -> None:
        if not is_translation(self.app):
            return
        last: dict[tuple[int, str], nodes.image] = {}  # a cell's figures that share one description
        for image in list(self.document.findall(nodes.image)):
            alt = image.get("alt", "")
            output = next((node for node in _ancestors(image) if "cell_output" in (node.get("classes") or [])), None)
            if output is not None and re.search(r"[\u4e00-\u9fff]", alt):
                last[id(output), alt] = image
        for (_, alt), image in last.items():  # one caption, under the last of them
            image.parent.insert(image.parent.index(image) + 1, nodes.paragraph("", alt, classes=[CAPTION]))


#: The class of a figure's caption on a Chinese page (cnnbook.css styles it).
CAPTION = "cnnbook-caption"


def _ancestors(node: nodes.Node):
    while node.parent is not None:
        node = node.parent
        yield node


def _chinese_page(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """What a Chinese page needs beyond its translated text: the launch buttons open the Chinese
    notebook, the package's own widgets (the untrained-network notice, the calculator) are
    written again in Chinese, MyST-NB's show/hide buttons speak Chinese, and each figure a cell
    drew has its translated description as a visible caption, which explains the figure's English
    labels (the figures are the English edition's: the cells run once)."""
    if not is_translation(app):
        return
    from .. import notice, viz, widgets  # matplotlib: only the Chinese build needs them here

    _to_chinese_notebook(context.get("header_buttons") or [], pagename)
    if "body" not in context:
        return
    translate = phrase_translator(app)
    known = phrases(str(app.srcdir))
    body = wording.rewrite(context["body"], {
        "notice": lambda args: notice.html_box_again(args, wording.translated(notice.WORDS, translate),
                                                     lambda reason: known.translate(reason) or reason),
        "calculator": lambda args: widgets.calculator_again(args, wording.translated(widgets.CALCULATOR_WORDS,
                                                                                      translate)),
    })
    for prompt in CODE_PROMPTS:
        if prompt in body:
            body = body.replace(f">{prompt}<", f">{translate(prompt)}<")
    if "_anim_slider" in body:  # matplotlib's animation player
        for word in viz.PLAYER_WORDS:
            for pattern in ('title="{}"', 'aria-label="{}"', '>{}</label>'):
                body = body.replace(pattern.format(word), pattern.format(translate(word)))
    # an output's alt text given in code (an animation's): a phrase of phrases.po
    body = re.sub(r'alt="([^"]+)"', lambda m: 'alt="{}"'.format(html.escape(
        known.exact.get(html.unescape(m.group(1)), html.unescape(m.group(1))), quote=True)), body)
    # screen readers have the caption as the image's alt text already
    context["body"] = body.replace(f'<p class="{CAPTION}">', f'<p class="{CAPTION}" aria-hidden="true">')


def _pdf_title(app: Sphinx, env: Any = None) -> None:
    """The Chinese PDF's title page. jupyter-book writes the English title into ``latex_documents``
    after Sphinx has started, so this waits until the sources are read, before anything is written."""
    if is_translation(app) and app.builder.name == "latex":
        app.config.latex_documents = [(doc, target, app.config.html_title, app.config.author, *rest)
                                      for doc, target, _, _, *rest in app.config.latex_documents]


def setup(app: Sphinx) -> dict[str, Any]:
    # The editions built beside the English one (_config.yml, sphinx.config.cnnbook_editions).
    app.add_config_value("cnnbook_editions", [], "env", [list])
    app.connect("config-inited", _configure)
    app.connect("build-finished", _build_translation, priority=900)  # after the English edition is done
    app.connect("html-page-context", _edition_link)
    app.connect("html-page-context", _chinese_page, priority=600)  # after the book theme's buttons (501)
    app.connect("env-updated", _pdf_title)
    app.add_post_transform(FigureCaptions)
    app.add_directive("cnnbook-glossary", GlossaryTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def main(argv: list[str] | None = None) -> int:
    """Build the Chinese edition of the book in SOURCE into OUT (used by :func:`_build_translation`)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("source")
    parser.add_argument("out")
    parser.add_argument("--doctrees", required=True)
    parser.add_argument("--builder", choices=("html", "latex"), default="html",
                        help="latex: the Chinese PDF, made with make all-pdf in OUT as jupyter-book does")
    parser.add_argument("--cache", default="")
    parser.add_argument("--baseurl", default="")
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {"language": i18n.LANGUAGE}  # _configure adds the catalogs' settings
    if args.cache:
        overrides["nb_execution_cache_path"] = args.cache
    if args.baseurl:
        overrides["html_baseurl"] = args.baseurl.rstrip("/") + f"/{i18n.LANGUAGE}/"
    try:
        # every page is written: this runs only when something it is built from changed, which may
        # be the build's own code (the widgets, the captions), not a page's source
        i18n.sphinx_build(Path(args.source), Path(args.out), Path(args.doctrees), args.builder, overrides,
                          strict=args.strict, write_all=True)
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.builder == "latex":
        made = subprocess.run([os.environ.get("MAKE", "make"), "all-pdf"], cwd=args.out)
        if made.returncode != 0:
            print(f"error: the Chinese PDF failed to build in {args.out} (make all-pdf)", file=sys.stderr)
            return made.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
