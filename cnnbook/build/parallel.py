"""Executing the chapters in parallel, with jupyter-cache's own parallel executor.

MyST-NB runs a book's notebooks one after another while Sphinx reads them, and each uses about one
core. Just before Sphinx reads the pages it is about to read (``env-before-read-docs``),
:func:`execute_in_parallel` hands the notebooks among them that jupyter-cache has no executed copy
of to jupyter-cache's ``local-parallel`` executor, one per core at a time, with each kernel's
threads budgeted so that the chapters running together do not fight over the cores. Each executed
notebook goes into the same cache MyST-NB reads, keyed the same way (on its code), so MyST-NB then
finds every page executed. A notebook whose cell raises is not cached: MyST-NB runs it again in
the usual way and fails the build with the usual traceback.

``jupyter-book build`` stays the command; nothing changes for a one-chapter rebuild (one notebook
needs no pool) or for a build with nothing to execute.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

#: How MyST-NB reads a MyST markdown notebook into jupyter-cache (the reader it registers).
READ_DATA = {"name": "myst_nb_md", "type": "plugin"}
#: The variables that set how many threads the kernel's numerical libraries start.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def is_notebook(path: Path) -> bool:
    """A MyST markdown notebook: a ``.md`` file whose front matter starts with ``jupytext:``."""
    if path.suffix != ".md" or not path.is_file():
        return False
    with path.open(encoding="utf-8") as handle:
        return handle.read(13) == "---\njupytext:"


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


def execute_in_parallel(cache_path: str | Path, paths: list[Path], timeout: int, allow_errors: bool,
                        log=print) -> list[str]:
    """Execute those of ``paths`` that are not cached, in parallel, into the cache at ``cache_path``;
    return the URIs it executed successfully. Fewer than two to execute: nothing to gain, nothing done
    (MyST-NB runs the one itself)."""
    from jupyter_cache import get_cache
    from jupyter_cache.executors import load_executor

    cache = get_cache(str(cache_path))
    todo = unexecuted(cache, [p for p in paths if is_notebook(p)])
    if len(todo) < 2:
        return []
    at_once, each = plan(len(todo))
    # jupyter-cache's pool starts one worker per core; with fewer notebooks than cores some idle
    log(f"cnnbook: executing {len(todo)} notebooks in parallel, up to {at_once} at a time with "
        f"{each} thread{'s' if each > 1 else ''} each (jupyter-cache local-parallel)")
    for uri in todo:
        log(f"{uri}: Executing notebook in parallel [cnnbook]")
    executor = load_executor("local-parallel", cache)
    with threads(each):
        result = executor.run_and_cache(filter_uris=todo, timeout=timeout, allow_errors=allow_errors)
    for uri in result.excepted + result.errored:
        log(f"{uri}: its execution failed in parallel; it runs again on its own to report why [cnnbook]")
    return list(result.succeeded)
