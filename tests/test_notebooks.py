"""Every chapter's .ipynb for Colab and Binder: generated from its .md, readable without MyST, with
an install cell that fits Colab, and a package that declares everything the chapters import.
(tests/test_reader_notebooks.py runs them.)"""

import ast
import json
import re
import shutil
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import jupytext
import pytest
from markdown_it import MarkdownIt
from packaging.requirements import Requirement

from cnnbook import costs
from cnnbook.build import i18n, myst, notebooks

ROOT = Path(__file__).resolve().parent.parent


def generated(page: Path) -> dict:
    return json.loads(page.with_suffix(".ipynb").read_text())


def test_every_chapter_has_its_notebook_in_sync():
    assert notebooks.out_of_sync(ROOT) == [], "run: python -m cnnbook notebooks"


def test_every_page_of_the_table_of_contents_has_a_notebook():
    pages = notebooks.chapters(ROOT)
    assert pages[0] == ROOT / "book" / "preface.md" and ROOT / "book" / "11-alphago.md" in pages
    assert all(page.with_suffix(".ipynb").is_file() for page in pages)


def test_no_notebook_shows_myst_only_syntax():
    found = {}
    for page in notebooks.chapters(ROOT):
        for cell in generated(page)["cells"]:
            if cell["cell_type"] == "markdown":
                found.setdefault(page.name, []).extend(myst.leftover_myst("".join(cell["source"])))
    assert {name: problems for name, problems in found.items() if problems} == {}
    # and the chapters' own markdown cells have what the scan looks for: it is not scanning for nothing
    in_sources = [problem for page in notebooks.chapters(ROOT) for cell in jupytext.read(page).cells
                  if cell.cell_type == "markdown" for problem in myst.leftover_myst(cell.source)]
    assert len(in_sources) > 150


def test_the_chinese_notebooks_run_the_english_code_and_read_in_chinese():
    """A Chinese page's Colab and Binder buttons open book/zh_TW/NAME.ipynb. Its code cells are the
    English notebook's, cell for cell (tests/test_reader_notebooks.py runs those in Colab's and
    Binder's environments), so what is left to check here is its text: Chinese, no MyST, and links
    to the Chinese pages."""
    web = notebooks.website_url(ROOT)
    for page in notebooks.chapters(ROOT):
        english = generated(page)
        chinese = json.loads(notebooks.notebook_path(page, "zh_TW").read_text())
        code = [[(c["source"], c["metadata"]) for c in nb["cells"] if c["cell_type"] == "code"]
                for nb in (english, chinese)]
        speak, _ = code[1].pop(1)  # and one more, after the install cell: the package speaks Chinese
        assert "".join(speak).startswith(notebooks.SPEAK_FIRST_LINE), page.name
        assert code[0] == code[1], page.name
        assert chinese["metadata"]["cnnbook"] == {"language": "zh_TW"}
        text = "".join("".join(c["source"]) for c in chinese["cells"] if c["cell_type"] == "markdown")
        assert myst.leftover_myst(text) == [], page.name
        prose = re.sub(r"`[^`]*`|<code>.*?</code>|<[^>]+>|\]\([^)]*\)|\$[^$]*\$", "",
                       re.sub(r'^- <a id="ref-.*$', "", text, flags=re.M))
        han, english = len(re.findall(r"[\u4e00-\u9fff]", prose)), len(i18n.prose_words(prose))
        assert han > 20 * english, (page.name, han, english)  # names and terms in brackets, not sentences
        links = re.findall(re.escape(web) + r"[^)\s\"]*", text)
        assert links and all(link.startswith(web + "zh_TW/") for link in links), page.name
        assert "本書上次測量時" in text  # the cost note, translated
        # Jupyter renders it as written: no ** left unrendered beside Chinese characters
        rendered = re.sub(r"<code>.*?</code>|<pre>.*?</pre>", "", MarkdownIt("commonmark").render(text), flags=re.S)
        assert "**" not in rendered, page.name
    assert "<summary><b>解答</b> （點一下展開）</summary>" in json.dumps(
        json.loads(notebooks.notebook_path(ROOT / "book" / "04-pooling.md", "zh_TW").read_text()), ensure_ascii=False)


