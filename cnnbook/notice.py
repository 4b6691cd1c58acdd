"""The "untrained network" notice. Used by :mod:`cnnbook.models` (so by every page that loads a
pretrained network) and by the build's Sphinx extension.

When :func:`cnnbook.models.load` has to fall back to random weights it calls :func:`untrained`.
In a notebook (a Jupyter kernel, which is also how the book is built) that shows a warning box in
the cell's output, so the reader sees it on the page; elsewhere it issues an
:class:`UntrainedNetworkWarning`. A cell that loads several untrained networks shows one box that
lists them all. The box carries the marker :data:`MARKER`, which the book's Sphinx
extension (:mod:`cnnbook.build.sphinxext`) looks for to list, in the build log, every page that shows it.
"""

from __future__ import annotations

import html
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from . import words as wording

#: HTML attribute that marks the notice; its value is the models' names, separated by ", ".
MARKER = "data-cnnbook-untrained"
_MARKER_RE = re.compile(MARKER + r'="([^"]+)"')  # names, separated by ", "


#: The box brings its own colours, dark text on light amber, so it reads the same in a light and a
#: dark theme: in dark mode the book's theme paints HTML cell outputs light with dark text, but
#: keeps a dark background on the admonition inside them, which left the notice dark on dark.
BOX_STYLE = "border-left: 4px solid #b8860b; padding: 0.4em 1em; background: #fff3cd; color: #3d2e00;"
TITLE_STYLE = "background: #ffe08a; color: #3d2e00;"
CODE_STYLE = "color: #5c2a00; background: rgba(0, 0, 0, 0.07);"


#: The box's English words (the Chinese edition translates them through ``phrases.po``): {0} is the
#: networks' names, {1} the command that downloads the weights; one set for one network, one for
#: several.
WORDS = {
    "title_one": "Untrained network: {0}",
    "title_many": "Untrained networks: {0}",
    "body_one": "The pretrained ImageNet weights for {0} were not available when this page was run. Every "
                "result on this page that comes from it was computed by a network with <em>random</em> "
                "weights, so its predictions, filters and maps show nothing learned. To see the real "
                "results, run {1} on a machine with internet access and rebuild the book, or open this "
                "chapter in Colab.",
    "body_many": "The pretrained ImageNet weights for {0} were not available when this page was run. Every "
                 "result on this page that comes from them was computed by networks with <em>random</em> "
                 "weights, so their predictions, filters and maps show nothing learned. To see the real "
                 "results, run {1} on a machine with internet access and rebuild the book, or open this "
                 "chapter in Colab.",
    "where": "It looked for {0}, which is downloaded from {1}.",
    "listing": "{0} and {1}",
    # one network's line: its name and why; with where it looked
    "item": "{0}: {1}.",
    "item_where": "{0}: {1}. {2}",
}


class UntrainedNetworkWarning(UserWarning):
    """A network is used with random weights because its pretrained weights were unavailable."""


@dataclass(frozen=True)
class Missing:
    """One network whose pretrained weights could not be had: why, and where they were looked for."""

    name: str
    reason: str
    file: str = ""
    url: str = ""


def _listing(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def message(missing: Sequence[Missing]) -> str:
    """The notice as plain text."""
    names = [m.name for m in missing]
    reasons = "; ".join(f"{m.name}: {m.reason}" for m in missing)
    return (
        f"UNTRAINED NETWORK: the pretrained weights for {_listing([repr(n) for n in names])} could not "
        f"be loaded ({reasons}), so {'it has' if len(names) == 1 else 'they have'} random weights "
        "and every result computed with them here shows no learned knowledge. "
        "Run `python -m cnnbook download-weights` with internet access, then run this again."
    )


def html_box(missing: Sequence[Missing], words: Mapping[str, str] | None = None) -> str:
    """The notice as an admonition box that Sphinx themes and Jupyter both render: one box, however
    many networks a cell loads (chapter 10 and the homework load three). ``words`` is
    :data:`WORDS` or its translation (by default, in the language :func:`cnnbook.words.speak`
    chose); the box is wrapped (:func:`cnnbook.words.wrap`) so that the Chinese edition can write
    it again in Chinese."""
    if not missing:
        raise ValueError("html_box needs at least one Missing network, got none")
    if words is None:  # the language cnnbook.words.speak chose, reasons included
        words = wording.table(WORDS)
        missing = [Missing(m.name, wording.say(m.reason), m.file, m.url) for m in missing]
    code = f'<code style="{CODE_STYLE}">'
    names = [html.escape(m.name) for m in missing]
    coded = [f"{code}{n}</code>" for n in names]
    listed = coded[0] if len(coded) == 1 else words["listing"].format(", ".join(coded[:-1]), coded[-1])
    details = []
    for m in missing:
        name, reason = f"{code}{html.escape(m.name)}</code>", html.escape(m.reason)
        if m.file and m.url:
            where = words["where"].format(f"{code}{html.escape(m.file)}</code>", f"{code}{html.escape(m.url)}</code>")
            details.append(f"<li>{words['item_where'].format(name, reason, where)}</li>")
        else:
            details.append(f"<li>{words['item'].format(name, reason)}</li>")
    number = "one" if len(missing) == 1 else "many"
    title = words[f"title_{number}"].format(", ".join(names))
    body = words[f"body_{number}"].format(listed, f"{code}python -m cnnbook download-weights</code>")
    box = (
        f'<div class="admonition warning cnnbook-untrained" {MARKER}="{", ".join(names)}" '
        f'style="{BOX_STYLE}">\n'
        f'<p class="admonition-title" style="{TITLE_STYLE}"><strong>{title}</strong></p>\n'
        f"<p>{body}</p>\n"
        f'<ul style="margin-bottom: 0.4em;">{"".join(details)}</ul>\n</div>'
    )
    return wording.wrap("notice", {"missing": [asdict(m) for m in missing]}, box)


def html_box_again(args: dict, words: Mapping[str, str], reason=lambda reason: reason) -> str:
    """The box :func:`html_box` wrapped with ``args``, written again with ``words``, each reason
    passed through ``reason``."""
    return html_box([Missing(**{**m, "reason": reason(m["reason"])}) for m in args["missing"]], words)


def models_in(text: str) -> list[str]:
    """The model names of every notice in ``text`` (HTML), in order of appearance."""
    return [html.unescape(name) for names in _MARKER_RE.findall(text) for name in names.split(", ")]


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


# The notice shown by the cell that is running now: (its execution count, the networks, the handle
# that updates the box in place).
_current: dict = {"count": None, "missing": [], "handle": None}


def untrained(name: str, reason: str, file: str = "", url: str = "") -> None:
    """Tell the reader that ``name`` is untrained: a box in a notebook, a warning elsewhere.

    In a notebook, a second untrained network in the same cell joins the first one's box (the box
    is updated in place, through its display id) instead of adding a box of its own."""
    missing = Missing(name, reason, file, url)
    if not _in_kernel():
        warnings.warn(message([missing]), UntrainedNetworkWarning, stacklevel=3)
        return
    from IPython import get_ipython
    from IPython.display import display

    count = get_ipython().execution_count
    if _current["count"] != count or _current["handle"] is None:
        _current.update(count=count, missing=[], handle=None)
    _current["missing"] = [m for m in _current["missing"] if m.name != name] + [missing]
    bundle = {"text/html": html_box(_current["missing"]), "text/plain": message(_current["missing"])}
    if _current["handle"] is None:
        _current["handle"] = display(bundle, raw=True, display_id=True)
    else:
        _current["handle"].update(bundle, raw=True)
