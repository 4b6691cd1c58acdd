"""The book itself: a clean strict build, what the pages show, and the build's own safeguards."""

import html as html_module
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import jupytext
import pytest
import torch
import torchvision
import yaml
from docutils.utils.smartquotes import smartyPants

from cnnbook import models, notice, weights
from cnnbook.build import i18n, notebooks, sitecheck
from conftest import JUPYTER_BOOK, REPO, build, log  # the whole book is built once, in conftest

def _title(page: Path) -> str:
    """A page's ``# `` heading as Sphinx prints it (smart quotes: AlphaGo's -> AlphaGo\u2019s)."""
    for cell in jupytext.read(page).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return html_module.escape(smartyPants(line[2:].strip(), "qDe"), quote=False)
    raise AssertionError(f"{page.relative_to(REPO)} has no '# title' line")


def _networks_loaded(page: Path) -> list[str]:
    """The pretrained networks a page's code cells load: ``models.load("name")``, or
    ``models.load(name)`` inside ``for name in models.BOOK_MODELS``. Any other call to
    ``models.load`` fails here, so that a new way of loading cannot slip past the tests below."""
    found: list[str] = []
    for cell in jupytext.read(page).cells:
        if cell.cell_type != "code":
            continue
        loops = set(re.findall(r"for (\w+) in models\.BOOK_MODELS\b", cell.source))
        for argument in re.findall(r"\bmodels\.load\(([^)]*)\)", cell.source):
            literal = re.fullmatch(r"""\s*["'](\w+)["']\s*""", argument)
            if literal:
                names = [literal.group(1)]
            elif argument.strip() in loops:
                names = list(models.BOOK_MODELS)
            else:
                raise AssertionError(f"{page.relative_to(REPO)}: cannot tell which network models.load({argument}) "
                                     'loads; write models.load("name") or loop over models.BOOK_MODELS')
            found += [name for name in names if name not in found]
    return found


#: Every notebook page of _toc.yml in reading order, with the title its HTML shows.
PAGES = {f"book/{page.stem}": _title(page) for page in notebooks.chapters(REPO)}
#: The pages that load pretrained networks, and which ones (read from each page's code).
USES_WEIGHTS = {name: loaded for name, page in zip(PAGES, notebooks.chapters(REPO))
                if (loaded := _networks_loaded(page))}

pytestmark = pytest.mark.build


def test_strict_build_of_the_whole_book_passes(book):
    result, html = book
    assert result.returncode == 0, log(result)[-5000:]
    assert "build succeeded" in log(result)


@pytest.mark.parametrize("page", PAGES)
def test_every_chapter_is_built_with_its_title(book, page):
    _, html = book
    text = (html / f"{page}.html").read_text()
    assert PAGES[page] in text


@pytest.mark.parametrize("edition", ["", f"{i18n.LANGUAGE}/"])
@pytest.mark.parametrize("page", PAGES)
def test_colab_and_binder_buttons_open_the_chapters_notebook(book, page, edition):
    """Every chapter has both launch buttons, and each points at a notebook in this repository: the
    English page at book/NAME.ipynb, the Chinese page at the Chinese notebook, book/zh_TW/NAME.ipynb."""
    _, html = book
    text = (html / f"{edition}{page}.html").read_text()
    owner_repo = notebooks.repository_url(REPO).removeprefix("https://github.com/")
    colab = re.findall(r'href="https://colab\.research\.google\.com/github/([^"]+)"', text)
    binder = re.findall(r'href="https://mybinder\.org/v2/gh/([^"]+)"', text)
    assert len(colab) == 1 and len(binder) == 1, (colab, binder)
    colab_repo, colab_path = re.fullmatch(r"([^/]+/[^/]+)/blob/main/(.+)", colab[0]).groups()
    binder_repo, binder_path = re.fullmatch(r"([^/]+/[^/]+)/main\?urlpath=lab/tree/(.+)", binder[0]).groups()
    assert colab_repo == binder_repo == owner_repo
    notebook = notebooks.notebook_path(REPO / f"{page}.md", edition.rstrip("/") or None)
    assert colab_path == binder_path == notebook.relative_to(REPO).as_posix()
    assert notebook.is_file()