def test_a_chinese_notebook_makes_the_package_speak_chinese(capsys, monkeypatch):
    """What the package writes itself in a reader's run (a glued sentence, the calculator, the
    notice) is Chinese in a Chinese notebook, from its second cell; English elsewhere."""
    from cnnbook import glue, notice, weights, widgets, words

    # a reader's notebook, not the book's build (an in-process Sphinx run in an earlier test sets it)
    monkeypatch.delenv(glue.BUILD_ENV, raising=False)

    nb = json.loads(notebooks.notebook_path(ROOT / "book" / "03-output-size.md", "zh_TW").read_text())
    try:
        exec("".join(nb["cells"][1]["source"]), {})
        glue.glue("all_match", "every one")
        glue.glue("conv1_nopad", "(224 + 2*0 - 11)/4 + 1 = 54.25 -> floor 54")
        assert capsys.readouterr().out == ("all_match = 每一層都\n"
                                           "conv1_nopad = (224 + 2*0 - 11)/4 + 1 = 54.25 -> 向下取整為 54\n")
        assert "輸入大小 H" in widgets.calculator_html() and "input size H" not in widgets.calculator_html()
        box = notice.html_box([notice.Missing("alexnet", weights.REASONS["offline"].format("CNNBOOK_OFFLINE"))])
        assert "未訓練的網路：alexnet" in box and "CNNBOOK_OFFLINE=1" in box and "forbids" not in box
    finally:
        words.speak(None)
    assert "input size H" in widgets.calculator_html()
    glue.glue("all_match", "every one")
    assert capsys.readouterr().out == "all_match = every one\n"
    with pytest.raises(TypeError, match="pairs must be a mapping"):
        words.speak(["every one"])


def test_translating_myst_keeps_its_structure_and_lists_what_is_missing():
    text = ("## Exercises\n\n1. *(Pencil.)* Pool this\n   map:\n\n   $$x$$\n\n2. Why {glue:text}`n`?\n\n"
            "````{admonition} Solutions\n:class: dropdown\n\n1. Because.\n````\n\n```python\nprint('a b')\n```")
    zh = {"Exercises": "習題", "*(Pencil.)* Pool this map:": "*（紙筆。）*池化這張圖：", "Why {glue:text}`n`?": "為何 {glue:text}`n`？",
          "Solutions": "解答", "Because.": "因為。"}
    assert myst.translate_myst(text, zh) == (
        "## 習題\n\n1. *（紙筆。）*池化這張圖：\n\n   $$x$$\n\n2. 為何 {glue:text}`n`？\n\n"
        "````{admonition} 解答\n:class: dropdown\n\n1. 因為。\n````\n\n```python\nprint('a b')\n```")
    with pytest.raises(myst.Untranslated, match=r"book/x: 2 message\(s\).*'Solutions'; 'Because.'") as caught:
        myst.translate_myst(text, {k: v for k, v in zh.items() if k not in ("Solutions", "Because.")}, "book/x")
    assert caught.value.messages == ["Solutions", "Because."]


@pytest.mark.parametrize("syntax, kind", [
    ("{glue:text}`x`", "role"), ("{cite}`a2020`", "role"), ("```{note}\nhi\n```", "directive"),
    (":::{dropdown} x\nhi\n:::", "directive"), ("(my-label)=", "target"), ("{{ version }}", "substitution"),
    (":class: dropdown", "directive option"),
])
def test_the_scan_finds_each_kind_of_myst_syntax(syntax, kind):
    assert [p.split(":")[0] for p in myst.leftover_myst(f"Some text.\n\n{syntax}\n")] == [kind]


def test_the_scan_ignores_code():
    assert myst.leftover_myst("Write `{glue:text}` like this:\n\n```\n{cite}`key`\n(label)=\n```\n") == []


def context():
    return myst.Context(ROOT, "book/10-gradcam")


