"""Chapters executed in parallel (cnnbook.build.parallel): a small book of three notebooks, built
with the book's real configuration, runs them at once, one per core, with the threads shared out;
MyST-NB then finds them executed; a failing one still fails the build with its traceback; editing
one runs only that one."""

import json
import os
import textwrap
from pathlib import Path

import pytest
import yaml

from cnnbook.build import notebooks, parallel
from conftest import REPO, build, log


def test_one_notebook_per_core_and_the_cores_shared_among_them():
    assert parallel.plan(14, cores=2) == (2, 1)
    assert parallel.plan(1, cores=2) == (1, 2)
    assert parallel.plan(3, cores=16) == (3, 5)
    assert parallel.plan(5, cores=1) == (1, 1)


def test_the_thread_budget_is_set_for_the_kernels_and_given_back(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    with parallel.threads(1):
        assert [os.environ[v] for v in parallel.THREAD_VARIABLES] == ["1", "1", "1"]
    assert os.environ["OMP_NUM_THREADS"] == "7" and "MKL_NUM_THREADS" not in os.environ


def test_only_myst_notebooks_are_executed(tmp_path):
    (tmp_path / "page.md").write_text("# A page without code\n")
    (tmp_path / "chapter.md").write_text("---\njupytext:\n  formats: md:myst\n---\n# A chapter\n")
    assert not parallel.is_notebook(tmp_path / "page.md") and parallel.is_notebook(tmp_path / "chapter.md")
    assert not parallel.is_notebook(tmp_path / "missing.md")


def test_the_longest_chapters_start_first_by_the_last_report(tmp_path):
    seconds = parallel.expected_seconds()
    assert {p.stem for p in notebooks.chapters(REPO)} <= set(seconds), "a chapter the report has not timed"
    uris = ["/b/short.md", "/b/new.md", "/b/long.md", "/b/other-new.md"]
    assert parallel.longest_first(uris, {"short": 1.0, "long": 9.0}) == [
        "/b/long.md", "/b/short.md", "/b/new.md", "/b/other-new.md"]
    (tmp_path / "broken.json").write_text("{not json")
    assert parallel.expected_seconds(tmp_path / "broken.json") == {}
    assert parallel.expected_seconds(tmp_path / "missing.json") == {}


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="running notebooks side by side needs two cores")
def test_the_executor_hands_out_one_notebook_at_a_time_longest_first(tmp_path, monkeypatch):
    """Two workers, three notebooks: the two expected to take longest start together and the
    shortest waits for a free worker (jupyter-cache's own pool hands them out in the order they were
    added to its project)."""
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # two workers, whatever the machine has
    header = (REPO / "book" / "preface.md").read_text().split("---\n")[1]
    paths = []
    for name in ("short", "middle", "long"):
        code = textwrap.dedent(CELL.format(seconds=4, extra="", name=tmp_path / name)).strip()
        path = tmp_path / f"{name}.md"
        path.write_text(f"---\n{header}---\n\n# {name}\n\n```{{code-cell}} ipython3\n{code}\n```\n")
        paths.append(path)
    done = parallel.execute_in_parallel(tmp_path / "cache", paths, timeout=60, allow_errors=False,
                                        log=lambda line: None, seconds={"short": 1, "middle": 5, "long": 9})
    assert sorted(Path(uri).stem for uri in done) == ["long", "middle", "short"]
    runs = {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in ("short", "middle", "long")}
    assert runs["short"]["start"] >= min(runs["long"]["end"], runs["middle"]["end"]), runs
    assert max(runs["long"]["start"], runs["middle"]["start"]) < min(runs["long"]["end"], runs["middle"]["end"])


CELL = """
import json, os, time
start = time.time()
time.sleep({seconds})
{extra}
json.dump({{"start": start, "end": time.time(), "threads": os.environ.get("OMP_NUM_THREADS")}},
          open("{name}.json", "w"))
"""


def small_book(root: Path, extras: dict[str, str] | None = None) -> Path:
    """A book of three chapters whose code sleeps and records when it ran and with how many threads."""
    extras = extras or {}
    root.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    config.pop("bibtex_bibfiles", None)
    (root / "_config.yml").write_text(yaml.safe_dump(config))
    names = ["one", "two", "three"]
    (root / "_toc.yml").write_text("format: jb-book\nroot: one\nchapters:\n" + "".join(f"  - file: {n}\n" for n in names[1:]))
    header = (REPO / "book" / "preface.md").read_text().split("---\n")[1]
    for name in names:
        code = textwrap.dedent(CELL.format(seconds=3, extra=extras.get(name, ""), name=name)).strip()
        (root / f"{name}.md").write_text(f"---\n{header}---\n\n# Chapter {name}\n\n```{{code-cell}} ipython3\n{code}\n```\n")
    return root



@pytest.mark.build
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="running chapters side by side needs two cores")
def test_chapters_run_side_by_side_and_the_build_finds_them_executed(tmp_path, offline_env):
    src = small_book(tmp_path / "src")
    result = build(src, tmp_path / "out", offline_env)
    text = log(result)
    assert result.returncode == 0, text[-3000:]
    assert "cnnbook: executing 3 notebooks in parallel" in text
    assert "Executing notebook using local CWD" not in text  # MyST-NB ran none of them itself
    runs = {name: json.loads((src / f"{name}.json").read_text()) for name in ("one", "two", "three")}
    at_once, each = parallel.plan(3)
    assert {run["threads"] for run in runs.values()} == {str(each)}
    spans = sorted((run["start"], run["end"]) for run in runs.values())
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:])), f"none overlapped: {spans}"
    for name in ("one", "two", "three"):
        assert f"Chapter {name}" in (tmp_path / "out" / "_build" / "html" / f"{name}.html").read_text()

    # an edit to one chapter runs that chapter alone, the usual way
    chapter = src / "two.md"
    chapter.write_text(chapter.read_text().replace("time.sleep(3)", "time.sleep(1)"))
    again = build(src, tmp_path / "out", offline_env, clean=False)
    assert again.returncode == 0, log(again)[-3000:]
    assert "in parallel" not in log(again)
    assert log(again).count("Executing notebook using local CWD") == 1


@pytest.mark.build
def test_a_chapter_that_fails_in_parallel_still_fails_the_build_with_its_traceback(tmp_path, offline_env):
    src = small_book(tmp_path / "src", {"two": "raise ValueError('chapter two is broken')"})
    result = build(src, tmp_path / "out", offline_env)
    text = log(result)
    assert result.returncode != 0
    assert "its execution failed in parallel; it runs again on its own" in text
    assert "ValueError" in text and "chapter two is broken" in text
