"""The Traditional Chinese edition's catalogs: extraction, merging, checks and glued phrases."""

import textwrap

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from cnnbook.build import i18n
from cnnbook.build.translate import Phrases


# --- phrases: what cells glue as words ------------------------------------------------------------


def test_phrases_come_from_every_branch_of_what_a_cell_glues():
    source = textwrap.dedent('''
        glue("plain", "does not hold" if broken else "happens to hold", display=False)
        glue("number", 0.25, display=False)
        glue("shape", "x".join(map(str, shape)), display=False)
        verdict = "higher" if a > b else "lower"
        glue("verdict", verdict, display=False)
        def said(answer):
            return f'"{answer.name}" ({answer.probability:.1%})'
        result = f"ResNet18 calls the photo {said(best)}."
        glue("result", result, display=False)
        glue("layer", table["conv1"], display=False)
        unrelated = "this string is never glued"
    ''')
    assert i18n.cell_phrases(source) == [
        "does not hold", "happens to hold", "higher", "lower", "ResNet18 calls the photo {0}."]
    # said()'s template has no words ('"{0}" ({1})'): what it fills in is pasted as it is


def test_names_in_code_are_not_phrases():
    assert i18n.cell_phrases('glue("a", "conv1" if x else "features.3")') == []
    assert i18n.cell_phrases('glue("a", "libraries_rss_mb")') == []
    assert i18n.cell_phrases('glue("a", "none")') == ["none"]


def test_a_template_keeps_literal_braces_apart_from_its_slots():
    assert i18n.cell_phrases('glue("a", f"{n} items in {{braces}}")') == ["{0} items in {{braces}}"]


def test_glued_text_is_translated_exactly_or_by_its_template():
    phrases = Phrases({
        "higher": "較高",
        "after {0} it {1} {2}": "經過 {0} 之後，它{1} {2}",
        "says": "說",
        "ResNet18 calls the photo {0}; {1}.": "ResNet18 把這張照片判為 {0}；{1}。",
        '"{0}" ({1})': "「{0}」（{1}）",
        "{0} items in {{braces}}": "{{大括號}}裡有 {0} 項",
    })
    assert phrases.translate("higher") == "較高"
    assert phrases.translate("lower") is None
    nested = 'ResNet18 calls the photo "tabby" (41.0%); after FGSM it says "tiger cat" (55.2%).'
    assert phrases.translate(nested) == "ResNet18 把這張照片判為 「tabby」（41.0%）；經過 FGSM 之後，它說 「tiger cat」（55.2%）。"
    assert phrases.translate("3 items in {braces}") == "{大括號}裡有 3 項"


# --- what a translation must keep ------------------------------------------------------------------


def test_a_translation_must_keep_roles_code_math_and_link_targets():
    english = "The network calls {glue:text}`share:.0%` of them a `square`, $x_i$ in [the paper](https://x.org/p)."
    good = "網路把其中 {glue:text}`share:.0%` 判為 `square`，即[論文](https://x.org/p)中的 $x_i$。"
    assert i18n.problems(english, good, terms=[]) == []
    lost_role = "網路把其中一些判為 `square`，即[論文](https://x.org/p)中的 $x_i$。"
    assert "missing ['{glue:text}`share:.0%`']" in i18n.problems(english, lost_role, terms=[])[0]
    changed_math = good.replace("$x_i$", "$x_{i}$")
    assert i18n.problems(english, changed_math, terms=[])
    # the package's own HTML (the untrained-network notice) keeps its tags
    html = "weights are <em>random</em>, so {0}"
    assert i18n.problems(html, "權重是<em>隨機</em>的，所以 {0}", terms=[]) == []
    assert "missing ['</em>', '<em>']" in i18n.problems(html, "權重是隨機的，所以 {0}", terms=[])[0]


def test_a_translation_must_keep_every_slot_of_a_template():
    assert i18n.problems("{0} to {1}", "{0} 到 {1}", terms=[]) == []
    assert i18n.problems("{0} to {1}", "{0} 到", terms=[]) == ["template slots must be kept: ['{0}', '{1}'] in "
                                                            "the English, ['{0}'] in the translation"]