@pytest.mark.parametrize("page", PAGES)
def test_every_chapter_says_what_running_it_costs_under_its_title(book, page):
    """The line under the title is the report's figures, and it sits right after the title."""
    from cnnbook import costs

    _, html = book
    text = (html / f"{page}.html").read_text()
    report = costs.load()
    seconds = report["chapter_s"][Path(page).name]["median"]
    line = re.search(r"Running this page took (\d+) s and at most ([\d.]+) GB of memory", text)
    assert line and line.group(1) == f"{seconds:.0f}", page
    assert text.index(PAGES[page]) < line.start()
    where = text[line.start():line.start() + 1000]
    if page.endswith(costs.APPENDIX):
        assert "the tables below show the whole report" in where
    else:
        assert f'href="{costs.APPENDIX}.html"' in where


def test_the_install_cell_is_neither_shown_nor_run(book):
    result, html = book
    for page in PAGES:
        assert "install cnnbook first" not in (html / f"{page}.html").read_text(), page
    executed = json.loads((html.parent / "jupyter_execute" / "book" / "preface.ipynb").read_text())
    first = executed["cells"][0]
    assert "".join(first["source"]).startswith(notebooks.INSTALL_FIRST_LINE)
    assert first["execution_count"] is None and first["outputs"] == []


def test_the_built_site_checks_out(book):
    """Links, anchors, images with alt text, no error output, widgets with a fallback, page weight."""
    _, html = book
    report = sitecheck.check_site(html)
    assert report.problems == [], "\n".join(report.problems)
    assert {f"{page}.html" for page in PAGES} <= {p.page for p in report.pages}
    assert {f"{i18n.LANGUAGE}/{page}.html" for page in PAGES} <= {p.page for p in report.pages}
    assert max(p.weight for p in report.pages) <= sitecheck.PAGE_BUDGET


# --- the Traditional Chinese edition, built by the same command from the same executed cells -------

#: Every page of the book, notebooks and plain pages, as the toc lists them.
ALL_PAGES = [*PAGES, "book/glossary", "book/references"]


def _visible_text(page_html: str) -> str:
    """What a reader sees of a page's article, without scripts, styles or code."""
    article = page_html.split('<article class="bd-article">', 1)[-1].split("</article>", 1)[0]
    article = re.sub(r"<(script|style|pre)\b.*?</\1>", " ", article, flags=re.S)
    return html_module.unescape(re.sub(r"<[^>]+>", " ", article))


@pytest.mark.parametrize("name", ALL_PAGES)
def test_every_page_has_a_chinese_edition_linked_both_ways(book, name):
    _, html = book
    english = (html / f"{name}.html").read_text()
    chinese = (html / i18n.LANGUAGE / f"{name}.html").read_text()
    assert '<html lang="zh-TW"' in chinese
    up = "../" * name.count("/")
    assert f'href="{up}{i18n.LANGUAGE}/{name}.html"' in english
    assert f'href="../{up}{name}.html"' in chinese


@pytest.mark.parametrize("name", ALL_PAGES)
def test_chinese_pages_are_chinese_and_use_taiwans_terms(book, name):
    """Translated: no English paragraph is left; Taiwan's forms: no term of the glossary in another
    region's form, no simplified character (code and program output are English by design)."""
    _, html = book
    text = _visible_text((html / i18n.LANGUAGE / f"{name}.html").read_text())
    english_text = _visible_text((html / f"{name}.html").read_text())
    cjk = len(re.findall(r"[\u4e00-\u9fff]", text))
    if name != "book/references":  # the bibliography's entries are the papers' own titles
        assert cjk > 0.3 * len(re.findall(r"[A-Za-z]+", english_text)), f"{name}: hardly any Chinese"
    assert [(term.english, form) for term, form in i18n.mainland_forms(text, i18n.glossary())] == [], \
        f"{name} uses another region's form of a term (Taiwan's courses use the glossary's)"
    assert i18n.simplified(text) == [], f"{name} has simplified characters"
    if name in PAGES:
        assert PAGES[name] not in text.split("\n", 3)[0:3]


