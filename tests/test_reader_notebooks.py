"""Every chapter's notebook runs from top to bottom where readers run it: Colab and Binder.

Each environment is made from nothing, as a reader's would be, and every chapter's ``.ipynb`` is
executed in it with nbclient (no Jupyter Book, no MyST-NB, no test tools in the kernel):

* **Colab-like**: a fresh virtual environment with only the packages Colab ships that the book
  touches, the notebook alone in an empty folder, and its first cell, the install cell, run as a
  reader runs it. It installs the package with pip from a git repository, exactly as written,
  except that the address is a local copy of this working tree (``git+file://...@main``) instead
  of github.com, which this machine cannot reach.
* **Binder**: a fresh virtual environment from ``binder/requirements.txt`` and ``binder/postBuild``
  run in a copy of the repository, the notebook run from ``book/``. PyTorch's CPU index
  (``--extra-index-url https://download.pytorch.org/whl/cpu``) cannot be reached from here, so
  that one line is left out and the rest of the file is installed as it is: torch then comes from
  PyPI, as the CUDA build.

The kernels run offline (``CNNBOOK_OFFLINE=1``, an empty ``TORCH_HOME``): pages that use ImageNet
networks must show the untrained notice and go on. Each environment is built once per run and
deleted after it; the two are installed side by side (pip mostly waits on the disk) and their
chapters run two at a time (one thread each).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from cnnbook import notice
from cnnbook.build import notebooks

ROOT = Path(__file__).resolve().parent.parent
# What Colab ships that the chapters touch (the issue that asked for this test lists them).
COLAB_PACKAGES = ["torch", "torchvision", "numpy", "scipy", "pandas", "matplotlib", "scikit-learn",
                  "scikit-image", "pillow", "openpyxl", "ipywidgets", "tqdm", "ipykernel"]
UNREACHABLE_HERE = "--extra-index-url https://download.pytorch.org/whl/cpu"
WORKERS = max(1, min(4, os.cpu_count() or 1))

pytestmark = pytest.mark.notebooks

# Runs one notebook in a kernel named argv[3], from folder argv[4]; writes what ran to argv[2].
# The install cell is tagged skip-execution for the book's build; a reader's Jupyter ignores that
# tag, so nbclient is told to skip nothing.
RUNNER = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
client = NotebookClient(nb, kernel_name=sys.argv[3], timeout=900, skip_cells_with_tag="(none)",
                        resources={"metadata": {"path": sys.argv[4]}})
try:
    client.execute()
finally:
    nbformat.write(nb, sys.argv[2])
"""


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, command))}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def working_tree_repository(dst: Path) -> Path:
    """A git repository on branch ``main`` holding this working tree (committed or not), the way
    a reader's clone or pip's ``git+`` checkout sees the repository."""
    files = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dst / name)
    git = ["git", "-c", "user.name=cnnbook tests", "-c", "user.email=tests@cnnbook.invalid"]
    run(git + ["init", "-q", "-b", "main"], cwd=dst)
    run(git + ["add", "-A"], cwd=dst)
    run(git + ["commit", "-q", "-m", "working tree"], cwd=dst)
    return dst


def virtualenv(path: Path, *pip_args: str) -> Path:
    run([sys.executable, "-m", "venv", str(path)])
    python = path / "bin" / "python"
    run([str(python), "-m", "pip", "install", "--quiet", *pip_args], timeout=1800)
    return python


def kernel(jupyter_path: Path, name: str, python: Path) -> None:
    spec = jupyter_path / "kernels" / name
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": name, "language": "python"}))


def installed(python: Path) -> dict[str, str]:
    listing = run([str(python), "-m", "pip", "list", "--format=json"]).stdout
    return {p["name"].lower(): p["version"] for p in json.loads(listing)}


def execute(notebook: Path, out: Path, kernel_name: str, cwd: Path, env: dict[str, str]) -> str:
    """Run one notebook; '' when every cell ran, else the end of the error."""
    result = subprocess.run([sys.executable, "-c", RUNNER, str(notebook), str(out), kernel_name, str(cwd)],
                            capture_output=True, text=True, env=env, timeout=1800)
    return "" if result.returncode == 0 else (result.stderr[-4000:] or f"exit {result.returncode}")


