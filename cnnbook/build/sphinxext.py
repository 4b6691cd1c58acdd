"""The book's Sphinx extension: it keeps the book offline-honest, fast to build and readable anywhere.

* Finds every page whose executed cells show the untrained-network notice and lists those pages at
  the end of the build log.
* Re-executes such a page (dropping its jupyter-cache entry) when its results can no longer stand:
  the missing weights have since been downloaded, or publishing mode (``CNNBOOK_REQUIRE_WEIGHTS=1``)
  is on. Without this an unchanged chapter would keep serving its untrained outputs from the cache.
* Executes the notebooks a build is about to read in parallel, one per core
  (:mod:`cnnbook.build.parallel`).
* Serves MathJax from the book itself (``_static/mathjax``), so formulas render without internet.
* Adds the book's own CSS and JavaScript (``static/``: dark-mode link colours, accessible names for
  two of the theme's buttons) and mends two accessibility faults in the markup that MyST-NB and
  docutils write (see :func:`accessible_body`).

Enable it in ``_config.yml`` with ``sphinx: extra_extensions: [cnnbook.build.sphinxext]``.
"""

from __future__ import annotations

import os
import shutil
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import texescape
from sphinx.util import logging

from .. import costs, glue, notice, weights
from . import parallel
from . import translate as translation

logger = logging.getLogger(__name__)

_KEY = "cnnbook_untrained"  # attribute on the build environment: {docname: [model names]}


def _untrained(env: BuildEnvironment) -> dict[str, list[str]]:
    if not hasattr(env, _KEY):
        setattr(env, _KEY, {})
    return getattr(env, _KEY)


def _doctree_read(app: Sphinx, doctree: nodes.document) -> None:
    names: list[str] = []
    for node in doctree.findall(nodes.raw):
        names += [n for n in notice.models_in(node.astext()) if n not in names]
    if names:
        _untrained(app.env)[app.env.docname] = names


def _purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    _untrained(env).pop(docname, None)


def _merge(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment) -> None:
    for docname in docnames:
        if docname in _untrained(other):
            _untrained(env)[docname] = _untrained(other)[docname]


def _stale(names: list[str]) -> bool:
    if weights.require_weights():
        return True
    return any(weights.weights_available(name) for name in names)


def _cache_path(app: Sphinx) -> str:
    # myst-nb resolves the cache folder (default: next to the HTML output) into env.mystnb_config.
    nb_config = getattr(app.env, "mystnb_config", None)
    return getattr(nb_config, "execution_cache_path", "") or app.config.nb_execution_cache_path


def _drop_cached_execution(app: Sphinx, source: Path) -> None:
    cache_path = _cache_path(app)
    if not cache_path or not Path(cache_path).exists():
        return
    from jupyter_cache import get_cache

    cache = get_cache(cache_path)
    for record in cache.list_cache_records():
        if Path(record.uri).resolve() == source.resolve():
            cache.remove_cache(record.pk)


def _outdated(app: Sphinx, env: BuildEnvironment, added: set, changed: set, removed: set) -> list[str]:
    stale = [doc for doc, names in _untrained(env).items() if doc in env.found_docs and _stale(names)]
    for docname in stale:
        logger.info(f"cnnbook: re-executing {docname}: its cached results came from an untrained network")
        _drop_cached_execution(app, Path(env.doc2path(docname)))
    return stale


