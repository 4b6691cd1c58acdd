"""The benchmark report the appendix shows: present, complete and current; its helpers."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import build_report  # noqa: E402

from cnnbook import costs  # noqa: E402
from cnnbook.build import notebooks  # noqa: E402


@pytest.fixture(scope="module")
def report():
    return costs.load()


def test_report_covers_every_chapter_and_every_budget(report):
    pages = {page.stem for page in notebooks.chapters(ROOT)}
    assert set(report["chapter_s"]) == pages, "a chapter was added or renamed: measure again"
    assert set(report["chapter_peak_rss_mb"]) == pages
    assert report["budgets"] == build_report.BUDGETS
    for entry in [report["cold_build_s"], report["warm_rebuild_s"], report["one_chapter_rebuild_s"],
                  *report["chapter_s"].values(), *report["chapter_peak_rss_mb"].values(),
                  report["libraries_rss_mb"], report["cold_build_kernels_rss_mb"]]:
        assert entry["min"] <= entry["median"] <= entry["max"] and entry["runs"] == report["runs"]
    assert {"forward only", "cnnbook.gradcam"} <= set(report["gradcam_ms"]["1"])
    assert report["machine"]["cores"] >= 1 and report["weights"]
    reference = report["reference"]
    for entry in (reference["train_s"], reference["matmul_gflops"]):
        assert 0 < entry["min"] <= entry["median"] <= entry["max"] and entry["runs"] == 2 * report["runs"]
    # the sampler saw the kernels of the clean build: together more than one kernel with the libraries
    assert report["cold_build_kernels_rss_mb"]["min"] > report["libraries_rss_mb"]["max"]
    # every chapter that imports PyTorch holds at least what the libraries alone take
    torch_pages = [p.stem for p in notebooks.chapters(ROOT) if "import torch" in p.read_text()]
    assert torch_pages and all(report["chapter_peak_rss_mb"][page]["max"] >= report["libraries_rss_mb"]["min"]
                               for page in torch_pages)


def test_incremental_builds_execute_only_what_changed(report):
    assert report["warm_rebuild_s"]["executed"] == []
    edited = report["one_chapter_rebuild_s"]
    assert edited["executed"] == [edited["edited"]]


def test_summary_puts_each_figure_beside_its_budget(report):
    text = build_report.summary(report)
    for check in costs.budget_checks(report):
        assert f"{check['what']}: {check['measured']} (budget {check['budget']})" in text
    assert all(page in text for page in report["chapter_s"])


def test_the_measured_book_keeps_to_every_budget(report):
    """The report the appendix shows was measured with the parallel build and the reference
    workload, and is within every budget (a report over one would say so on the page: fix the
    book or the budget, then measure again)."""
    checks = costs.budget_checks(report)
    assert len(checks) >= 7 and all(check["within"] is True for check in checks), checks
    assert all(costs.chapter_within_budget(report, page) for page in report["chapter_s"])


def test_budget_checks_compare_in_reference_units_and_say_what_was_not_measured(report):
    budgets = {**build_report.BUDGETS, "chapter_x_reference": 4.0, "cold_build_x_reference": 40.0,
               "cold_build_share": 0.6}
    reference = {**report["reference"], "train_s": {"median": 5.0, "min": 5.0, "max": 5.0, "runs": 1}}
    made = {**report, "budgets": budgets, "reference": reference,
            "chapter_s": {"a": {"median": 19.0, "min": 19.0, "max": 19.0, "runs": 1},
                          "b": {"median": 21.0, "min": 20.0, "max": 22.0, "runs": 1}},
            "chapter_peak_rss_mb": {"a": {"median": 900, "min": 900, "max": 900, "runs": 1},
                                    "b": {"median": 1000, "min": 1000, "max": 1000, "runs": 1}},
            "cold_build_s": {"median": 30.0, "min": 30.0, "max": 30.0, "runs": 1}}
    rows = {row["what"]: row for row in costs.budget_checks(made)}
    share = rows["clean build against its chapters' execution times added up"]
    assert share["measured"].startswith("0.75x") and share["within"] is False  # 30 s / (19 + 21) s > 0.6
    slowest = rows["slowest chapter (b), in reference workloads"]
    assert slowest["measured"] == "4.2 (21.0 s)" and slowest["within"] is False  # its median run
    assert costs.chapter_within_budget(made, "a") and not costs.chapter_within_budget(made, "b")
    lacking = {k: v for k, v in made.items() if k not in ("reference", "cold_build_kernels_rss_mb")}
    rows = {row["what"]: row for row in costs.budget_checks(lacking)}
    assert rows["clean build, in reference workloads"]["within"] is None
    assert "not measured" in rows["peak memory of the chapters running at once in the clean build, added up"]["measured"]
    assert costs.chapter_within_budget(lacking, "a") is None


def test_spread_and_the_executed_pages_of_a_build_log():
    assert build_report.spread([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "runs": 3}
    log = ("/x/src/book/04-pooling.md: Executing notebook using local CWD [mystnb]\n"
           "/x/src/book/04-pooling.md: Executed notebook in 5.2 seconds [mystnb]\n")
    assert build_report.executed_pages(log) == ["04-pooling"]


CHILD = """
import os, sys, time
held = bytearray(300 * 2**20)          # the "kernel": 300 MB, every page touched
for i in range(0, len(held), 4096):
    held[i] = 1
