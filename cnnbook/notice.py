"""The "untrained network" notice. Used by :mod:`cnnbook.models` (so by every page that loads a
pretrained network) and by the build's Sphinx extension.

When :func:`cnnbook.models.load` has to fall back to random weights it calls :func:`untrained`.
In a notebook (a Jupyter kernel, which is also how the book is built) that shows a warning box in
the cell's output, so the reader sees it on the page; elsewhere it issues an
:class:`UntrainedNetworkWarning`. The box carries the marker :data:`MARKER`, which the book's Sphinx
extension (:mod:`cnnbook.build.sphinxext`) looks for to list, in the build log, every page that shows it.
"""

from __future__ import annotations

import html
import re
import warnings

#: HTML attribute that marks the notice; its value is the model's name.
MARKER = "data-cnnbook-untrained"
_MARKER_RE = re.compile(MARKER + r'="([^"]+)"')


#: The box brings its own colours, dark text on light amber, so it reads the same in a light and a
#: dark theme: in dark mode the book's theme paints HTML cell outputs light with dark text, but
#: keeps a dark background on the admonition inside them, which left the notice dark on dark.
BOX_STYLE = "border-left: 4px solid #b8860b; padding: 0.4em 1em; background: #fff3cd; color: #3d2e00;"
TITLE_STYLE = "background: #ffe08a; color: #3d2e00;"
CODE_STYLE = "color: #5c2a00; background: rgba(0, 0, 0, 0.07);"


class UntrainedNetworkWarning(UserWarning):
    """A network is used with random weights because its pretrained weights were unavailable."""


def message(name: str, reason: str) -> str:
    """The notice as plain text."""
    return (
        f"UNTRAINED NETWORK: the pretrained weights for {name!r} could not be loaded ({reason}), "
        f"so {name} has random weights and every result computed with it here shows no learned "
        "knowledge. Run `python -m cnnbook download-weights` with internet access, then run this again."
    )


def html_box(name: str, reason: str, file: str = "", url: str = "") -> str:
    """The notice as an admonition box that Sphinx themes and Jupyter both render."""
    where = ""
    if file and url:
        where = (
            f' It looked for <code style="{CODE_STYLE}">{html.escape(file)}</code>, which is downloaded from '
            f'<code style="{CODE_STYLE}">{html.escape(url)}</code>.'
        )
    code = f'<code style="{CODE_STYLE}">'
    return (
        f'<div class="admonition warning cnnbook-untrained" {MARKER}="{html.escape(name)}" '
        f'style="{BOX_STYLE}">\n'
        f'<p class="admonition-title" style="{TITLE_STYLE}"><strong>Untrained network: {html.escape(name)}</strong></p>\n'
        f"<p>The pretrained ImageNet weights for {code}{html.escape(name)}</code> were not available "
        f"when this page was run: {html.escape(reason)}.{where} Every result on this page that comes "
        f"from {code}{html.escape(name)}</code> was computed by a network with <em>random</em> "
        "weights, so its predictions, filters and maps show nothing it learned. To see the real "
        f"results, run {code}python -m cnnbook download-weights</code> on a machine with internet "
        "access and rebuild the book, or open this chapter in Colab.</p>\n</div>"
    )


def models_in(text: str) -> list[str]:
    """The model names of every notice in ``text`` (HTML), in order of appearance."""
    return [html.unescape(name) for name in _MARKER_RE.findall(text)]


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def untrained(name: str, reason: str, file: str = "", url: str = "") -> None:
    """Tell the reader that ``name`` is untrained: a box in a notebook, a warning elsewhere."""
    if _in_kernel():
        from IPython.display import display

        display(
            {"text/html": html_box(name, reason, file, url), "text/plain": message(name, reason)},
            raw=True,
        )
    else:
        warnings.warn(message(name, reason), UntrainedNetworkWarning, stacklevel=3)