def test_the_packages_own_words_on_chinese_pages_are_chinese(book):
    """The untrained-network notice, the calculator and MyST-NB's show/hide buttons are written by
    code, not by the chapters' text; on a Chinese page they are Chinese too."""
    from cnnbook import notice

    _, html = book
    zh = html / i18n.LANGUAGE
    notices = 0
    for page in PAGES:
        text = (zh / f"{page}.html").read_text()
        assert not re.search(r">(Show|Hide) code cell \w+<", text), page
        if notice.MARKER in text:
            notices += 1
            assert "Untrained network" not in text and "未訓練的網路" in text, page
            assert "it is not in the cache" not in text, page  # the reason, too
            assert notice.models_in(text) == notice.models_in((html / f"{page}.html").read_text()), page
    assert notices == sum(notice.MARKER in (html / f"{page}.html").read_text() for page in PAGES)
    calculator = (zh / "book/03-output-size.html").read_text()
    assert "輸入大小 H" in calculator and "input size H" not in calculator
    assert '"impossible": "無法計算：{0}"' in calculator and "function cnnbookOutputSize" in calculator
    assert any(re.search(r">顯示(程式碼|輸出)<", (zh / f"{page}.html").read_text()) for page in PAGES)


def test_every_figure_on_a_chinese_page_has_its_description_as_a_caption(book):
    """The figures are the English edition's (the cells run once), so their labels are English; on a
    Chinese page each one has its translated description under it, visible."""
    _, html = book
    captioned = 0
    for page in PAGES:
        text = (html / i18n.LANGUAGE / f"{page}.html").read_text()
        figures = re.findall(r'<img alt="([^"]*)" src="[^"]*_images/[^"]+" />\s*(<p class="cnnbook-caption"[^>]*>([^<]*)</p>)?', text)
        described = [html_module.unescape(alt) for alt, _, _ in figures if re.search(r"[\u4e00-\u9fff]", alt)]
        captions = [html_module.unescape(said) for _, caption, said in figures if caption]
        # one caption under each cell's figures (a cell that draws four shares one description)
        assert captions == [alt for i, alt in enumerate(described) if described[i + 1:i + 2] != [alt]], page
        captioned += len(captions)
    assert captioned >= 30


def test_the_chinese_edition_reuses_the_english_executions(book):
    result, html = book
    assert log(result).count("notebook(s) executed in parallel") == 1
    assert "building the zh_TW edition" in log(result)


def test_search_in_the_chinese_edition_finds_chinese_words(book):
    """Sphinx splits Chinese text into words with jieba: a word such as 卷積 is a search term."""
    _, html = book
    index = (html / i18n.LANGUAGE / "searchindex.js").read_text()
    terms = json.loads(index[index.index("(") + 1:index.rindex(")")])["terms"]
    assert {"卷積", "池化", "特徵圖", "網路", "影像"} <= set(terms)


def test_the_references_page_lists_every_paper_the_chapters_cite(book):
    _, html = book
    keys = set(re.findall(r"^@\w+\{([^,]+),", (REPO / "book" / "references.bib").read_text(), re.M))
    cited = set()
    for chapter in (REPO / "book").glob("*.md"):
        for group in re.findall(r"\{cite[a-z:]*\}`([^`]+)`", chapter.read_text()):
            cited |= {key.strip() for key in group.split(",")}
    assert cited == keys, f"cited but not in the .bib: {cited - keys}; in the .bib, never cited: {keys - cited}"
    page = (html / "book" / "references.html").read_text()
    assert page.count('role="listitem"') == len(keys)  # doc-biblioentry, mended (cnnbook.build.sphinxext)
    for title in ("Deep residual learning", "Mastering the game of"):
        assert title in page


ERROR_MARKERS = sitecheck.ERROR_MARKERS  # one list: the site checker's


@pytest.mark.parametrize("page", PAGES)
def test_no_page_shows_a_traceback_or_error_output(book, page):
    _, html = book
    text = (html / f"{page}.html").read_text()
    for bad in ERROR_MARKERS:
        assert bad not in text, f"{page} shows {bad!r}"
    # a repeated `const` declaration is a SyntaxError in the browser (cnnbook.build.sphinxext dedupes)
    assert text.count("const THEBE_JS_URL") <= 1


@pytest.mark.parametrize("page", [p for p in PAGES if p not in USES_WEIGHTS])
def test_pages_that_need_no_weights_show_no_untrained_notice(book, page):
    _, html = book
    assert "cnnbook-untrained" not in (html / f"{page}.html").read_text()


@pytest.mark.parametrize("page", USES_WEIGHTS)
def test_offline_pages_that_use_weights_say_so_on_the_page_and_in_the_log(book, page):
    result, html = book
    text = (html / f"{page}.html").read_text()
    assert notice.models_in(text) == USES_WEIGHTS[page]
    assert text.count('class="admonition warning cnnbook-untrained"') == 1, "one notice lists every network"
    listing = log(result).split("show results from UNTRAINED networks")[1]
    assert f"{page}: {', '.join(USES_WEIGHTS[page])}" in listing
    assert "random" in text  # the glued prose admits it too


