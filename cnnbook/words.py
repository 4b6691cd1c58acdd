"""Words that the package's own HTML shows on a page, in a form another edition can translate.

A cell's output is computed once and shared by both editions of the book, so the untrained-network
notice (:mod:`cnnbook.notice`) and the output-size calculator (:mod:`cnnbook.widgets`) cannot know
which edition shows them. Each writes its HTML between two comments that name it and carry what it
was made from::

    <!-- cnnbook:calculator {"size": 224, ...} --> ... <!-- /cnnbook:calculator -->

and takes its English words from a table (``{key: English template}``). The Chinese build finds
the pair of comments (:func:`blocks`) and writes the same widget again with the table translated
through ``phrases.po`` (:mod:`cnnbook.build.translate`), so its words can no more drift than the
prose's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping

_BLOCK = re.compile(r"<!-- cnnbook:(?P<name>[\w-]+) (?P<args>\{.*?\}) -->.*?<!-- /cnnbook:(?P=name) -->", re.S)


def wrap(name: str, args: dict, html: str) -> str:
    """``html`` between the comments that let another edition write widget ``name`` again from
    ``args`` (JSON, with ``-``, ``<`` and ``>`` written as ``\\u`` escapes: ``--`` would end the comment)."""
    data = json.dumps(args, ensure_ascii=True, sort_keys=True)
    for char in "-<>":  # "--" would end the comment, and "<" ">" are kept out of the markup
        data = data.replace(char, f"\\u{ord(char):04x}")
    return f"<!-- cnnbook:{name} {data} -->{html}<!-- /cnnbook:{name} -->"


def blocks(html: str) -> list[tuple[str, dict]]:
    """The widgets written by :func:`wrap` in ``html``: ``(name, args)`` in order."""
    return [(m["name"], json.loads(m["args"])) for m in _BLOCK.finditer(html)]


def rewrite(html: str, render: Mapping[str, Callable[[dict], str]]) -> str:
    """``html`` with every wrapped widget whose name ``render`` knows written again by it
    (``render[name](args)``, which returns the new widget, wrapped)."""
    def again(match: re.Match) -> str:
        make = render.get(match["name"])
        return make(json.loads(match["args"])) if make else match.group(0)

    return _BLOCK.sub(again, html)


def translated(table: Mapping[str, str], translate: Callable[[str], str]) -> dict[str, str]:
    """``table`` with every English template passed through ``translate``."""
    return {key: translate(english) for key, english in table.items()}
