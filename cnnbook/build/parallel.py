"""Executing the chapters in parallel, with jupyter-cache's own parallel execution worker.

MyST-NB runs a book's notebooks one after another while Sphinx reads them, and each uses about one
core. Just before Sphinx reads the pages it is about to read (``env-before-read-docs``),
:func:`execute_in_parallel` hands the notebooks among them that jupyter-cache has no executed copy
of to jupyter-cache's parallel executor (its ``local-parallel`` worker, in a pool of our own that
hands out one notebook at a time), one per core at a time, with each kernel's
threads budgeted so that the chapters running together do not fight over the cores. Each executed
notebook goes into the same cache MyST-NB reads, keyed the same way (on its code), so MyST-NB then
finds every page executed. A notebook whose cell raises is not cached: MyST-NB runs it again in
the usual way and fails the build with the usual traceback.

The notebooks start longest first (by the chapter times in the last measured report,
``cnnbook/report.json``), one at a time per worker, so that no long chapter is left to run alone at
the end while the other cores idle.

``jupyter-book build`` stays the command; nothing changes for a one-chapter rebuild (one notebook
needs no pool) or for a build with nothing to execute.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

#: How MyST-NB reads a MyST markdown notebook into jupyter-cache (the reader it registers).
READ_DATA = {"name": "myst_nb_md", "type": "plugin"}
#: The variables that set how many threads the kernel's numerical libraries start.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


#: The last measured report: its chapter times say which notebooks to start first.
REPORT = Path(__file__).resolve().parents[1] / "report.json"


#: How a MyST markdown notebook's text starts: front matter whose first key is ``jupytext``.
NOTEBOOK_START = "---\njupytext:"


def is_notebook(path: Path) -> bool:
    """A MyST markdown notebook: a ``.md`` file that starts with :data:`NOTEBOOK_START`."""
    if path.suffix != ".md" or not path.is_file():
        return False
    with path.open(encoding="utf-8") as handle:
        return handle.read(len(NOTEBOOK_START)) == NOTEBOOK_START


def plan(notebooks: int, cores: int | None = None) -> tuple[int, int]:
    """How many notebooks to run at once and how many threads each kernel gets: one notebook per
    core, and the cores shared among the notebooks running together."""
    cores = max(1, cores or os.cpu_count() or 1)
    at_once = max(1, min(notebooks, cores))
    return at_once, max(1, cores // at_once)


@contextmanager
def threads(count: int) -> Iterator[None]:
    """The kernels started inside (they inherit this process's environment) use ``count`` threads."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(count) for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def unexecuted(cache, paths: list[Path]) -> list[str]:
    """The notebooks among ``paths`` that ``cache`` has no executed copy of (their URIs), each
    staged in the cache's project the way MyST-NB stages it."""
    records = [cache.add_nb_to_project(str(path), read_data=READ_DATA) for path in paths]
    return [record.uri for record in records if cache.get_cached_project_nb(record.pk) is None]


def expected_seconds(report: Path = REPORT) -> dict[str, float]:
    """Each chapter's execution time (its file name without ``.md``) in ``report``; empty where there
    is no readable report."""
    try:
        chapters = json.loads(report.read_text(encoding="utf-8"))["chapter_s"]
        return {name: float(found["median"]) for name, found in chapters.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def longest_first(uris: list[str], seconds: dict[str, float]) -> list[str]:
    """``uris`` ordered by their expected time, longest first; those with no known time keep their
    order, after the others (the order is stable)."""
    return sorted(uris, key=lambda uri: -seconds.get(Path(uri).stem, -1.0))


def _executor(cache, at_once: int, order: list[str]):
    """jupyter-cache's ``local-parallel`` executor, with ``at_once`` workers that each take one
    notebook at a time in the order ``order`` (jupyter-cache's own hands them out in chunks, in the
    order they were added, with a worker per core)."""
    from jupyter_cache.executors.base import ExecutorRunResult
    from jupyter_cache.executors.basic import JupyterExecutorLocalMproc, ProcessData

    class LongestFirst(JupyterExecutorLocalMproc):
        def run_and_cache(self, *, filter_uris=None, filter_pks=None, timeout=30, allow_errors=False,
                          force=False) -> ExecutorRunResult:
            records = self.get_records(filter_uris, filter_pks, clear_tracebacks=True, force=force)
            rank = {uri: i for i, uri in enumerate(order)}
            records.sort(key=lambda record: rank.get(record.uri, len(rank)))
            jobs = [ProcessData(r.pk, r.uri, self.cache, timeout, allow_errors) for r in records]
            with multiprocessing.Pool(at_once) as pool:
                results = list(pool.imap_unordered(self._EXECUTION_WORKER(), jobs, chunksize=1))
            return ExecutorRunResult(succeeded=[uri for code, uri in results if code == 0],
                                     excepted=[uri for code, uri in results if code == 1],
                                     errored=[uri for code, uri in results if code == 2])

    return LongestFirst(cache)


def execute_in_parallel(cache_path: str | Path, paths: list[Path], timeout: int, allow_errors: bool,
                        log=print, seconds: dict[str, float] | None = None) -> list[str]:
    """Execute those of ``paths`` that are not cached, in parallel, into the cache at ``cache_path``,
    longest first by ``seconds`` (each notebook's expected time by its name; default: the last
    report's); return the URIs it executed successfully. Fewer than two to execute: nothing to gain,
    nothing done (MyST-NB runs the one itself)."""
    from jupyter_cache import get_cache

    cache = get_cache(str(cache_path))
    todo = unexecuted(cache, [p for p in paths if is_notebook(p)])
    if len(todo) < 2:
        return []
    at_once, each = plan(len(todo))
    todo = longest_first(todo, expected_seconds() if seconds is None else seconds)
    log(f"cnnbook: executing {len(todo)} notebooks in parallel, up to {at_once} at a time with "
        f"{each} thread{'s' if each > 1 else ''} each, longest first (jupyter-cache's local-parallel worker)")
    for uri in todo:
        log(f"{uri}: Executing notebook in parallel [cnnbook]")
    executor = _executor(cache, at_once, todo)
    with threads(each):
        result = executor.run_and_cache(filter_uris=todo, timeout=timeout, allow_errors=allow_errors)
    for uri in result.excepted + result.errored:
        log(f"{uri}: its execution failed in parallel; it runs again on its own to report why [cnnbook]")
    return list(result.succeeded)