def test_mainland_forms_of_the_glossary_terms_are_refused():
    terms = i18n.glossary()
    assert any(t.english == "data" and "數據" in t.avoid for t in terms)
    found = i18n.problems("The data of the network.", "網絡的數據。", terms)
    assert any("'數據'" in p and "資料" in p for p in found)
    assert any("'網絡'" in p and "網路" in p for p in found)
    assert i18n.problems("The data of the network.", "網路的資料。", terms) == []


def test_simplified_characters_are_refused():
    pytest.importorskip("opencc")
    assert i18n.simplified("这是卷积神经网络的数据") != []
    assert i18n.simplified("這是卷積神經網路的資料，著重於影像。") == []


# --- merging: a changed English sentence cannot keep a current translation ------------------------


def _template(*messages):
    catalog = Catalog(locale=None)
    for message in messages:
        catalog.add(message)
    return catalog


def test_an_edited_english_sentence_makes_its_translation_fuzzy(tmp_path):
    (tmp_path / i18n.LOCALES).mkdir()
    (tmp_path / i18n.LOCALES / "glossary.tsv").write_text("english\tzh_TW\tavoid\n", encoding="utf-8")
    first = {"book/page": _template("Pooling keeps the largest value of every window.", "A new heading")}
    assert len(i18n.update(tmp_path, first)) == 2  # both untranslated
    path = i18n.catalog_dir(tmp_path) / "book" / "page.po"
    catalog = read_po(path.open("rb"))
    catalog["Pooling keeps the largest value of every window."].string = "池化保留每個視窗中最大的值。"
    catalog["A new heading"].string = "新標題"
    with path.open("wb") as handle:
        from babel.messages.pofile import write_po
        write_po(handle, catalog)
    assert i18n.pending(tmp_path) == []
    assert i18n.out_of_date(tmp_path, first) == []

    edited = {"book/page": _template("Max pooling keeps the largest value of every window.", "A new heading")}
    assert i18n.out_of_date(tmp_path, edited) == ["book/page.po: 1 new message(s), 1 gone"]
    left = i18n.update(tmp_path, edited)
    assert [(p.msgid, p.fuzzy) for p in left] == [("Max pooling keeps the largest value of every window.", True)]
    merged = read_po(path.open("rb"))
    assert merged["Max pooling keeps the largest value of every window."].string == "池化保留每個視窗中最大的值。"

    gone = {"book/other": _template("Something else")}
    i18n.update(tmp_path, gone)
    assert not path.exists()  # the page is gone, so is its catalog


# --- the book's own catalogs -----------------------------------------------------------------------


def test_every_message_of_the_chinese_edition_is_translated_and_current():
    """An English edit cannot land without its Chinese: a catalog older than the sources, an
    untranslated or fuzzy message, or a translation that loses markup or uses a mainland form fails."""
    current = i18n.templates()
    assert i18n.out_of_date(current=current) == [], "run: python -m cnnbook translations"
    assert [str(p) for p in i18n.pending()] == []
    assert i18n.lint() == []


# --- the Chinese edition, built beside the English one ---------------------------------------------

CHAPTER_CODE = '''
from cnnbook.glue import glue
share = 0.25
glue("share", share, display=False)
glue("verdict", "higher" if share > 0.2 else "lower", display=False)
glue("sentence", f"{share:.0%} of the pictures", display=False)
'''
PARAGRAPH = "The network calls {glue:text}`share:.0%` of them squares, a share {glue:text}`verdict` than chance; {glue:text}`sentence`."
CHINESE = {
    "A chapter": "一個章節",
    PARAGRAPH: "網路把其中 {glue:text}`share:.0%` 判為正方形，比例比隨機猜測{glue:text}`verdict`；{glue:text}`sentence`。",
    "higher": "較高",
    "lower": "較低",
    "{0} of the pictures": "圖片中的 {0}",
}


