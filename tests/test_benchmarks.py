"""The benchmark report the appendix shows: present, complete and current; its helpers."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import build_report  # noqa: E402

from cnnbook import notebooks  # noqa: E402


@pytest.fixture(scope="module")
def report():
    path = ROOT / "benchmarks" / "report.json"
    assert path.is_file(), "run python benchmarks/build_report.py (the appendix reads its report)"
    return json.loads(path.read_text())


def test_report_covers_every_chapter_and_every_budget(report):
    pages = {page.stem for page in notebooks.chapters(ROOT)}
    assert set(report["chapter_s"]) == pages, "a chapter was added or renamed: measure again"
    assert set(report["chapter_peak_rss_mb"]) == pages
    assert report["budgets"] == build_report.BUDGETS
    for entry in [report["cold_build_s"], report["warm_rebuild_s"], report["one_chapter_rebuild_s"],
                  *report["chapter_s"].values(), *report["chapter_peak_rss_mb"].values()]:
        assert entry["min"] <= entry["median"] <= entry["max"] and entry["runs"] == report["runs"]
    assert {"forward only", "cnnbook.gradcam"} <= set(report["gradcam_ms"]["1"])
    assert report["machine"]["cores"] >= 1 and report["weights"]


def test_incremental_builds_execute_only_what_changed(report):
    assert report["warm_rebuild_s"]["executed"] == []
    edited = report["one_chapter_rebuild_s"]
    assert edited["executed"] == [edited["edited"]]


def test_summary_puts_each_figure_beside_its_budget(report):
    text = build_report.summary(report)
    assert f"budget {build_report.BUDGETS['cold_build_s']} s" in text
    assert all(page in text for page in report["chapter_s"])


def test_spread_and_the_executed_pages_of_a_build_log():
    assert build_report.spread([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "runs": 3}
    log = ("/x/src/book/04-pooling.md: Executing notebook using local CWD [mystnb]\n"
           "/x/src/book/04-pooling.md: Executed notebook in 5.2 seconds [mystnb]\n")
    assert build_report.executed_pages(log) == ["04-pooling"]
