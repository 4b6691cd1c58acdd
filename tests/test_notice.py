import re
import warnings

import pytest

from cnnbook import notice


def test_box_is_a_warning_admonition_with_a_marker():
    box = notice.html_box([notice.Missing("vgg16", "no network", "/x/vgg16.pth", "https://example/vgg16.pth")])
    assert 'class="admonition warning cnnbook-untrained"' in box
    assert "Untrained network: vgg16" in box
    assert "/x/vgg16.pth" in box and "https://example/vgg16.pth" in box
    assert "python -m cnnbook download-weights" in box
    assert notice.models_in(box) == ["vgg16"]


def test_box_escapes_html_in_the_reason():
    box = notice.html_box([notice.Missing("alexnet", "<script>bad</script>")])
    assert "<script>" not in box and "&lt;script&gt;" in box


def test_another_edition_writes_the_box_again_in_its_own_words():
    from cnnbook import words

    missing = [notice.Missing("vgg16", "no file--at all", "/x/vgg-16.pth", "https://e/vgg16.pth"),
               notice.Missing("alexnet", "offline")]
    page = "<p>before</p>" + notice.html_box(missing) + "<p>between</p>" + notice.html_box(missing[1:]) + "<p>after</p>"
    assert words.blocks(page) == [("notice", {"missing": [vars(m) for m in missing]}),
                                  ("notice", {"missing": [vars(missing[1])]})]
    zh = {"title_one": "未訓練：{0}", "title_many": "皆未訓練：{0}", "body_one": "一個 {0}，執行 {1}。",
          "body_many": "多個 {0}，執行 {1}。", "where": "找過 {0}，來自 {1}。", "listing": "{0}與{1}",
          "item": "{0}：{1}。", "item_where": "{0}：{1}。{2}"}
    again = words.rewrite(page, {"notice": lambda args: notice.html_box_again(args, zh)})
    assert again.startswith("<p>before</p>") and "<p>between</p>" in again and again.endswith("<p>after</p>")
    assert "Untrained" not in again and "皆未訓練：vgg16, alexnet" in again and "未訓練：alexnet" in again
    assert "找過 <code" in again and "/x/vgg-16.pth" in again and "no file--at all" in again
    assert "no file--at all。找過 <code" in again and "offline。</li>" in again  # each line in Chinese punctuation
    assert notice.models_in(again) == notice.models_in(page) == ["vgg16", "alexnet", "alexnet"]
    assert words.rewrite(page, {}) == page  # a widget nobody writes again is left as it was


def test_models_in_finds_every_notice_and_nothing_else():
    page = notice.html_box([notice.Missing("alexnet", "r")]) + "<p>alexnet</p>" + notice.html_box(
        [notice.Missing("vgg16", "r"), notice.Missing("resnet18", "r")])
    assert notice.models_in(page) == ["alexnet", "vgg16", "resnet18"]
    assert notice.models_in("<div class='admonition warning'>other</div>") == []


def test_outside_a_notebook_it_is_a_python_warning(monkeypatch):
    monkeypatch.setattr(notice, "_in_kernel", lambda: False)
    with pytest.warns(notice.UntrainedNetworkWarning, match="UNTRAINED NETWORK.*'alexnet'.*no network"):
        notice.untrained("alexnet", "no network")


class FakeShell:
    """Just enough of a kernel's IPython shell: an execution count, and displays that can be updated."""

    def __init__(self, monkeypatch):
        import IPython
        import IPython.display

        self.execution_count = 1
        self.outputs: dict[int, dict] = {}  # display id -> the bundle it shows now
        monkeypatch.setattr(notice, "_in_kernel", lambda: True)
        monkeypatch.setattr(IPython, "get_ipython", lambda: self)
        monkeypatch.setattr(IPython.display, "display", self.display)
        monkeypatch.setattr(notice, "_current", {"count": None, "missing": [], "handle": None})

    def display(self, bundle, raw=False, display_id=None):
        assert raw is True and display_id is True
        shell, key = self, len(self.outputs)
        self.outputs[key] = bundle

        class Handle:
            def update(self, bundle, raw=False):
                assert raw is True
                shell.outputs[key] = bundle

        return Handle()


def test_in_a_notebook_it_is_a_box_on_the_page_and_not_stderr(monkeypatch):
    shell = FakeShell(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning here would reach the page as stderr
        notice.untrained("alexnet", "no network", "/f.pth", "https://u")
    (bundle,) = shell.outputs.values()
    assert notice.models_in(bundle["text/html"]) == ["alexnet"]
    assert "UNTRAINED NETWORK" in bundle["text/plain"]


def test_networks_loaded_in_one_cell_share_one_box_and_the_next_cell_gets_its_own(monkeypatch):
    shell = FakeShell(monkeypatch)
    for name in ("alexnet", "vgg16", "resnet18", "vgg16"):  # vgg16 twice: listed once
        notice.untrained(name, "offline", f"/cache/{name}.pth", f"https://u/{name}.pth")
    (bundle,) = shell.outputs.values()
    box = bundle["text/html"]
    assert notice.models_in(box) == ["alexnet", "resnet18", "vgg16"]
    assert box.count("warning cnnbook-untrained") == 1 and "Untrained networks: alexnet, resnet18, vgg16" in box
    assert all(f"/cache/{name}.pth" in box for name in ("alexnet", "vgg16", "resnet18"))
    assert "'alexnet', 'resnet18' and 'vgg16'" in bundle["text/plain"]
    shell.execution_count = 2
    notice.untrained("alexnet", "offline")
    assert [notice.models_in(b["text/html"]) for b in shell.outputs.values()] == [
        ["alexnet", "resnet18", "vgg16"], ["alexnet"]]


def test_an_empty_box_is_refused():
    with pytest.raises(ValueError, match="at least one Missing network"):
        notice.html_box([])


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
    box = notice.html_box([notice.Missing("resnet18", "offline", file="/cache/r.pth", url="https://x/r.pth")])
    colour = lambda style, key: re.search(rf"(?<![-\w]){key}: (#[0-9a-f]{{6}})", style)[1]  # noqa: E731
    for element, style in (("div", notice.BOX_STYLE), ("p", notice.TITLE_STYLE)):
        assert f'<{element} class="admonition' in box and f'style="{style}"' in box
        assert contrast(colour(style, "color"), colour(style, "background")) >= 7
    assert box.count(f'<code style="{notice.CODE_STYLE}">') == box.count("<code") == 5
    assert contrast(colour(notice.CODE_STYLE, "color"), colour(notice.BOX_STYLE, "background")) >= 7
