import re
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


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours."""
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_box_brings_its_own_readable_colours_for_any_theme():
    """Dark mode must not leave the notice dark on dark: the box, its title and its code spans set
    both their text and background colours, with at least WCAG AAA contrast (7:1)."""
    box = notice.html_box("resnet18", "offline", file="/cache/r.pth", url="https://x/r.pth")
    colour = lambda style, key: re.search(rf"(?<![-\w]){key}: (#[0-9a-f]{{6}})", style)[1]  # noqa: E731
    for element, style in (("div", notice.BOX_STYLE), ("p", notice.TITLE_STYLE)):
        assert f'<{element} class="admonition' in box and f'style="{style}"' in box
        assert contrast(colour(style, "color"), colour(style, "background")) >= 7
    assert box.count(f'<code style="{notice.CODE_STYLE}">') == box.count("<code") == 5
    assert contrast(colour(notice.CODE_STYLE, "color"), colour(notice.BOX_STYLE, "background")) >= 7
