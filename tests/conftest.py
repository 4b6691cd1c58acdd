import matplotlib

matplotlib.use("Agg")

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """An empty TORCH_HOME, so no test sees weights cached on this machine."""
    home = tmp_path / "torch_home"
    home.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.delenv("CNNBOOK_REQUIRE_WEIGHTS", raising=False)
    monkeypatch.delenv("CNNBOOK_OFFLINE", raising=False)
    return home


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


# --- the whole book, built once per test session (tests/test_book.py, tests/test_browser.py) ---


def build(source: Path, out: Path, env: dict[str, str], clean: bool = True,
          builder: str = "html") -> subprocess.CompletedProcess:
    """``jupyter-book build`` in strict mode: every cell error and Sphinx warning fails it."""
    command = [str(JUPYTER_BOOK), "build", str(source), "--path-output", str(out), "-W", "--keep-going",
               "--builder", builder]
    if clean:
        command.append("--all")
    full_env = {**os.environ, **env}
    full_env.pop("MPLBACKEND", None)  # the kernel must use its inline backend
    return subprocess.run(command, capture_output=True, text=True, env=full_env, timeout=1200)


def log(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


@pytest.fixture(scope="session")
def offline_env(tmp_path_factory) -> dict[str, str]:
    """No cached weights and no download attempts: how the book builds on a machine offline."""
    home = tmp_path_factory.mktemp("torch_home")
    return {"TORCH_HOME": str(home), "CNNBOOK_OFFLINE": "1", "CNNBOOK_REQUIRE_WEIGHTS": "0"}


@pytest.fixture(scope="session")
def book(tmp_path_factory, offline_env):
    out = tmp_path_factory.mktemp("book")
    result = build(REPO, out, offline_env)
    return result, out / "_build" / "html"