def test_glued_numbers_are_named_never_given_a_value():
    text = myst.to_jupyter_markdown("It is {glue:text}`acc:.1%` and {glue:text}`n`.", context())
    assert text == "It is **`acc`** and **`n`**."


def test_citations_become_author_year_links_to_the_chapters_reference_list():
    ctx = context()
    text = myst.to_jupyter_markdown("Grad-CAM {cite}`selvaraju2017gradcam` and {cite}`adebayo2018sanity`.", ctx)
    assert text == ("Grad-CAM ([Selvaraju et al., 2017](#ref-selvaraju2017gradcam)) and "
                    "([Adebayo et al., 2018](#ref-adebayo2018sanity)).")
    references = myst.to_jupyter_markdown("```{bibliography}\n:filter: docname in docnames\n```", ctx)
    assert references.count("<a id=\"ref-") == 2 and "Sanity checks for saliency maps" in references
    assert "https://arxiv.org/abs/1810.03292" in references
    two = myst.to_jupyter_markdown("{cite}`simonyan2015very`", myst.Context(ROOT, "book/06-vgg"))
    assert two == "([Simonyan and Zisserman, 2015](#ref-simonyan2015very))"
    with pytest.raises(ValueError, match="not in the bibliography"):
        myst.to_jupyter_markdown("{cite}`nobody1999`", ctx)


def test_solutions_stay_collapsed_and_notes_become_quotes():
    source = ("````{admonition} Solutions\n:class: dropdown\n\n1. Use `x`:\n\n   ```python\n   y = 1\n   ```\n"
              "````\n\n```{warning}\nCareful: {glue:text}`n` weights.\n```")
    text = myst.to_jupyter_markdown(source, context())
    assert text.startswith("<details>\n<summary><b>Solutions</b>")
    assert "1. Use `x`:\n\n   ```python\n   y = 1\n   ```\n\n</details>" in text
    assert text.endswith("> **Warning**\n>\n> Careful: **`n`** weights.")
    assert myst.leftover_myst(text) == []


def test_targets_and_cross_references_link_to_the_website():
    ctx = myst.Context(ROOT, "book/03-output-size")
    web = notebooks.website_url(ROOT)
    assert myst.to_jupyter_markdown("(sizes)=", ctx) == '<a id="sizes"></a>'
    assert (myst.to_jupyter_markdown("see [chapter 4](04-pooling.md#max)", ctx)
            == f"see [chapter 4]({web}book/04-pooling.html#max)")
    assert myst.to_jupyter_markdown("{doc}`pooling <04-pooling>`", ctx) == f"[pooling]({web}book/04-pooling.html)"
    with pytest.raises(ValueError, match="no page defines"):
        myst.to_jupyter_markdown("{ref}`nowhere`", ctx)


def test_unknown_myst_is_refused_not_passed_through():
    with pytest.raises(ValueError, match=r"directive \{figure\}"):
        myst.to_jupyter_markdown("```{figure} a.png\n```", context())
    with pytest.raises(ValueError, match=r"role \{sub-ref\}"):
        myst.to_jupyter_markdown("{sub-ref}`today`", context())
    with pytest.raises(ValueError, match="never closed"):
        myst.to_jupyter_markdown("```{note}\nopen", context())


def test_each_notebook_opens_with_its_title_what_it_costs_and_how_to_read_it():
    report = costs.load()
    for page in notebooks.chapters(ROOT):
        cells = generated(page)["cells"]
        assert cells[0]["cell_type"] == "code"
        title = "".join(cells[1]["source"])
        assert title.startswith("# ")
        seconds = report["chapter_s"][page.stem]["median"]
        assert f"took {seconds:.0f} s" in title and "needs no GPU" in title
        assert f"{notebooks.website_url(ROOT)}book/{page.stem}.html" in title


