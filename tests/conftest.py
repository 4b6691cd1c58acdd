import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402


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