def _text(page: str) -> str:
    """A page's text as a reader reads it: tags removed, spaces squeezed."""
    import html
    import re

    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", page)))


def two_edition_book(root, translate_phrases=True):
    """A one-chapter book with the real configuration and the Chinese edition switched on."""
    import shutil

    import yaml
    from babel.messages.pofile import write_po

    from conftest import REPO

    root.mkdir(parents=True)
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    config.pop("bibtex_bibfiles", None)
    config["sphinx"]["config"]["cnnbook_editions"] = [i18n.LANGUAGE]
    (root / "_config.yml").write_text(yaml.safe_dump(config))
    (root / "_toc.yml").write_text("format: jb-book\nroot: chapter\n")
    header = (REPO / "book" / "preface.md").read_text().split("---\n")[1]
    (root / "chapter.md").write_text(f"---\n{header}---\n\n# A chapter\n\n```{{code-cell}} ipython3\n"
                                     f"{CHAPTER_CODE.strip()}\n```\n\n{PARAGRAPH}\n")
    (root / i18n.LOCALES).mkdir()
    shutil.copy(REPO / i18n.LOCALES / "glossary.tsv", root / i18n.LOCALES)
    i18n.update(root)  # the catalogs, from the sources, untranslated
    for theme in (i18n.THEME, i18n.BOOK_THEME):  # the themes' labels, as the book translates them
        shutil.copy(i18n.catalog_dir(REPO) / f"{theme}.po", i18n.catalog_dir(root))
    book_phrases = {m.id: m.string for m in read_po((i18n.catalog_dir(REPO) / f"{i18n.PHRASES}.po").open("rb"))}
    for path in i18n.catalog_dir(root).rglob("*.po"):
        if path.stem in (i18n.THEME, i18n.BOOK_THEME):
            continue
        catalog = read_po(path.open("rb"))
        for message in catalog:
            if message.id in CHINESE and (translate_phrases or path.stem != i18n.PHRASES):
                message.string = CHINESE[message.id]
            elif message.id and not message.string and book_phrases.get(message.id):
                message.string = book_phrases[message.id]  # the book's own phrases (the cost note, ...)
        with path.open("wb") as handle:
            write_po(handle, catalog)
    return root


@pytest.mark.build
def test_the_chinese_edition_is_built_beside_the_english_one_from_one_execution(tmp_path, offline_env):
    from conftest import build, log

    source = two_edition_book(tmp_path / "src")
    assert [p.msgid for p in i18n.pending(source)] == []
    result = build(source, tmp_path / "out", offline_env)
    assert result.returncode == 0, log(result)[-4000:]
    html = tmp_path / "out" / "_build" / "html"
    english = (html / "chapter.html").read_text()
    chinese = (html / i18n.LANGUAGE / "chapter.html").read_text()
    assert "a share higher than chance; 25% of the pictures." in _text(english)
    assert '<html lang="zh-TW"' in chinese and "一個章節" in chinese
    assert "網路把其中 25% 判為正方形，比例比隨機猜測較高；圖片中的 25%。" in _text(chinese)
    assert 'href="zh_TW/chapter.html"' in english and 'href="../chapter.html"' in chinese
    assert "回到頂端" in chinese and "回到顶部" not in chinese  # the theme's labels, in traditional characters
    assert "開啟於 Colab" in chinese and "Launch on" not in chinese  # the book theme's, which its own catalog lacks
    assert 'placeholder="搜尋本書……"' in chinese
    english_log, chinese_log = log(result).split("building the zh_TW edition", 1)
    assert "Executed notebook" in english_log  # one execution: the Chinese build reads the cache
    assert "Executed notebook" not in chinese_log and "Using cached notebook" in chinese_log


@pytest.mark.build
def test_a_glued_phrase_without_a_translation_fails_the_strict_build(tmp_path, offline_env):
    from conftest import build, log

    source = two_edition_book(tmp_path / "src", translate_phrases=False)
    result = build(source, tmp_path / "out", offline_env)
    assert result.returncode != 0
    assert "the glued text 'sentence' = '25% of the pictures' has no translation" in log(result)
