"""Sphinx extension that keeps the book offline-honest.

* Finds every page whose executed cells show the untrained-network notice and lists those pages at
  the end of the build log.
* Re-executes such a page (dropping its jupyter-cache entry) when its results can no longer stand:
  the missing weights have since been downloaded, or publishing mode (``CNNBOOK_REQUIRE_WEIGHTS=1``)
  is on. Without this an unchanged chapter would keep serving its untrained outputs from the cache.

Enable it in ``_config.yml`` with ``sphinx: extra_extensions: [cnnbook.build.sphinxext]``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

from .. import costs, glue, notice, weights

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


def _drop_cached_execution(app: Sphinx, source: Path) -> None:
    # myst-nb resolves the cache folder (default: next to the HTML output) into env.mystnb_config.
    nb_config = getattr(app.env, "mystnb_config", None)
    cache_path = getattr(nb_config, "execution_cache_path", "") or app.config.nb_execution_cache_path
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
    name = Path(docname).name
    report = costs.load()
    # A page the report lacks (a new chapter, a test's tiny book) says nothing; tests/test_benchmarks.py
    # fails until the book's chapters are measured again.
    if not source[0].startswith("---\njupytext:") or name not in report["chapter_s"]:
        return
    appendix_doc = f"book/{costs.APPENDIX}"
    if name == costs.APPENDIX or appendix_doc not in app.env.found_docs:
        appendix = None  # the page itself, or a build without the appendix (a test's part of the book)
    else:
        appendix = os.path.relpath(f"{appendix_doc}.md", str(Path(docname).parent))
    source[0] = costs.with_cost_note(source[0], costs.cost_note(name, report, appendix))


def setup(app: Sphinx) -> dict[str, Any]:
    # The kernels the build starts inherit this: cnnbook.glue then hands values to MyST-NB.
    os.environ[glue.BUILD_ENV] = "1"
    app.connect("source-read", _cost_note)
    app.connect("doctree-read", _doctree_read)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-get-outdated", _outdated)
    app.connect("build-finished", _report)
    # first in line: html-page-context stops at the first handler that returns a template name
    app.connect("html-page-context", _unique_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