def test_cells_the_page_hides_are_collapsed_in_jupyter_and_colab():
    cells = generated(ROOT / "book" / "03-output-size.md")["cells"]
    for cell in cells:
        tags = cell["metadata"].get("tags", [])
        hidden = cell["metadata"].get("jupyter", {}).get("source_hidden", False)
        assert hidden == bool({"remove-cell", "remove-input", "hide-input"} & set(tags))
        assert (cell["metadata"].get("cellView") == "form") == hidden


def test_the_install_cell_comes_first_installs_the_branch_and_keeps_torch():
    url, branch = notebooks.repository_url(ROOT), notebooks.repository_branch(ROOT)
    for page in notebooks.chapters(ROOT):
        nb = generated(page)
        first = nb["cells"][0]
        source = "".join(first["source"])
        assert first["metadata"]["tags"] == list(notebooks.INSTALL_TAGS)
        assert f'source = "cnnbook @ git+{url}@{branch}"' in source
        assert '("torch", "torchvision")' in source and "capture_output=True" in source
        assert all(not cell.get("outputs") for cell in nb["cells"])


@pytest.fixture
def copy(tmp_path):
    """A copy of the book's sources to change."""
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "book", tmp_path / "book")
    shutil.copytree(ROOT / "locales", tmp_path / "locales")
    return tmp_path


def test_an_edited_chapter_is_caught_and_regenerating_changes_only_that_cell(copy):
    chapter = copy / "book" / "04-pooling.md"
    chapter.write_text(chapter.read_text().replace("# 4. Pooling", "# 4. Pooling, edited"))
    untranslated = ("book/zh_TW/04-pooling.ipynb cannot be written: book/04-pooling: 1 message(s) have no "
                    "translation in the catalog (run: python -m cnnbook translations): '4. Pooling, edited'")
    assert notebooks.out_of_sync(copy) == ["book/04-pooling.ipynb differs from book/04-pooling.md", untranslated]
    ids_before = [c["id"] for c in json.loads(chapter.with_suffix(".ipynb").read_text())["cells"]]
    chinese_before = (copy / "book" / "zh_TW" / "04-pooling.ipynb").read_text()
    notebooks.regenerate(copy, quiet=True)
    # the Chinese notebook waits for its translation: the old one stays, and the problem is still said
    assert notebooks.out_of_sync(copy) == [untranslated]
    assert (copy / "book" / "zh_TW" / "04-pooling.ipynb").read_text() == chinese_before
    ids_after = [c["id"] for c in json.loads(chapter.with_suffix(".ipynb").read_text())["cells"]]
    assert len(ids_after) == len(ids_before)
    assert [a == b for a, b in zip(ids_before, ids_after)].count(False) == 1  # only the title cell


def test_a_new_repository_address_reaches_every_install_cell(copy):
    config = copy / "_config.yml"
    config.write_text(config.read_text().replace("https://github.com/cnnbook/cnnbook", "https://github.com/someone/cnn-book")
                      .replace("branch: main", "branch: teaching-2027"))
    problems = notebooks.out_of_sync(copy)
    assert any("does not install https://github.com/someone/cnn-book@teaching-2027" in p for p in problems)
    notebooks.regenerate(copy, quiet=True)
    assert notebooks.out_of_sync(copy) == []
    assert "git+https://github.com/someone/cnn-book@teaching-2027" in (copy / "book" / "preface.ipynb").read_text()


def test_outputs_in_a_committed_notebook_are_refused(copy):
    ipynb = copy / "book" / "03-output-size.ipynb"
    nb = json.loads(ipynb.read_text())
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi"}]
    ipynb.write_text(json.dumps(nb))
    assert any("holds outputs" in p for p in notebooks.out_of_sync(copy))


@pytest.mark.parametrize("field, bad, message", [
    ("https://github.com/cnnbook/cnnbook", "not a url", "repository.url must be https://github.com/OWNER/NAME"),
    ("branch: main", "branch: 'main; rm -rf /'", "repository.branch must be a git branch name"),
    ("baseurl: https://cnnbook.github.io/cnnbook/", "baseurl: cnnbook.github.io", "html.baseurl"),
])
def test_the_books_addresses_are_checked(copy, field, bad, message):
    config = copy / "_config.yml"
    config.write_text(config.read_text().replace(field, bad))
    with pytest.raises(ValueError, match=re.escape(message)):
        notebooks.out_of_sync(copy)