def test_chapter_1_shows_its_computed_figures_and_numbers(book):
    _, html = book
    text = (html / "book/01-why-not-mlp.html").read_text()
    images = re.findall(r'<img[^>]+src="([^"]+\.png)"', text)
    assert len(images) >= 4
    for src in images:
        assert (html / "book" / src).resolve().is_file(), src
    # glued numbers reached the prose: the parameter count of a 1000-unit layer on 224x224x3
    assert "150,529,000" in text
    pasted = re.findall(r'<span class="pasted-text">([^<]+)</span>', text)
    assert len(pasted) >= 10  # every glued value was found and pasted
    centred = re.search(r'MLP gets\s+<span class="pasted-text">(\d+\.\d)%</span>\s+of the test', text)
    assert centred and float(centred.group(1)) > 80


def test_preface_has_the_task_map_and_the_torchvision_table(book):
    _, html = book
    text = (html / "book/preface.html").read_text()
    assert len(re.findall(r"<img[^>]+\.png", text)) >= 1
    for name in ("resnet18", "fasterrcnn_resnet50_fpn", "deeplabv3_resnet50", "maskrcnn_resnet50_fpn"):
        assert name in text
    assert f"torchvision {torchvision.__version__}" in text


def test_chapter_2_shows_every_worked_example_with_downloads_and_animation(book):
    _, html = book
    text = (html / "book/02-filters-and-stride.html").read_text()
    for printed in ("[[ 3 -1 -3 -1]", "[[ 3 -3]", "(64, 3, 11, 11)", "stacked feature maps: (2, 4, 4)"):
        assert printed in text, printed
    links = re.findall(r'download="([\w-]+\.xlsx)" href="data:[^;]+;base64,([^"]+)"', text)
    assert [name for name, _ in links] == [
        "filter1-stride1.xlsx", "filter1-stride2.xlsx", "filter2-stride1.xlsx", "five-by-five.xlsx",
        "seven-by-seven.xlsx"]
    from openpyxl import load_workbook
    import base64
    import io

    for _, data in links:  # each one is a real workbook with live formulas
        sheet = load_workbook(io.BytesIO(base64.b64decode(data))).active
        assert any(str(c.value).startswith("=SUMPRODUCT(") for row in sheet.iter_rows() for c in row)
    assert text.count("animation.js") + text.count("Animation(") >= 2  # two jshtml animations
    assert "largest difference from PyTorch: 0.0" in text
    # the live widget's output is removed from the static page: no dead controls
    assert "application/vnd.jupyter.widget-view+json" not in text


def test_chapter_3_formula_beside_measurement_and_a_working_calculator(book):
    _, html = book
    text = (html / "book/03-output-size.html").read_text()
    assert "(224 + 2*2 - 11)/4 + 1 = 55.25 -&gt; floor 55" in text
    assert "function cnnbookOutputSize" in text and "cnnbook-calculator" in text
    assert re.search(r'matches\s+<span class="pasted-text">every one</span>', text)


def test_chapter_4_pools_the_lecture_maps(book):
    _, html = book
    text = (html / "book/04-pooling.html").read_text()
    assert text.count('download="filter1-maxpool.xlsx"') == 1
    assert "input 320x320: features (1, 256, 9, 9) -&gt; avgpool (1, 256, 6, 6)" in text
    assert "True True" in text  # our pooling agrees with PyTorch's


def test_chapter_5_shows_every_stage_of_alexnet(book):
    _, html = book
    text = (html / "book/05-alexnet.html").read_text()
    for shape in ["(1, 64, 55, 55)", "(1, 64, 27, 27)", "(1, 192, 27, 27)", "(1, 192, 13, 13)",
                  "(1, 384, 13, 13)", "(1, 256, 13, 13)", "(1, 256, 6, 6)", "flattened: (1, 9216)",
                  "batch: (1, 3, 224, 224)"]:
        assert shape in text, shape
    assert len(re.findall(r"<img[^>]+\.png", text)) >= 9  # BGR pair, filters, 7 feature grids


