"""Numbers a chapter computes, quoted in its prose. Used by the homework, the appendix and
chapters 1 to 11.

A chapter never types a result: a hidden cell computes it and calls :func:`glue`, and the text
quotes it by name. When the book is built, the name is replaced on the web page by the value
(MyST-NB's ``glue``). In a notebook opened in Colab, Binder or Jupyter there is no build to fill
the text in, so :func:`glue` prints ``name = value`` under the cell instead, from the reader's own
run, and the notebook's text names the value in bold code (``python -m cnnbook notebooks`` writes
it that way). A reader's run can differ from the build's (untrained weights, another machine), so
the notebook never shows the build's numbers.
"""

from __future__ import annotations

import os
from typing import Any

# Set by cnnbook.build.sphinxext while Jupyter Book builds the book; the kernels it starts inherit it.
BUILD_ENV = "CNNBOOK_BOOK_BUILD"


def in_book_build() -> bool:
    """Whether this kernel runs inside the book's build (not a reader's notebook)."""
    return os.environ.get(BUILD_ENV) == "1"


def readable(value: Any) -> str:
    """``value`` as the notebook prints it: floats to four significant digits, the rest as ``str``."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def glue(name: str, value: Any, display: bool = False) -> None:
    """Keep ``value`` under ``name`` for the text to quote.

    In the book's build this is MyST-NB's ``glue`` (the page shows the value where the text says
    ``{glue:text}`name```); in a reader's notebook it prints ``name = value``.
    """
    if in_book_build():
        from myst_nb import glue as myst_glue

        myst_glue(name, value, display=display)
    else:
        from .words import say  # a Chinese notebook prints a glued sentence in Chinese

        print(f"{name} = {say(readable(value))}")


#: How :func:`listing` joins its last item: a template the Chinese edition translates (phrases.po).
LISTING = "{0} and {1}"


def listing(items: list[str]) -> str:
    """``["a"]`` -> ``"a"``, ``["a", "b", "c"]`` -> ``"a, b and c"``: items quoted in a sentence."""
    items = [str(item) for item in items]
    if len(items) < 2:
        return "".join(items)
    return LISTING.format(", ".join(items[:-1]), items[-1])