def test_the_website_address_is_github_pages_of_the_repository():
    owner, name = notebooks.repository_url(ROOT).rsplit("/", 2)[-2:]
    assert notebooks.website_url(ROOT) == f"https://{owner.lower()}.github.io/{name}/"


def test_a_page_without_front_matter_is_refused():
    with pytest.raises(ValueError, match="jupytext front matter"):
        notebooks.with_install_cell("# a title\n", "https://github.com/a/b")


# --- what the chapters import, the package and Binder must bring ------------------------------------


def chapter_imports() -> dict[str, set[str]]:
    """Top-level modules each chapter's code cells import (the install cell's aside)."""
    found = {}
    for page in notebooks.chapters(ROOT):
        nb = generated(page)
        modules = set()
        for cell in nb["cells"][1:]:
            if cell["cell_type"] != "code":
                continue
            source = "\n".join(line for line in "".join(cell["source"]).splitlines() if not line.startswith(("%", "!")))
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Import):
                    modules |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    modules.add(node.module.split(".")[0])
        found[page.stem] = modules
    return found


def declared(requirements: list[str]) -> set[str]:
    return {Requirement(r).name.lower().replace("_", "-") for r in requirements}


def unresolved(declared_names: set[str]) -> dict[str, set[str]]:
    """Per chapter, imports that are neither the standard library, cnnbook, nor a distribution in
    ``declared_names`` (import names mapped to distributions with this environment's metadata)."""
    distributions = packages_distributions()
    missing = {}
    for chapter, modules in chapter_imports().items():
        left = set()
        for module in modules:
            if module in sys.stdlib_module_names or module == "cnnbook":
                continue
            dists = {d.lower().replace("_", "-") for d in distributions.get(module, [])}
            if not dists & declared_names:
                left.add(module)
        if left:
            missing[chapter] = left
    return missing


def test_the_package_declares_everything_the_chapters_import():
    dependencies = declared(__import__("tomllib").loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    assert unresolved(dependencies) == {}
    assert {"pandas", "torch", "matplotlib"} <= set().union(*chapter_imports().values())


def test_binder_brings_everything_the_chapters_import():
    lines = [line.split("#", 1)[0].strip() for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()]
    assert unresolved(declared([line for line in lines if line and not line.startswith("-")])) == {}


def test_the_import_check_catches_an_undeclared_import():
    assert "pandas" in set().union(*unresolved({"torch", "torchvision", "numpy"}).values())



# --- the package: cnnbook/ holds what the chapters call, cnnbook/build/ what builds the book -------


PACKAGE = ROOT / "cnnbook"
#: The pages that are not numbered chapters, as a module's docstring names them.
NAMED_PAGES = {"preface": "the preface", "homework-three-networks": "the homework",
               "how-this-book-is-built": "the appendix"}


def cnnbook_imports_by_chapter() -> dict[str, set[str]]:
    """For each module of cnnbook a chapter's code cells import, the chapters (file stems) that do."""
    found: dict[str, set[str]] = {}
    for page in notebooks.chapters(ROOT):
        for cell in jupytext.read(page).cells:
            if cell.cell_type != "code":
                continue
            source = "\n".join(line for line in cell.source.splitlines() if not line.startswith(("%", "!")))
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] == "cnnbook":
                    parts = node.module.split(".")
                    modules = [parts[1]] if len(parts) > 1 else [alias.name for alias in node.names]
                elif isinstance(node, ast.Import):
                    modules = [a.name.split(".")[1] for a in node.names if a.name.startswith("cnnbook.")]
                else:
                    continue
                for module in modules:
                    found.setdefault(module, set()).add(page.stem)
    return found