if os.fork() == 0:                     # a forked child shares those pages ...
    if sys.argv[1] == "own":
        own = bytearray(100 * 2**20)   # ... and here also holds 100 MB of its own
        for i in range(0, len(own), 4096):
            own[i] = 1
    print("ready", flush=True)
    time.sleep(60)
    os._exit(0)
time.sleep(60)
"""


@pytest.mark.parametrize("child", ["shared", "own"])
def test_kernel_memory_counts_a_forked_child_once(child):
    import subprocess

    import chapter_resources
    import psutil

    kernel = subprocess.Popen([sys.executable, "-c", CHILD, child], stdout=subprocess.PIPE, text=True)
    try:
        assert kernel.stdout.readline().strip() == "ready"
        process = psutil.Process(kernel.pid)
        (forked,) = process.children()
        own_rss = process.memory_info().rss
        naive = own_rss + forked.memory_info().rss
        measured = chapter_resources.kernel_memory(process)
        assert naive - own_rss > 250e6  # RSS counts the shared 300 MB a second time
        if child == "shared":
            assert measured - own_rss < 30e6
        else:
            assert 90e6 < measured - own_rss < 140e6
    finally:
        for p in psutil.Process(kernel.pid).children(recursive=True):
            p.kill()
        kernel.kill()
        kernel.wait(timeout=10)


def test_a_new_report_makes_the_next_build_run_the_appendix_again(tmp_path):
    import nbformat
    from jupyter_cache import get_cache

    assert build_report.forget_cached_execution(tmp_path / "none", build_report.APPENDIX) == 0
    store = get_cache(tmp_path / "cache")
    for page in [build_report.APPENDIX, ROOT / "book" / "04-pooling.md"]:
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"print({str(page)!r})")])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path = tmp_path / f"{page.stem}.ipynb"
        nbformat.write(notebook, path)
        store.cache_notebook_file(path, uri=str(page), check_validity=False)
    assert build_report.forget_cached_execution(tmp_path / "cache", build_report.APPENDIX) == 1
    assert [Path(r.uri).name for r in get_cache(tmp_path / "cache").list_cache_records()] == ["04-pooling.md"]


def test_chapters_are_also_given_in_units_of_the_reference_workload(report):
    import reference_workload

    with pytest.raises(ValueError, match="threads and runs must be at least 1, got threads=0"):
        reference_workload.measure(0)
    first = {"threads": 1, "train_steps": 200, "batch": 64, "matmul_size": 1024,
             "train_s": {"median": 2.0, "min": 1.9, "max": 2.2, "runs": 3},
             "matmul_gflops": {"median": 100.0, "min": 90.0, "max": 110.0, "runs": 3}}
    second = {**first, "train_s": {"median": 4.0, "min": 3.8, "max": 4.4, "runs": 3}}
    combined = build_report.combine([first, second])
    assert combined["train_s"] == {"median": 3.0, "min": 1.9, "max": 4.4, "runs": 6}
    with_reference = {**report, "reference": combined}
    assert build_report.in_reference_units(6.0, with_reference) == 2.0
    assert build_report.in_reference_units(6.0, {k: v for k, v in report.items() if k != "reference"}) is None
    text = build_report.summary(with_reference)
    assert "reference workload   3.00 s" in text and "x reference" in text


def test_the_reference_workload_measures_both_parts():
    import reference_workload

    assert reference_workload.train_seconds(steps=3) > 0
    assert reference_workload.matmul_gflops(size=64, repeats=2) > 0