def test_homework_table_has_every_sample_and_network(book):
    _, html = book
    text = (html / "book/homework-three-networks.html").read_text()
    table = text.split("your index</th>")[1].split("</table>")[0]
    for sample in ["cat", "coffee", "astronaut", "rocket", "grace_hopper"]:
        assert f"<th>{sample}</th>" in table
    assert "32 layers, residual" in (html / "book/07-resnet.html").read_text()


# --- A tiny book, to test what the build does with failing cells and missing weights -----------


def tiny_book(root: Path, code: str) -> Path:
    """A one-chapter book that uses the real ``_config.yml`` (without the bibliography)."""
    root.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    config.pop("bibtex_bibfiles", None)
    (root / "_config.yml").write_text(yaml.safe_dump(config))
    (root / "_toc.yml").write_text("format: jb-book\nroot: chapter\n")
    header = (REPO / "book" / "preface.md").read_text().split("---\n")[1]
    (root / "chapter.md").write_text(
        f"---\n{header}---\n\n# A chapter\n\n```{{code-cell}} ipython3\n{textwrap.dedent(code).strip()}\n```\n"
    )
    return root


def test_a_cell_that_raises_fails_the_build(tmp_path, offline_env):
    source = tiny_book(tmp_path / "src", "raise RuntimeError('this cell is broken')")
    result = build(source, tmp_path / "out", offline_env)
    assert result.returncode != 0
    assert "this cell is broken" in log(result)


def test_the_error_output_check_recognises_a_traceback(tmp_path, offline_env):
    """The markers above must be what a page with an error output really contains."""
    code = ":tags: [raises-exception]\n\nraise RuntimeError('shown on purpose')"
    source = tiny_book(tmp_path / "src", code)
    result = build(source, tmp_path / "out", offline_env)
    assert result.returncode == 0, log(result)[-3000:]
    page = (tmp_path / "out" / "_build" / "html" / "chapter.html").read_text()
    assert "shown on purpose" in page
    assert any(marker in page for marker in ERROR_MARKERS)


def test_stderr_in_a_cell_fails_the_strict_build(tmp_path, offline_env):
    source = tiny_book(tmp_path / "src", "import sys; print('oops', file=sys.stderr)")
    result = build(source, tmp_path / "out", offline_env)
    assert result.returncode != 0
    assert "stderr was found" in log(result)


LOAD_RESNET = """
from cnnbook import models
model = models.load("resnet18")
print("pretrained:", model.is_pretrained)
"""


def test_untrained_pages_are_marked_listed_and_rerun_once_weights_arrive(tmp_path, offline_env):
    env = {**offline_env, "TORCH_HOME": str(tmp_path / "torch_home")}
    source = tiny_book(tmp_path / "src", LOAD_RESNET)
    out = tmp_path / "out"
    page = out / "_build" / "html" / "chapter.html"

    first = build(source, out, env)
    assert first.returncode == 0, log(first)[-3000:]
    assert 'data-cnnbook-untrained="resnet18"' in page.read_text()
    assert "pretrained: False" in page.read_text()
    assert re.search(r"1 page\(s\) show results from UNTRAINED networks.*\n\s+chapter: resnet18", log(first))

    # The weights arrive (here: planted); an incremental build must not keep the cached result.
    checkpoint = weights.checkpoint_path(weights.default_weights("resnet18"))
    checkpoint = Path(env["TORCH_HOME"]) / checkpoint.relative_to(checkpoint.parents[2])
    checkpoint.parent.mkdir(parents=True)
    torch.save(torchvision.models.resnet18().state_dict(), checkpoint)
    weights.trust(checkpoint)  # a stand-in: its hash is not the published file's
    second = build(source, out, env, clean=False)
    assert second.returncode == 0, log(second)[-3000:]
    assert "re-executing chapter" in log(second)
    assert "cnnbook-untrained" not in page.read_text()
    assert "pretrained: True" in page.read_text()
    assert "UNTRAINED" not in log(second)


def test_publishing_mode_refuses_untrained_results_even_from_the_cache(tmp_path, offline_env):
    source = tiny_book(tmp_path / "src", LOAD_RESNET)
    out = tmp_path / "out"
    assert build(source, out, offline_env).returncode == 0
    strict = build(source, out, {**offline_env, "CNNBOOK_REQUIRE_WEIGHTS": "1"}, clean=False)
    assert strict.returncode != 0
    assert "WeightsUnavailableError" in log(strict)
    assert "CNNBOOK_REQUIRE_WEIGHTS=1 but the pretrained weights for 'resnet18' are missing" in log(strict)