def reader_modules() -> list[str]:
    """The modules and subpackages of cnnbook/ (the command line and the build's tools aside)."""
    modules = [p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__")]
    packages = [p.parent.name for p in PACKAGE.glob("*/__init__.py") if p.parent.name != "build"]
    return sorted(modules + packages)


def source_files(module: str) -> list[Path]:
    folder = PACKAGE / module
    return sorted(folder.rglob("*.py")) if folder.is_dir() else [folder.with_suffix(".py")]


def docstring_of(module: str) -> str:
    source = source_files(module)[0] if not (PACKAGE / module).is_dir() else PACKAGE / module / "__init__.py"
    return ast.get_docstring(ast.parse(source.read_text())) or ""


def package_imports(module: str) -> set[str]:
    """The other modules of cnnbook that ``module`` (every file of it, if a subpackage) imports."""
    found = set()
    for file in source_files(module):
        package = list(file.relative_to(ROOT).parent.parts)  # ["cnnbook"] or ["cnnbook", "alphago"]
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package[:len(package) - node.level + 1]
                names = [node.module.split(".")] if node.module else [[a.name] for a in node.names]
                found |= {(base + name)[1] for name in names if len(base + name) > 1}
    return found - {module}


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def used_by(stems: set[str]) -> str:
    """The sentence a module's docstring carries: ``Used by the preface and chapters 1, 2 and 5 to 7.``"""
    numbers = sorted(int(match.group(1)) for stem in stems if (match := re.match(r"(\d+)-", stem)))
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    spans = [f"{run[0]} to {run[-1]}" if len(run) >= 3 else str(n) for run in runs
             for n in ([run[0]] if len(run) >= 3 else run)]
    parts = [NAMED_PAGES[stem] for stem in NAMED_PAGES if stem in stems]
    if spans:
        parts.append(("chapter " if spans == [str(numbers[0])] else "chapters ") + _and(spans))
    return f"Used by {_and(parts)}."


def pages_named(docstring: str) -> set[str] | None:
    """The pages a docstring's "Used by ..." (or "... use it") sentence names, as chapter numbers
    ("5", "11") and words ("preface", "homework", "appendix"); None where it has no such sentence."""
    for sentence in re.split(r"(?<=[.!?])\s+", " ".join(docstring.split())):
        if re.search(r"\b(used by|uses? it)\b", sentence, re.I) and re.search(
                r"\b(chapters?|preface|homework|appendix)\b", sentence, re.I):
            named = {word.lower() for word in re.findall(r"\b(preface|homework|appendix)\b", sentence, re.I)}
            for first, last in re.findall(r"\b(\d+)\s*(?:to|-|\u2013)\s*(\d+)\b", sentence):
                named |= {str(n) for n in range(int(first), int(last) + 1)}
            return named | set(re.findall(r"\b\d+\b", sentence))
    return None


def test_the_used_by_sentence():
    assert used_by({"11-alphago"}) == "Used by chapter 11."
    assert used_by({"02-a", "04-b"}) == "Used by chapters 2 and 4."
    assert used_by({"preface", "01-a", "02-b", "04-c", "05-d", "06-e", "08-f", "10-g", "11-h"}) == \
        "Used by the preface and chapters 1, 2, 4 to 6, 8, 10 and 11."
    assert used_by({"homework-three-networks", "how-this-book-is-built"}) == "Used by the homework and the appendix."
    assert pages_named("Grad-CAM.\n\nUsed by the preface and chapters 1, 2, 4 to 6\nand 11. More.") == \
        {"preface", "1", "2", "4", "5", "6", "11"}
    assert pages_named("Layer costs. Chapters 5, 6, 7 and 11 use it.") == {"5", "6", "7", "11"}
    assert pages_named("Figures. Nothing else.") is None


def test_no_chapter_imports_the_build_tools():
    assert "build" not in cnnbook_imports_by_chapter()


def test_every_module_of_cnnbook_is_called_by_a_chapter():
    """A module no chapter imports is there because a module a chapter imports uses it (checks,
    notice); anything else belongs in cnnbook/build/ or nowhere."""
    reached = set(cnnbook_imports_by_chapter())
    uses = {name: package_imports(name) for name in reader_modules()}
    while True:
        more = set().union(*(uses[name] for name in reached if name in uses)) - reached
        if not more:
            break
        reached |= more
    assert set(reader_modules()) - reached == set()


@pytest.mark.parametrize("module", [m for m in reader_modules() if m in cnnbook_imports_by_chapter()])
def test_each_module_names_the_chapters_that_import_it(module):
    stems = cnnbook_imports_by_chapter()[module]
    expected = {match.group(1).lstrip("0") if (match := re.match(r"(\d+)-", stem)) else NAMED_PAGES[stem].split()[-1]
                for stem in stems}
    assert pages_named(docstring_of(module)) == expected, \
        f"cnnbook/{module}: its docstring should say {used_by(stems)!r}"


# --- what a chapter shows of its code ---------------------------------------------------------------

CHAPTERS = notebooks.chapters()


def chapter_cells(chapter: Path) -> list[tuple[list[str], str]]:
    """Every code cell of a chapter: its tags and its source."""
    notebook = jupytext.read(chapter)
    return [(cell.metadata.get("tags", []), cell.source) for cell in notebook.cells if cell.cell_type == "code"]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_a_chapter_shows_where_its_names_come_from(chapter):
    """A web reader can open the cell that imports cnnbook's modules (collapsed, not removed), so
    `conv` visibly means `cnnbook.conv`."""
    importing = [tags for tags, source in chapter_cells(chapter)
                 if re.search(r"^(from cnnbook\b|import cnnbook\b)", source, re.M) and "skip-execution" not in tags]
    assert importing, f"{chapter.name} imports nothing from cnnbook"
    assert all("remove-cell" not in tags and "remove-input" not in tags for tags in importing), \
        f"{chapter.name}: a cell that imports cnnbook is removed from the page; tag it hide-input"


def printed_functions(chapter: Path) -> list[tuple[str, object]]:
    """What a chapter prints with inspect.getsource, resolved with the chapter's own imports."""
    sources = [source for tags, source in chapter_cells(chapter) if "skip-execution" not in tags]
    imports = "\n".join(line for source in sources for line in source.splitlines()
                        if re.match(r"(import |from \S+ import )", line))
    names: dict = {}
    exec(imports, names)  # the chapter's own top-level imports, nothing else
    shown = re.findall(r"inspect\.getsource\(([\w.]+)\)", "\n".join(sources))
    return [(expression, eval(expression, names)) for expression in shown]


def test_the_scan_finds_the_functions_the_chapters_print():
    printed = {expression for chapter in CHAPTERS for expression, _ in printed_functions(chapter)}
    assert {"conv.conv2d", "gradcam.pointing_game"} <= printed


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_a_function_a_chapter_prints_fits_on_one_screen(chapter):
    """What a chapter prints is the idea: at most 30 lines, checks and batching live elsewhere."""
    import inspect

    for expression, function in printed_functions(chapter):
        lines = len(inspect.getsource(function).splitlines())
        assert lines <= 30, f"{chapter.name} prints {expression}, {lines} lines long (at most 30)"


def test_no_paper_is_cited_by_two_chapters_that_list_their_own_references():
    """sphinxcontrib-bibtex warns "duplicate citation" (and the strict build fails) when two pages
    whose reference lists are filtered to their own citations cite the same key: the second chapter
    names the paper in its text and points to the chapter that cites it."""
    citing: dict[str, list[str]] = {}
    for chapter in CHAPTERS:
        text = chapter.read_text()
        cited = {key.strip() for keys in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text) for key in keys.split(",")}
        if cited and ":filter: docname in docnames" not in text:
            pytest.fail(f"{chapter.name} cites {sorted(cited)} but lists no references of its own")
        for key in cited:
            citing.setdefault(key, []).append(chapter.name)
    twice = {key: pages for key, pages in citing.items() if len(pages) > 1}
    assert not twice, f"cited by two chapters (name it in the text of one of them instead): {twice}"
    assert len(citing) >= 15  # the scan finds the book's citations
