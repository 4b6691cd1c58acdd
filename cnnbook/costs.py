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
from typing import Callable

REPORT = Path(__file__).resolve().parent / "report.json"


def load(path: Path = REPORT) -> dict:
    """The measured report (see ``benchmarks/build_report.py`` for its fields)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run python benchmarks/build_report.py from the repository's root")
    return json.loads(path.read_text())


#: The page that shows the whole report (its own cost line points below instead of to itself).
APPENDIX = "how-this-book-is-built"


#: The sentence under each chapter's title, and its two endings; ``cnnbook.build.i18n`` gives these
#: templates to the translators (``phrases.po``) and the Chinese edition fills in the same numbers.
COST_NOTE = ("*Running this page took {0} s and at most {1} GB of memory on a {2}-core CPU when the book was "
             "last measured ({3}{4}). It needs no GPU: its code runs on the CPU, so a GPU runtime would not make "
             "it faster.*")
COST_NOTE_LINK = "; see [how this book is built]({0})"
COST_NOTE_HERE = "; the tables below show the whole report"
#: What a report says its chapters ran with (``report["weights"]``, glued into the appendix).
WEIGHTS_PLANTED = "stand-in checkpoints of the real size (random values)"
WEIGHTS_PRETRAINED = "pretrained"
WEIGHTS_UNTRAINED = "untrained (no checkpoints in the cache)"
PHRASES = (COST_NOTE, COST_NOTE_LINK, COST_NOTE_HERE, WEIGHTS_PLANTED, WEIGHTS_PRETRAINED, WEIGHTS_UNTRAINED)


def cost_note(page: str, report: dict, appendix: str | None,
              translate: Callable[[str], str] = lambda template: template) -> str:
    """One Markdown sentence: how long ``page`` (a chapter's file name without ``.md``) ran and
    how much memory it needed when the report was measured, on what machine, and that it needs no
    GPU. ``appendix`` is the link to the page that shows the whole report (None on that page).
    ``translate`` turns each English template into the edition's language.
    Raises ``KeyError`` for a page the report lacks."""
    seconds = report["chapter_s"][page]["median"]
    peak_gb = report["chapter_peak_rss_mb"][page]["max"] / 1000
    cores = report["machine"]["cores"]
    if appendix:
        where = translate(COST_NOTE_LINK).format(appendix)
    else:
        where = translate(COST_NOTE_HERE) if page == APPENDIX else ""
    return translate(COST_NOTE).format(f"{seconds:.0f}", f"{peak_gb:.1f}", cores, report["measured"], where)


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


def budget_checks(report: dict) -> list[dict]:
    """Each budget of ``report`` beside what the report measured: one row per budget, with ``what``,
    ``measured`` and ``budget`` (both as text), and ``within`` (True, False, or None where this
    report did not measure it). Time budgets are multiples of the reference workload timed in the
    same run (machines that look alike differ by more than two times in seconds), or of the
    chapters' own times; the rebuild's is in seconds, because it runs no chapter. Times are medians
    over the runs, as the budgets were set on medians (``benchmarks/build_report.py``); memory is
    the largest reading, as in :func:`chapter_within_budget`."""
    budgets, chapters, memory = report["budgets"], report["chapter_s"], report["chapter_peak_rss_mb"]
    reference = report.get("reference", {}).get("train_s", {}).get("median")
    total = sum(entry["median"] for entry in chapters.values())
    slowest = max(chapters, key=lambda page: chapters[page]["median"])
    largest = max(memory, key=lambda page: memory[page]["max"])
    cold = report["cold_build_s"]["median"]
    together = report.get("cold_build_kernels_rss_mb", {}).get("max")
    gradcam = report["gradcam_ms"]["1"]["cnnbook.gradcam"]["ratio"]

    def row(what: str, measured: float | None, budget: float, unit: str, text=lambda value: "") -> dict:
        return {"what": what, "measured": "not measured in this report" if measured is None else text(measured),
                "budget": f"{budget:g}{unit}", "within": None if measured is None else measured <= budget}

    in_units = (lambda seconds: None) if reference is None else (lambda seconds: seconds / reference)
    return [
        row("clean build against its chapters' execution times added up", cold / total,
            budgets["cold_build_share"], "x", lambda v: f"{v:.2f}x ({cold:.0f} s against {total:.0f} s)"),
        row("clean build, in reference workloads", in_units(cold), budgets["cold_build_x_reference"], "",
            lambda v: f"{v:.1f} ({cold:.0f} s)"),
        row(f"slowest chapter ({slowest}), in reference workloads", in_units(chapters[slowest]["median"]),
            budgets["chapter_x_reference"], "", lambda v: f"{v:.1f} ({chapters[slowest]['median']:.1f} s)"),
        row("rebuild with nothing changed", report["warm_rebuild_s"]["median"], budgets["warm_rebuild_s"], " s",
            lambda v: f"{v:.1f} s"),
        row(f"peak memory of a chapter on its own ({largest})", memory[largest]["max"],
            budgets["chapter_peak_rss_mb"], " MB", lambda v: f"{v:.0f} MB"),
        row("peak memory of the chapters running at once in the clean build, added up", together,
            budgets["cold_build_kernels_rss_mb"], " MB", lambda v: f"{v:.0f} MB"),
        row("Grad-CAM on ResNet18, batch 1, against a forward pass alone", gradcam,
            budgets["gradcam_ratio_batch1"], "x", lambda v: f"{v:.2f}x"),
    ] + ([] if "translation_cold_s" not in budgets else [
        row("the Chinese edition, added to a clean build", report.get("translation_build_s", {}).get("median"),
            budgets["translation_cold_s"], " s", lambda v: f"{v:.0f} s"),
        row("the Chinese edition, rebuilt when nothing changed", None if "translation_build_s" not in report else
            float(report["translation_build_s"]["rebuilt_when_nothing_changed"]), 0, "",
            lambda v: "rebuilt" if v else "skipped"),
    ])


def chapter_within_budget(report: dict, page: str) -> bool | None:
    """Whether chapter ``page`` kept to the per-chapter budgets: its median time in reference
    workloads and its largest memory reading. None where the report lacks the reference workload or
    the page's memory."""
    reference = report.get("reference", {}).get("train_s", {}).get("median")
    memory = report["chapter_peak_rss_mb"].get(page)
    if reference is None or memory is None:
        return None
    budgets = report["budgets"]
    return (report["chapter_s"][page]["median"] / reference <= budgets["chapter_x_reference"]
            and memory["max"] <= budgets["chapter_peak_rss_mb"])
