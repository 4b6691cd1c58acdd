"""The book on paper: the PDF that `make pdf` builds (jupyter-book's pdflatex builder, with XeLaTeX)
from the chapters the HTML build executed, and the link to it on every page.

Needs Debian's TeX Live and poppler-utils (the packages in .ci/pdf-packages.txt); elsewhere the tests
that need them skip and say why. CI installs them and sets CNNBOOK_REQUIRE_TEX=1, which turns that
skip into a failure.
"""

import html as html_module
import os
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
import yaml

from conftest import REPO, build, log
from test_book import PAGES
from test_reader_paths import workflow

pytestmark = pytest.mark.build

TOOLS = ("xelatex", "latexmk", "xindy", "pdfinfo", "pdftotext", "pdfimages", "pdffonts")
CONFIG = yaml.safe_load((REPO / "_config.yml").read_text())
PDF_NAME = Path(CONFIG["latex"]["latex_documents"]["targetname"]).with_suffix(".pdf").name


@pytest.fixture(scope="module")
def pdf(book, offline_env):
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        reason = (f"{', '.join(missing)} not found: install the Debian packages in .ci/pdf-packages.txt "
                  "(apt-get install -y --no-install-recommends $(cat .ci/pdf-packages.txt))")
        if os.environ.get("CNNBOOK_REQUIRE_TEX") == "1":
            pytest.fail(f"CNNBOOK_REQUIRE_TEX=1 but {reason}")
        pytest.skip(reason)
    result, html = book
    assert result.returncode == 0, "the book did not build"
    # the same output folder as the HTML book, so the chapters come from its jupyter-cache
    latex = build(REPO, html.parents[1], offline_env, clean=False, builder="pdflatex")
    return latex, html.parent / "latex"


def text_of(path: Path) -> str:
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    return unicodedata.normalize("NFKC", text)  # ligatures (fi, fl) back to letters


def plain(title: str) -> str:
    return html_module.unescape(title).replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')


def test_the_pdf_builds_from_the_executed_chapters_with_every_character(pdf):
    result, latex = pdf
    assert result.returncode == 0, log(result)[-5000:]
    assert (latex / PDF_NAME).is_file()
    assert "Executing notebook" not in log(result), "the PDF build ran chapters the HTML build had run"
    tex_log = (latex / PDF_NAME).with_suffix(".log").read_text(errors="replace")
    assert "Missing character" not in tex_log, re.findall(r"Missing character: .*", tex_log)[:5]


def test_every_chapter_is_in_the_pdf_in_order_and_nothing_shows_as_python_objects(pdf):
    _, latex = pdf
    text = plain(text_of(latex / PDF_NAME))
    text = re.sub(r"\s+", " ", text)
    where = [text.find(plain(title)) for title in PAGES.values()]
    assert -1 not in where, [t for t, w in zip(PAGES.values(), where) if w == -1]
    assert where == sorted(where), "the chapters are out of order"
    for junk in ("<IPython.core.display", "object at 0x", "\\(", "\\[", "$$"):
        assert junk not in text, f"the PDF shows {junk!r}"


def test_the_pdf_has_a_page_count_that_fits_the_book(pdf):
    _, latex = pdf
    info = subprocess.run(["pdfinfo", str(latex / PDF_NAME)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))
    # every chapter takes a few pages at least; hundreds per chapter would mean runaway output
    assert 4 * len(PAGES) <= pages <= 40 * len(PAGES), pages


def html_figures(html: Path) -> int:
    """Images in the chapters' HTML content: figures, plots and the animation's first frame."""
    count = 0
    for name in PAGES:
        page = (html / f"{name}.html").read_text()
        article = page[page.index('<article class="bd-article"'):page.index("</article>")]
        count += len(re.findall(r"<img\b", article))
    return count


def test_the_pdf_has_every_figure_of_the_html_chapters(pdf, book):
    _, latex = pdf
    _, html = book
    listing = subprocess.run(["pdfimages", "-list", str(latex / PDF_NAME)], capture_output=True, text=True,
                             check=True).stdout.splitlines()[2:]
    images = [row for row in listing if row.split()[2] == "image"]  # not their transparency masks
    assert len(images) == html_figures(html)


def test_long_code_lines_wrap_instead_of_running_off_the_page(pdf):
    """Sphinx's verbatim environment wraps long lines; an overfull box of more than a few points
    means something (code, a table, an output) runs into or past the margin."""
    _, latex = pdf
    tex_log = (latex / PDF_NAME).with_suffix(".log").read_text(errors="replace")
    overfull = [float(points) for points in re.findall(r"Overfull \\hbox \((\d+\.\d+)pt too wide\)", tex_log)]
    assert [p for p in overfull if p > 20] == []


def test_every_page_links_to_the_pdf_the_workflow_publishes_beside_it(book):
    _, html = book
    url = CONFIG["html"]["baseurl"] + PDF_NAME
    for name in [*PAGES, "book/references"]:
        assert f'href="{url}"' in (html / f"{name}.html").read_text(), name
    runs = "\n".join(step.get("run", "") for step in workflow()["jobs"]["build"]["steps"])
    assert "jupyter-book build . --builder pdflatex" in runs
    assert f"cp _build/latex/{PDF_NAME} _build/html/{PDF_NAME}" in runs
    assert f"cp _build/latex/zh_TW/{PDF_NAME} _build/html/zh_TW/{PDF_NAME}" in runs
    assert "xargs -a .ci/pdf-packages.txt sudo apt-get install" in runs
    assert "$(cat .ci/pdf-packages.txt)" in (REPO / ".ci" / "run").read_text()


# --- the Chinese PDF, built by the same command -----------------------------------------------------


def test_the_chinese_pdf_is_chinese_with_every_chapter_in_order(pdf):
    """The same command builds the Chinese edition's PDF into _build/latex/zh_TW, from the same
    executed chapters, with every character in a Traditional Chinese font."""
    from cnnbook.build import i18n

    result, latex = pdf
    chinese = latex / i18n.LANGUAGE / PDF_NAME
    assert chinese.is_file(), log(result)[-3000:]
    tex_log = chinese.with_suffix(".log").read_text(errors="replace")
    assert "Missing character" not in tex_log, re.findall(r"Missing character: .*", tex_log)[:5]
    text = re.sub(r"\s+", "", text_of(chinese))
    titles = [i18n.finished(page).get(plain(title), "").replace("\\.", ".") for page, title in PAGES.items()]
    assert "" not in titles
    where = [text.find(re.sub(r"\s+", "", unicodedata.normalize("NFKC", title))) for title in titles]
    assert -1 not in where and where == sorted(where), [t for t, w in zip(titles, where) if w == -1]
    assert len(re.findall(r"[\u4e00-\u9fff]", text)) > 30000
    assert i18n.simplified(text) == []
    fonts = subprocess.run(["pdffonts", str(chinese)], capture_output=True, text=True, check=True).stdout
    assert "NotoSerifCJK" in fonts or "Noto Serif CJK" in fonts, fonts


def test_chinese_pages_link_to_the_chinese_pdf_in_chinese(book):
    from cnnbook.build import i18n, translate

    _, html = book
    url = CONFIG["html"]["baseurl"] + f"{i18n.LANGUAGE}/{PDF_NAME}"
    assert CONFIG["html"]["extra_footer"] == translate.pdf_footer(CONFIG["html"]["baseurl"])
    for name in [*PAGES, "book/references"]:
        page = (html / i18n.LANGUAGE / f"{name}.html").read_text()
        assert f'整本書的 PDF 版：<a href="{url}">' in page, name
