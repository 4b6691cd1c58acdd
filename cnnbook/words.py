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

A reader's Chinese notebook runs the same code, with no build around it: its first hidden cell
calls :func:`speak` with the translations its page needs (from the same catalog), and from then on
what the package says itself (a glued sentence printed by :func:`cnnbook.glue.glue`, the notice,
the calculator) is said in Chinese (:func:`say`, :func:`table`). Without :func:`speak`, English.
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


# --- the words of another language --------------------------------------------------------------


def prose_words(text: str) -> list[str]:
    """The words of ``text`` that a reader reads as English prose: letters only, in lower case or
    capitalised. Names from code (``conv8``, ``classifier.0``, ``MaxPool2d``, ``ReLU``), acronyms
    (``FGSM``), numbers and versions are not prose, so a glued ``"ReLU + Conv2d"`` needs no
    translation while ``"triangle (98.5%)"`` does."""
    words = []
    for token in re.findall(r"[A-Za-z0-9_.+\-]+", text):
        token = token.strip(".-+")
        if re.fullmatch(r"[a-z]{2,}|[A-Z][a-z]+", token) or re.fullmatch(r"[a-z]+(?:-[a-z]+)+", token):
            words.append(token)
    return words


class Phrases:
    """Translations of text the code writes: exact phrases, and f-string templates with numbered
    slots (``"{0} (class {1})"``), whose slots are filled with what the English had there."""

    def __init__(self, pairs: Mapping[str, str]):
        self.exact = {english: chinese for english, chinese in pairs.items() if english and chinese}
        self.templates = []
        for english, chinese in self.exact.items():
            if re.search(r"\{\d+\}", english):
                pattern = ""
                for piece in re.split(r"(\{\d+\})", english.replace("{{", "\0").replace("}}", "\1")):
                    if re.fullmatch(r"\{\d+\}", piece):
                        pattern += f"(?P<s{piece[1:-1]}>.+?)"
                    else:
                        pattern += re.escape(piece.replace("\0", "{").replace("\1", "}"))
                literal = len(re.sub(r"\{\d+\}", "", english))
                self.templates.append((literal, re.compile(pattern + r"\Z", re.S), chinese))
        self.templates.sort(key=lambda t: -t[0])  # the most specific template first

    def translate(self, text: str) -> str | None:
        """``text`` translated, or None when there is no translation for it."""
        if text in self.exact:
            return self.exact[text]
        for _, pattern, chinese in self.templates:
            match = pattern.match(text)
            if match:
                slots = {int(k[1:]): v for k, v in match.groupdict().items()}
                values = [self.translate(slots[i]) or slots[i] for i in range(len(slots))]
                return chinese.format(*values)
        # words there are translations for inside a text there is none for ("triangle (98.5%)"):
        # enough when no English prose is left once they are translated
        pieces = re.split(r"([A-Za-z][A-Za-z -]*[A-Za-z]|[A-Za-z])", text)
        swapped = "".join(self.exact.get(piece, piece) for piece in pieces)
        if swapped != text and not prose_words(swapped):
            return swapped
        return None


_speaking: dict[str, Phrases | None] = {"phrases": None}


def speak(pairs: Mapping[str, str] | None) -> None:
    """From now on, say what the package writes in the language of ``pairs`` (English -> that
    language, English templates included); ``None`` goes back to English. A Chinese notebook's
    first hidden cell calls it."""
    if pairs is not None and not isinstance(pairs, Mapping):
        raise TypeError(f"pairs must be a mapping of English text to its translation, or None; got "
                        f"{type(pairs).__name__}")
    _speaking["phrases"] = Phrases(pairs) if pairs else None


def say(text: str) -> str:
    """``text`` in the language :func:`speak` chose (unchanged without one, or without a
    translation)."""
    phrases = _speaking["phrases"]
    if phrases is None or not isinstance(text, str):
        return text
    return phrases.translate(text) or text


def table(words: Mapping[str, str]) -> dict[str, str]:
    """A widget's table of words in the language :func:`speak` chose."""
    return translated(words, say)
