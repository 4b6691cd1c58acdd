"""What the book costs to build and to run, as last measured. Used by the appendix. The build
(:mod:`cnnbook.build`) reads it too, for the line under every page's title (web page and notebook).

``benchmarks/build_report.py`` measures the whole book and writes ``cnnbook/report.json``; it
ships inside the package, so a notebook in Colab, which has only the installed package, can read
it as well as the book's build can.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

REPORT = Path(__file__).resolve().parent / "report.json"


def load(path: Path = REPORT) -> dict:
    """The measured report (see ``benchmarks/build_report.py`` for its fields)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run python benchmarks/build_report.py from the repository's root")
    return json.loads(path.read_text())


#: The page that shows the whole report (its own cost line points below instead of to itself).
APPENDIX = "how-this-book-is-built"


def cost_note(page: str, report: dict, appendix: str | None) -> str:
    """One Markdown sentence: how long ``page`` (a chapter's file name without ``.md``) ran and
    how much memory it needed when the report was measured, on what machine, and that it needs no
    GPU. ``appendix`` is the link to the page that shows the whole report (None on that page).
    Raises ``KeyError`` for a page the report lacks."""
    seconds = report["chapter_s"][page]["median"]
    peak_gb = report["chapter_peak_rss_mb"][page]["max"] / 1000
    cores = report["machine"]["cores"]
    if appendix:
        where = f"; see [how this book is built]({appendix})"
    else:
        where = "; the tables below show the whole report" if page == APPENDIX else ""
    return (f"*Running this page took {seconds:.0f} s and at most {peak_gb:.1f} GB of memory on a {cores}-core CPU "
            f"when the book was last measured ({report['measured']}{where}). "
            "It needs no GPU: its code runs on the CPU, so a GPU runtime would not make it faster.*")


def with_cost_note(text: str, note: str) -> str:
    """A chapter's MyST text with ``note`` as a paragraph right under its ``# title`` (code cells,
    whose ``# comments`` look like titles, are skipped)."""
    lines = text.splitlines(keepends=True)
    fence = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if fence is None:
            opening = re.match(r"^(`{3,}|:{3,}|~{3,})", stripped)
            if opening:
                fence = opening.group(1)
            elif re.match(r"^# \S", line):
                return "".join(lines[:i + 1]) + "\n" + note + "\n" + "".join(lines[i + 1:])
        elif stripped == fence:
            fence = None
    raise ValueError("the page has no '# title' line to put its cost under")
