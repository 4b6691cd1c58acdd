import warnings

import pytest

from cnnbook import notice


def test_box_is_a_warning_admonition_with_a_marker():
    box = notice.html_box("vgg16", "no network", "/x/vgg16.pth", "https://example/vgg16.pth")
    assert 'class="admonition warning cnnbook-untrained"' in box
    assert "Untrained network: vgg16" in box
    assert "/x/vgg16.pth" in box and "https://example/vgg16.pth" in box
    assert "python -m cnnbook download-weights" in box
    assert notice.models_in(box) == ["vgg16"]


def test_box_escapes_html_in_the_reason():
    box = notice.html_box("alexnet", "<script>bad</script>")
    assert "<script>" not in box and "&lt;script&gt;" in box


def test_models_in_finds_every_notice_and_nothing_else():
    page = notice.html_box("alexnet", "r") + "<p>alexnet</p>" + notice.html_box("resnet18", "r")
    assert notice.models_in(page) == ["alexnet", "resnet18"]
    assert notice.models_in("<div class='admonition warning'>other</div>") == []


def test_outside_a_notebook_it_is_a_python_warning(monkeypatch):
    monkeypatch.setattr(notice, "_in_kernel", lambda: False)
    with pytest.warns(notice.UntrainedNetworkWarning, match="UNTRAINED NETWORK.*'alexnet'.*no network"):
        notice.untrained("alexnet", "no network")


def test_in_a_notebook_it_is_a_box_on_the_page_and_not_stderr(monkeypatch):
    shown = []
    monkeypatch.setattr(notice, "_in_kernel", lambda: True)
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append((obj, raw)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning here would reach the page as stderr
        notice.untrained("alexnet", "no network", "/f.pth", "https://u")
    (bundle, raw), = shown
    assert raw is True
    assert notice.models_in(bundle["text/html"]) == ["alexnet"]
    assert "UNTRAINED NETWORK" in bundle["text/plain"]


def test_not_in_a_kernel_when_ipython_has_no_shell():
    assert notice._in_kernel() is False