# --- The pages that use pretrained networks, with weights in the cache -------------------------


def plant_checkpoints(torch_home: Path, names=models.BOOK_MODELS) -> None:
    """Write randomly initialised checkpoints where torchvision would cache the real ones.

    They stand in for downloaded weights: same files, same loading path, same sizes and memory,
    only the numbers differ (the real ones cannot be downloaded on the test machine).
    """
    for name in names:
        url_name = Path(weights.default_weights(name).url).name
        path = torch_home / "hub" / "checkpoints" / url_name
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(torchvision.models.get_model(name).state_dict(), path)
        weights.trust(path)  # a stand-in: its hash is not the published file's


def test_with_weights_cached_no_page_shows_the_notice(tmp_path):
    source = tmp_path / "src"
    (source / "book").mkdir(parents=True)
    for page in USES_WEIGHTS:
        shutil.copy(REPO / f"{page}.md", source / f"{page}.md")
    shutil.copy(REPO / "book" / "references.bib", source / "book" / "references.bib")
    shutil.copy(REPO / "_config.yml", source / "_config.yml")
    first, *rest = USES_WEIGHTS
    (source / "_toc.yml").write_text(
        yaml.safe_dump({"format": "jb-book", "root": first, "chapters": [{"file": p} for p in rest]})
    )
    home = tmp_path / "torch_home"
    plant_checkpoints(home)
    env = {"TORCH_HOME": str(home), "CNNBOOK_OFFLINE": "1", "CNNBOOK_REQUIRE_WEIGHTS": "1"}
    result = build(source, tmp_path / "out", env)
    assert result.returncode == 0, log(result)[-5000:]
    assert "UNTRAINED" not in log(result)
    for page in USES_WEIGHTS:
        text = (tmp_path / "out" / "_build" / "html" / f"{page}.html").read_text()
        assert "cnnbook-untrained" not in text
        if page in ("book/05-alexnet", "book/06-vgg", "book/07-resnet"):
            assert "pretrained: True" in text
    homework = (tmp_path / "out" / "_build" / "html" / "book/homework-three-networks.html").read_text()
    assert "All three networks ran with their pretrained weights." in homework


def test_chapters_9_and_10_glue_their_measurements(book):
    _, html = book
    fooling = (html / "book/09-fooling.html").read_text()
    assert "random +-eps" in fooling and "FGSM" in fooling
    gradcam = (html / "book/10-gradcam.html").read_text()
    pasted = re.findall(r'points inside the box for\s+<span class="pasted-text">(\d+)%</span>', gradcam)
    assert pasted and int(pasted[0]) >= 85


def prose(page_html: str) -> str:
    """A page's text with every tag removed except the values glued into it, kept as
    ``[[value]]``, and whitespace collapsed: the prose as a reader sees it, with its numbers marked."""
    text = re.sub(r'<span class="pasted-text">([^<]*)</span>', r"[[\1]]", page_html)
    text = html_module.unescape(re.sub(r"<[^>]+>", "", text))
    return re.sub(r"\s+", " ", text)


def percent(value: str) -> float:
    return float(value.rstrip("%")) / 100


def test_chapter_8_prose_agrees_with_the_values_it_glues(book):
    """What chapter 8 says around its glued numbers ("only", "drops", "less ink survives", "very
    sure") holds for the numbers this build computed."""
    _, html = book
    text = prose((html / "book/08-what-does-a-cnn-learn.html").read_text())
    accuracy = re.search(r"It reaches \[\[([\d.]+%)\]\] on the test digits", text)
    assert accuracy and percent(accuracy[1]) > 0.93
    dead = re.search(r"\[\[(\d+)\]\] of the \[\[(\d+)\]\] filters are dead", text)
    assert dead and 0 < int(dead[1]) < int(dead[2]) / 2
    sure = re.search(r"The network gives every one of these images \[\[(at least|more than) ([\d.]+%)\]\]", text)
    assert sure and percent(sure[2]) > 0.9  # "very sure of an image that looks like no digit"
    paper = re.search(r"only \[\[([\d.]+%)\]\] of the pixels are blank paper \(below \[\[[\d.]+\]\]\), "
                      r"against \[\[([\d.]+%)\]\] in the training digits", text)
    assert paper and percent(paper[1]) < percent(paper[2])
    moved = re.search(r"\[\[([\d.]+%)\]\] of the pixels ended more than", text)
    assert moved and percent(moved[1]) > 0.95  # "every pixel can change the score"
    ink = re.search(r"drops from \[\[([\d.]+)\]\] to \[\[([\d.]+)\]\].*?rises from \[\[([\d.]+%)\]\] to "
                    r"\[\[([\d.]+%)\]\]", text)
    assert ink and float(ink[2]) < float(ink[1]) and percent(ink[4]) > percent(ink[3])
    heavy = re.search(r"less ink survives: the mean pixel value falls to \[\[([\d.]+)\]\] \(from \[\[([\d.]+)\]\]\)",
                      text)
    assert heavy and float(heavy[1]) < float(heavy[2])


