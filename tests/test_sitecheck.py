"""The site checker on small hand-made sites: each kind of problem is found, a clean site passes."""

import base64
from pathlib import Path

import pytest

from cnnbook.build import sitecheck
from cnnbook.__main__ import main

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def site(tmp_path: Path, pages: dict[str, str], images: dict[str, bytes] | None = None) -> Path:
    for name, body in {"index.html": '<a href="book/a.html">start</a>', **pages}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<html><body>{body}</body></html>")
    for name, data in (images or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    return tmp_path


def test_a_clean_site_passes(tmp_path):
    root = site(tmp_path, {
        "book/a.html": '<h1 id="top">A</h1><a href="b.html#part">b</a><a href="#top">up</a>'
                       '<a href="https://example.org/x#y">out</a><img src="../_images/x.png" alt="a red dot">',
        "book/b.html": '<h2 id="part">B</h2><a href="../index.html">home</a><a href="a.html">a</a>',
    }, {"_images/x.png": PNG})
    report = sitecheck.check_site(root)
    assert report.problems == []
    weights = {p.page: p for p in report.pages}
    assert weights["book/a.html"].image_bytes == len(PNG)
    assert "book/a.html" in report.table()


@pytest.mark.parametrize("body, problem", [
    ('<a href="missing.html">x</a>', "broken link 'missing.html'"),
    ('<a href="b.html#nowhere">x</a>', "broken anchor 'b.html#nowhere'"),
    ('<a href="#nowhere">x</a>', "broken anchor '#nowhere'"),
    ('<img src="../_images/none.png" alt="gone">', "missing image '../_images/none.png'"),
    ('<img src="../_images/x.png">', "image without alt text"),
    ('<img src="../_images/x.png" alt="../_images/x.png">', "image without alt text"),
    ('<div class="output traceback">boom</div>', "shows error output"),
    ('<script type="application/vnd.jupyter.widget-view+json">{}</script>', "no kernel-free fallback"),
])
def test_each_problem_is_reported(tmp_path, body, problem):
    root = site(tmp_path, {"book/a.html": body, "book/b.html": "<p>b</p>"}, {"_images/x.png": PNG})
    problems = sitecheck.check_site(root).problems
    assert any(problem in p for p in problems), problems
    assert all(p.startswith("book/a.html: ") for p in problems)


def test_a_widget_with_a_fallback_passes(tmp_path):
    root = site(tmp_path, {"book/a.html": '<script type="application/vnd.jupyter.widget-view+json">{}</script>'
                                          '<div data-cnnbook-fallback>static view</div>'})
    assert sitecheck.check_site(root).problems == []


def test_an_embedded_image_counts_towards_the_page_weight(tmp_path):
    data = base64.b64encode(PNG * 1000).decode()
    root = site(tmp_path, {"book/a.html": f'<img src="data:image/png;base64,{data}" alt="a big one">'})
    report = sitecheck.check_site(root, budget=len(PNG) * 500)
    assert any("over the" in p for p in report.problems)
    assert {p.page: p for p in report.pages}["book/a.html"].image_bytes == len(PNG) * 1000


def test_command_line_reports_and_fails_on_problems(tmp_path, capsys):
    root = site(tmp_path, {"book/a.html": '<a href="nope.html">x</a>'})
    assert main(["check-site", str(root)]) == 1
    out = capsys.readouterr().out
    assert "PROBLEM book/a.html: broken link" in out and "1 problems" in out
    assert main(["check-site", str(tmp_path / "nothing")]) == 1
    assert "build the book first" in capsys.readouterr().err