def kernel_env(tmp: Path, jupyter_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MPLBACKEND", "PYTHONPATH", "VIRTUAL_ENV", "CNNBOOK_BOOK_BUILD", "CNNBOOK_REQUIRE_WEIGHTS")}
    torch_home = tmp / "torch_home"
    torch_home.mkdir(exist_ok=True)
    env.update(JUPYTER_PATH=str(jupyter_path), TORCH_HOME=str(torch_home), CNNBOOK_OFFLINE="1",
               OMP_NUM_THREADS="1", PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}")
    return env


def run_all(jobs: list[tuple[Path, Path, str, Path, dict]]) -> dict[str, str]:
    with ThreadPoolExecutor(WORKERS) as pool:
        errors = pool.map(lambda job: execute(*job), jobs)
        return {job[0].stem: error for job, error in zip(jobs, errors)}


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Path:
    return working_tree_repository(tmp_path_factory.mktemp("repository"))


@pytest.fixture(scope="module")
def environments(repository, tmp_path_factory):
    """Both fresh environments, installed at the same time: {"colab": (folder, python), "binder": ...}."""
    colab, binder = tmp_path_factory.mktemp("colab"), tmp_path_factory.mktemp("binder")
    clone = binder / "clone"
    shutil.copytree(repository, clone)
    requirements = (clone / "binder" / "requirements.txt").read_text()
    assert UNREACHABLE_HERE in requirements
    reachable = binder / "requirements-reachable.txt"
    reachable.write_text(requirements.replace(UNREACHABLE_HERE, ""))

    def make_binder() -> Path:
        python = virtualenv(binder / "venv", "-r", str(reachable))
        # repo2docker runs postBuild from the repository's root with the environment's Python first on PATH.
        run(["bash", "binder/postBuild"], cwd=clone, env={**os.environ, "PATH": f"{python.parent}:{os.environ['PATH']}"})
        return python

    with ThreadPoolExecutor(2) as pool:
        colab_python = pool.submit(virtualenv, colab / "venv", *COLAB_PACKAGES)
        binder_python = pool.submit(make_binder)
        made = {"colab": (colab, colab_python.result()), "binder": (binder, binder_python.result())}
    yield made
    for folder, _ in made.values():
        shutil.rmtree(folder / "venv", ignore_errors=True)


def read_outputs(path: Path) -> list[dict]:
    nb = nbformat.read(path, as_version=4)
    return [output for cell in nb.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]


def output_text(outputs: list[dict]) -> str:
    parts = []
    for output in outputs:
        parts.append(output.get("text", ""))
        for value in output.get("data", {}).values():
            parts.append(value if isinstance(value, str) else json.dumps(value))
    return "\n".join(parts)


def check_outputs(results: dict[str, str], outdir: Path) -> None:
    """Every chapter ran; no error output; offline ImageNet pages say their networks are untrained;
    the numbers the text names are printed from the reader's own run."""
    assert set(results) == {md.stem for md in notebooks.chapters(ROOT)}
    failed = {name: error for name, error in results.items() if error}
    assert not failed, "\n\n".join(f"--- {name} ---\n{error}" for name, error in failed.items())
    for md in notebooks.chapters(ROOT):
        outputs = read_outputs(outdir / f"{md.stem}.ipynb")
        assert not [o for o in outputs if o["output_type"] == "error"], md.stem
        text = output_text(outputs)
        assert "Traceback (most recent call last)" not in text, md.stem
        if "models.load(" in md.read_text():
            assert notice.models_in(text), f"{md.stem} loads an ImageNet network offline but shows no notice"
        for name in re.findall(r"\{glue:text\}`([\w-]+)", md.read_text()):
            assert re.search(rf"^{re.escape(name)} = ", text, re.M), f"{md.stem}: nothing prints {name}"


def test_every_notebook_runs_in_a_colab_like_environment(repository, environments, tmp_path):
    jupyter_path = tmp_path / "jupyter"
    venv_folder, python = environments["colab"]
    kernel(jupyter_path, "colab-like", python)
    before = installed(python)
    assert "cnnbook" not in before and "myst-nb" not in before and "jupyter-book" not in before
    url, branch = notebooks.repository_url(ROOT), notebooks.repository_branch(ROOT)
    jobs = []
    for md in notebooks.chapters(ROOT):
        # Colab has the notebook and nothing else from the repository.
        folder = tmp_path / "content" / md.stem
        folder.mkdir(parents=True)
        nb = json.loads(md.with_suffix(".ipynb").read_text())
        install = "".join(nb["cells"][0]["source"])
        assert f"git+{url}@{branch}" in install, "the install cell's address changed; update this test"
        nb["cells"][0]["source"] = install.replace(f"git+{url}@{branch}", f"git+file://localhost{repository}@main")
        (folder / md.with_suffix(".ipynb").name).write_text(json.dumps(nb))
        jobs.append((folder / md.with_suffix(".ipynb").name, tmp_path / f"{md.stem}.ipynb", "colab-like", folder,
                     kernel_env(tmp_path, jupyter_path)))
    # The first chapter installs the package; the others then find it (as in one Colab runtime).
    first = run_all(jobs[:1])
    assert first == {jobs[0][0].stem: ""}, first
    install_output = read_outputs(tmp_path / f"{jobs[0][0].stem}.ipynb")[0]
    assert install_output["output_type"] == "stream" and install_output["text"].strip().splitlines() == [
        f"installed cnnbook @ git+file://localhost{repository}@main"], "the install cell must print one short line"
    results = {**first, **run_all(jobs[1:])}
    after = installed(python)
    shutil.rmtree(venv_folder / "venv")
    check_outputs(results, tmp_path)
    assert {k: after[k] for k in ("torch", "torchvision")} == {k: before[k] for k in ("torch", "torchvision")}
    assert "cnnbook" in after and "myst-nb" not in after and "jupyter-book" not in after


def test_every_notebook_runs_in_binders_environment(environments, tmp_path):
    venv_folder, python = environments["binder"]
    clone = venv_folder / "clone"
    jupyter_path = tmp_path / "jupyter"
    kernel(jupyter_path, "binder", python)
    assert "myst-nb" not in installed(python)
    env = kernel_env(tmp_path, jupyter_path)
    jobs = [(clone / "book" / md.with_suffix(".ipynb").name, tmp_path / f"{md.stem}.ipynb", "binder",
             clone / "book", env) for md in notebooks.chapters(ROOT)]
    results = run_all(jobs)
    shutil.rmtree(venv_folder / "venv")
    check_outputs(results, tmp_path)