def _execute_in_parallel(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    """Before Sphinx reads the pages, execute the notebooks among them in parallel (cnnbook.build.parallel)."""
    nb_config = getattr(env, "mystnb_config", None)
    if nb_config is None or nb_config.execution_mode != "cache" or not _cache_path(app):
        return
    done = parallel.execute_in_parallel(_cache_path(app), [Path(env.doc2path(d)) for d in docnames],
                                        timeout=nb_config.execution_timeout,
                                        allow_errors=nb_config.execution_allow_errors, log=logger.info)
    if done:
        logger.info(f"cnnbook: {len(done)} notebook(s) executed in parallel and cached; MyST-NB reads them "
                    "from the cache")


def _report(app: Sphinx, exception: Exception | None) -> None:
    pages = _untrained(app.env)
    if exception is not None or not pages:
        return
    lines = [f"  {doc}: {', '.join(names)}" for doc, names in sorted(pages.items())]
    logger.info(
        f"cnnbook: {len(pages)} page(s) show results from UNTRAINED networks (pretrained weights "
        "were unavailable); run `python -m cnnbook download-weights` and rebuild to fix:\n"
        + "\n".join(lines),
        color="yellow",
    )


def _unique_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Drop repeated script tags from a page. sphinx-thebe registers its inline configuration
    (``const THEBE_JS_URL = ...``) once per read phase, and a second copy of a ``const`` is a
    SyntaxError in the reader's browser console."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        attributes = getattr(script, "attributes", {}) or {}
        key = (str(getattr(script, "filename", script) or ""), tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def _cost_note(app: Sphinx, docname: str, source: list[str]) -> None:
    """Under each notebook page's title: what running it costs, from ``cnnbook/report.json``."""
    if app.builder.name == "gettext":
        return  # measured numbers are not for translators; the note's sentence is in phrases.po
    name = Path(docname).name
    report = costs.load()
    # A page the report lacks (a new chapter, a test's tiny book) says nothing; tests/test_benchmarks.py
    # fails until the book's chapters are measured again.
    if not source[0].startswith(parallel.NOTEBOOK_START) or name not in report["chapter_s"]:
        return
    appendix_doc = f"book/{costs.APPENDIX}"
    if name == costs.APPENDIX or appendix_doc not in app.env.found_docs:
        appendix = None  # the page itself, or a build without the appendix (a test's part of the book)
    else:
        appendix = os.path.relpath(f"{appendix_doc}.md", str(Path(docname).parent))
    translate = translation.phrase_translator(app)
    source[0] = costs.with_cost_note(source[0], costs.cost_note(name, report, appendix, translate))


#: MathJax 3, from the PyPI package sphinx-mathjax-offline (only its files are used, not its
#: extension, which would copy all 24 MB of MathJax's bundles into every build).
MATHJAX_DIST = "sphinx-mathjax-offline"
MATHJAX_PATH = "mathjax/tex-chtml.js"  # relative to _static
#: In the copied MathJax folder: what was copied, so that a rebuild can skip the copy.
STAMP = "cnnbook-copied.txt"
#: What tex-chtml.js needs: itself, the TeX extensions and CHTML fonts it loads on demand, and the
#: menu's accessibility tools (a11y, the speech rule engine sre) that a reader can switch on.
MATHJAX_PARTS = ("tex-chtml.js", "input", "output/chtml", "output/chtml.js", "a11y", "sre", "ui", "adaptors")


def mathjax_source() -> Path:
    try:
        return Path(distribution(MATHJAX_DIST).locate_file(f"{MATHJAX_DIST}/static/mathjax"))
    except PackageNotFoundError:
        raise RuntimeError(
            f"cnnbook serves MathJax from the book, from the package {MATHJAX_DIST}, which is not "
            "installed: pip install -r requirements.txt") from None


STATIC = Path(__file__).with_name("static")


def _configure(app: Sphinx, config: Any) -> None:
    # The CDN default would leave raw TeX on every page read without internet.
    config.mathjax_path = MATHJAX_PATH
    config.html_static_path = [*config.html_static_path, str(STATIC)]


#: What the PDF needs from sphinx-jupyterbook-latex's document class (the frames of code cells and
#: their outputs, and its page size), and no numbers of LaTeX's own: the chapters' titles carry the
#: book's numbers ("5. AlexNet, layer by layer"), which the homework between chapters 7 and 8 would
#: put out of step with LaTeX's count.
LATEX_PREAMBLE = r"""
\setcounter{secnumdepth}{-1}
% Traditional Chinese (the glossary's terms): xeCJK (Debian's texlive-lang-chinese) typesets the
% characters the Latin fonts lack in Noto Serif CJK TC (fonts-noto-cjk).
\usepackage{xeCJK}
\setCJKmainfont{Noto Serif CJK TC}
\setCJKsansfont{Noto Sans CJK TC}
\setCJKmonofont{Noto Sans Mono CJK TC}
\usepackage[strict]{changepage}
\definecolor{CodeBlockInputBorderColor}{RGB}{204,204,204}
\definecolor{CodeBlockInputColor}{RGB}{247,247,247}
\definecolor{CodeBlockOutputBorderColor}{RGB}{230,230,230}
\definecolor{CodeBlockOutputColor}{RGB}{252,252,252}
\newenvironment{sphinxVerbatimInput}
  {\colorlet{VerbatimBorderColor}{CodeBlockInputBorderColor}%
   \colorlet{VerbatimColor}{CodeBlockInputColor}\begin{adjustwidth}{5pt}{}}
  {\end{adjustwidth}}
\newenvironment{sphinxVerbatimOutput}
  {\colorlet{VerbatimBorderColor}{CodeBlockOutputBorderColor}%
   \colorlet{VerbatimColor}{CodeBlockOutputColor}\begin{adjustwidth}{20pt}{}}
  {\end{adjustwidth}}
"""


def _latex_class(app: Sphinx, config: Any) -> None:
    """The PDF keeps sphinx-jupyterbook-latex's structure (the preface as front matter, the chapters
    as chapters) but not its document class, which loads the package bbm, found in Debian only in
    texlive-fonts-extra (1.4 GB installed), for blackboard-bold macros the book does not use. That
    class builds on Sphinx's ``manual`` class: the book uses ``manual`` and adds what it needs of the
    rest (:data:`LATEX_PREAMBLE`)."""
    if config.latex_theme == "jupyterBook":
        config.latex_theme = "manual"
        config.latex_elements["preamble"] = LATEX_PREAMBLE + config.latex_elements.get("preamble", "")
        config.latex_elements.setdefault("geometry", r"\usepackage[text={17cm,22cm},centering]{geometry}")


class PrefaceHeading(SphinxPostTransform):
    """In the PDF, the first page (the preface) keeps its title, as an unnumbered chapter listed in
    the contents. LaTeX takes the root page's title for the book's own title page, and
    sphinx-jupyterbook-latex turns the page into untitled front matter."""

    builders = ("latex",)
    default_priority = 710  # after sphinx-jupyterbook-latex's LatexRootDocPostTransforms (700)

    def run(self, **kwargs: Any) -> None:
        first = next(iter(self.document.findall(nodes.section)), None)
        if first is None or not first.children or not isinstance(first[0], nodes.title):
            return
        title = texescape.escape(first[0].astext())
        heading = nodes.raw("", f"\\chapter*{{{title}}}\\addcontentsline{{toc}}{{chapter}}{{{title}}}\n",
                            format="latex")
        first.insert(1, heading)


def accessible_body(body: str) -> str:
    """A page's content with two faults that axe-core reports mended:

    * MyST-NB names every "Show code cell source" toggle "Toggle hidden content", a name that does
      not contain the words it shows (WCAG 2.5.3); without the label, its visible text names it.
    * docutils marks each reference of a chapter's reference list ``doc-biblioentry``, a role that
      DPUB-ARIA 1.1 deprecated and that may not sit in the list that holds it; ``listitem`` may.
    """
    return (body.replace('<summary aria-label="Toggle hidden content">', "<summary>")
                .replace(' role="doc-biblioentry"', ' role="listitem"'))


def _accessible_page(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    if "body" in context:
        context["body"] = accessible_body(context["body"])


def _copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source, target = mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    # what is copied, and from which release: a rebuild finds the same stamp and copies nothing
    stamp = f"{MATHJAX_DIST} {distribution(MATHJAX_DIST).version}: {' '.join(MATHJAX_PARTS)}\n"
    copied = (target / STAMP).is_file() and (target / STAMP).read_text() == stamp
    if copied and all((target / part).exists() for part in MATHJAX_PARTS):
        return
    for part in MATHJAX_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, dirs_exist_ok=True)
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, target / part)
    (target / STAMP).write_text(stamp)


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("cnnbook.build.translate")
    # The kernels the build starts inherit this: cnnbook.glue then hands values to MyST-NB.
    os.environ[glue.BUILD_ENV] = "1"
    app.connect("source-read", _cost_note)
    app.connect("doctree-read", _doctree_read)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-before-read-docs", _execute_in_parallel)
    app.connect("build-finished", _report)
    app.connect("config-inited", _configure)
    app.connect("config-inited", _latex_class, priority=900)  # after sphinx-jupyterbook-latex's
    app.connect("build-finished", _copy_mathjax)
    app.add_css_file("cnnbook.css")
    app.add_js_file("cnnbook-a11y.js", loading_method="defer")
    app.connect("html-page-context", _accessible_page)
    app.add_post_transform(PrefaceHeading)
    # first in line: html-page-context stops at the first handler that returns a template name
    app.connect("html-page-context", _unique_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