def test_chapter_7_shows_the_degradation_its_prose_explains(book):
    """Chapter 7's small experiment, as the build ran it: the deep plain network trains worse than
    the shallow one, and the shortcuts fix it (the prose is glued both ways; this pins the outcome)."""
    _, html = book
    text = prose((html / "book/07-resnet.html").read_text())
    run = re.search(r"ends at a training loss of \[\[([\d.]+)\]\], \[\[(higher|lower)\]\] than the 8-layer plain "
                    r"network.s \[\[([\d.]+)\]\]; with shortcuts, the 32-layer network reaches \[\[([\d.]+)\]\]", text)
    assert run, "chapter 7's sentence about the experiment changed; update this test"
    plain_deep, verdict, plain_shallow, residual_deep = float(run[1]), run[2], float(run[3]), float(run[4])
    assert verdict == "higher" and plain_deep > plain_shallow
    assert residual_deep < plain_deep / 3


def test_chapter_1_shows_the_cnn_surviving_shifts_that_break_the_mlp(book):
    """Chapter 1's experiment, as the build ran it: its prose (why an MLP is the wrong tool) depends
    on this outcome."""
    _, html = book
    text = prose((html / "book/01-why-not-mlp.html").read_text())
    run = re.search(r"the MLP gets \[\[([\d.]+%)\]\] of the test digits right and the CNN \[\[([\d.]+%)\]\]\. "
                    r"Moved by \[\[(\d+)\]\] pixels, the MLP gets \[\[([\d.]+%)\]\] right and the CNN "
                    r"\[\[([\d.]+%)\]\], while the CNN has \[\[([\d,]+)\]\] parameters against the MLP.s "
                    r"\[\[([\d,]+)\]\]", text)
    assert run, "chapter 1's sentence about the experiment changed; update this test"
    mlp_centred, cnn_centred, mlp_far, cnn_far = (percent(run[i]) for i in (1, 2, 4, 5))
    assert min(mlp_centred, cnn_centred) > 0.9
    assert cnn_far > 0.8 and mlp_far < 0.5
    assert int(run[6].replace(",", "")) < int(run[7].replace(",", "")) / 3



def test_mathjax_is_copied_once_and_again_when_a_part_is_missing(tmp_path, monkeypatch):
    """The build copies MathJax into _static once; a rebuild copies nothing, unless a part is gone."""
    from types import SimpleNamespace

    from cnnbook.build import sphinxext

    app = SimpleNamespace(builder=SimpleNamespace(format="html"), outdir=str(tmp_path))
    target = tmp_path / "_static" / "mathjax"
    sphinxext._copy_mathjax(app, None)
    assert all((target / part).exists() for part in sphinxext.MATHJAX_PARTS)
    assert (target / sphinxext.STAMP).is_file()

    copies = []
    monkeypatch.setattr(sphinxext.shutil, "copytree", lambda *a, **k: copies.append(a))
    monkeypatch.setattr(sphinxext.shutil, "copy2", lambda *a, **k: copies.append(a))
    sphinxext._copy_mathjax(app, None)
    assert copies == []  # everything there, stamp current: nothing copied

    shutil.rmtree(target / "output" / "chtml")
    monkeypatch.undo()
    sphinxext._copy_mathjax(app, None)
    assert (target / "output" / "chtml").is_dir()
    sphinxext._copy_mathjax(SimpleNamespace(builder=SimpleNamespace(format="latex"), outdir=str(tmp_path / "pdf")), None)
    assert not (tmp_path / "pdf").exists()  # the PDF needs no MathJax
