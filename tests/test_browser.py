"""The built book in a real browser: headless Chromium, driven by Playwright, over HTTP on 127.0.0.1,
with every request that would leave 127.0.0.1 refused (a reader without internet), in the light and
the dark colour scheme (the theme follows the reader's system setting).

Needs Debian's Chromium (`apt-get install -y chromium`); elsewhere the tests skip and say why.
CI installs it and sets CNNBOOK_REQUIRE_BROWSER=1, which turns that skip into a failure. The
accessibility checks also need axe-core, which `make test` installs from npm into .cache/axe-core.
"""

import functools
import http.server
import os
import re
import shutil
import threading
from urllib.parse import urlsplit

import jupytext
import pytest

from conftest import REPO
from test_book import PAGES

#: Every chapter in both editions: the address under the site, and the English page it translates.
EDITIONS = {**{name: name for name in PAGES}, **{f"zh_TW/{name}": name for name in PAGES}}

pytestmark = pytest.mark.build

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
AXE = REPO / ".cache" / "axe-core" / "node_modules" / "axe-core" / "axe.min.js"
SCHEMES = ("light", "dark")


def _missing(reason: str):
    if os.environ.get("CNNBOOK_REQUIRE_BROWSER") == "1":
        pytest.fail(f"CNNBOOK_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server(book):
    result, html = book
    assert result.returncode == 0, "the book did not build"
    handler = functools.partial(_QuietHandler, directory=str(html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        _missing("Chromium is not installed (Debian: apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -r requirements-test.txt)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


class Page:
    """An open page, the console errors it logged and the requests that tried to leave 127.0.0.1."""

    def __init__(self, page, errors: list[str], outside: list[str]) -> None:
        self.page, self.errors, self.outside = page, errors, outside


def open_page(browser, url: str, scheme: str = "light") -> Page:
    """Open ``url`` as a reader without internet whose system asks for ``scheme`` colours: every
    request that leaves 127.0.0.1 is refused (and recorded)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    errors: list[str] = []
    outside: list[str] = []

    def console(message) -> None:
        # A refused request logs its own error, located at the address it asked for: counted in
        # `outside`, not here.
        if message.type == "error" and urlsplit(message.location.get("url", "")).hostname in ("127.0.0.1", None) \
                and not any(address in message.text for address in outside):
            errors.append(f"{message.text[:300]} at {message.location.get('url', '')[:100]}")

    page.on("console", console)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))

    def route(request_route):
        if urlsplit(request_route.request.url).hostname == "127.0.0.1":
            request_route.continue_()
        else:
            outside.append(request_route.request.url)
            request_route.abort("internetdisconnected")

    page.route("**/*", route)
    page.goto(url, wait_until="load")
    return Page(page, errors, outside)


#: Every page of both editions in the light scheme; the English pages in the dark one too (the Chinese
#: pages have the same styles and scripts, and the dark scheme's own elements are checked on them
#: below).
LOAD_CASES = [(name, SCHEMES[0]) for name in EDITIONS] + [(name, SCHEMES[1]) for name in PAGES] + [
    ("zh_TW/book/04-pooling", SCHEMES[1])]


@pytest.mark.parametrize(("name", "scheme"), LOAD_CASES)
def test_every_chapter_loads_offline_without_errors_and_shows_its_figures(server, browser, name, scheme):
    opened = open_page(browser, f"{server}/{name}.html", scheme)
    page, errors = opened.page, opened.errors
    try:
        assert page.evaluate("document.documentElement.dataset.theme") == scheme
        assert opened.outside == [], f"{name} asks the internet for {opened.outside[:3]}: it must work offline"
        if name == EDITIONS[name]:
            assert PAGES[name].split(" ")[-1] in page.title().replace("\u2019", "'")
        else:  # the Chinese edition: a Chinese title, the page marked as Chinese for screen readers
            assert re.search(r"[\u4e00-\u9fff]", page.title()), page.title()
            assert page.evaluate("document.documentElement.lang") == "zh-TW"
        images = page.eval_on_selector_all(
            "article img",
            "imgs => imgs.map(i => ({src: i.src.slice(0, 80), natural: i.naturalWidth, complete: i.complete,"
            " shown: i.offsetParent !== null, width: i.getBoundingClientRect().width}))")
        for image in images:
            assert image["complete"] and image["natural"] > 0, f"{name}: image did not load: {image}"
            if image["shown"]:
                assert image["width"] > 0, f"{name}: image has no size on the page: {image}"
        assert errors == [], f"{name}: console errors {errors}"
    finally:
        page.close()


@pytest.mark.parametrize("edition", ["", "zh_TW/"])
def test_the_convolution_animation_moves_when_played(server, browser, edition):
    opened = open_page(browser, f"{server}/{edition}book/02-filters-and-stride.html")
    page, errors = opened.page, opened.errors
    try:
        player = page.locator("img[id^='_anim_img']").first
        before = player.get_attribute("src")
        assert before and before.startswith("data:image/png")
        # the JSHTML player's buttons: play forward is the one whose onclick calls play_animation()
        page.locator("button[onclick*='play_animation']").first.click()
        page.wait_for_function(
            "([id, src]) => document.getElementById(id).src !== src",
            arg=[player.get_attribute("id"), before], timeout=10_000)
        assert player.get_attribute("src") != before
        assert errors == []
        if edition:  # the player's words, and the animation's description, in Chinese
            assert page.locator("button[title='播放']").count() >= 1
            assert "動畫" in player.get_attribute("alt")
    finally:
        page.close()


@pytest.mark.parametrize(("edition", "said"), [
    ("", ["-> floor: output size 55", "Not possible: stride must be a whole number >= 1, got 0"]),
    ("zh_TW/", ["-> floor：輸出大小 55", "無法計算：stride 必須是 >= 1 的整數，卻收到 0"]),
])
def test_the_calculator_answers_as_the_reader_types(server, browser, edition, said):
    opened = open_page(browser, f"{server}/{edition}book/03-output-size.html")
    page, errors = opened.page, opened.errors
    try:
        result = page.locator(".cnnbook-calc-result").first
        assert result.text_content().endswith(said[0])  # the chapter's starting values: AlexNet's conv1
        page.locator(".cnnbook-calculator input[name='stride']").first.fill("0")
        page.wait_for_function("(s) => document.querySelector('.cnnbook-calc-result').textContent === s",
                               arg=said[1], timeout=5_000)
        assert errors == []
    finally:
        page.close()


# --- formulas without internet ------------------------------------------------------------------------

#: Inline ($...$) or display ($$...$$) math, or a {math} role or directive, in a markdown cell.
_FORMULA = re.compile(r"(?<![\\$])\$[^$\n]+\$|\{math\}|^\$\$", re.MULTILINE)


def _has_formulas(name: str) -> bool:
    cells = jupytext.read(REPO / f"{name}.md").cells
    return any(_FORMULA.search(cell.source) for cell in cells if cell.cell_type == "markdown")


def test_the_formula_finder_finds_formulas_and_skips_dollar_amounts():
    assert _FORMULA.search("the size $H_{out}$ of") and _FORMULA.search("$$\nx\n$$")
    assert not _FORMULA.search("it costs 5 dollars, not $5") and not _FORMULA.search(r"\$x\$")
    assert _has_formulas("book/03-output-size")


@pytest.mark.parametrize("name", EDITIONS)
def test_formulas_render_offline_and_no_raw_tex_shows(server, browser, name):
    """MathJax is served by the book itself (cnnbook.build.sphinxext), so formulas render with the
    internet cut off; the CDN's copy would leave raw TeX such as \\(A_k\\) on the page."""
    opened = open_page(browser, f"{server}/{name}.html")
    page = opened.page
    try:
        if page.evaluate("document.querySelectorAll('article .math').length"):  # Sphinx loads MathJax only then
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                   timeout=15_000)
            page.evaluate("() => MathJax.startup.promise")
        found = page.evaluate("""() => ({
            formulas: document.querySelectorAll('article .math').length,
            unrendered: [...document.querySelectorAll('article .math')]
                .filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60)),
            raw: document.querySelector('article').innerText.match(/\\\\\\(|\\\\\\)|\\\\\\[|\\\\\\]|\\$\\$/g) || []})""")
        assert found["unrendered"] == [], f"{name}: formulas left as TeX: {found['unrendered'][:5]}"
        assert found["raw"] == [], f"{name}: raw TeX delimiters on the page: {found['raw'][:5]}"
        assert (found["formulas"] > 0) == _has_formulas(EDITIONS[name]), f"{name}: {found['formulas']} formulas on the page"
        assert opened.outside == [] and opened.errors == []
    finally:
        page.close()


# --- accessibility, in both colour schemes ------------------------------------------------------------

#: axe-core's serious or critical findings that this theme (sphinx-book-theme on pydata-sphinx-theme)
#: makes and the book cannot fix from its own pages, each with the reason. Keyed by rule id; the
#: value lists the CSS selectors (as axe reports them) the exception covers, and why.
THEME_EXCEPTIONS: dict[str, tuple[tuple[str, ...], str]] = {}


def _axe(page) -> list[dict]:
    if not AXE.is_file():
        _missing(f"axe-core is not installed ({AXE.relative_to(REPO)}): run `make test`, which installs it with npm")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def _unexplained(violations: list[dict]) -> list[str]:
    left = []
    for violation in violations:
        selectors, _why = THEME_EXCEPTIONS.get(violation["id"], ((), ""))
        for node in violation["nodes"]:
            target = " ".join(map(str, node["target"]))
            if not any(selector in target for selector in selectors):
                left.append(f"{violation['impact']} {violation['id']} ({violation['help']}): {target}: "
                            + node["failureSummary"].replace("\n", " ")[:240])
    return left


#: axe on every English page in both schemes; the Chinese pages share their markup and styles, so
#: one scheme there checks what translation can change (language, names, text), without repeating
#: the colour checks.
AXE_CASES = [(name, scheme) for name in PAGES for scheme in SCHEMES] + [
    (name, SCHEMES[0]) for name in EDITIONS if name != EDITIONS[name]]


@pytest.mark.parametrize(("name", "scheme"), AXE_CASES)
def test_axe_finds_no_serious_accessibility_problem(server, browser, name, scheme):
    opened = open_page(browser, f"{server}/{name}.html", scheme)
    try:
        problems = _unexplained(_axe(opened.page))
        assert problems == [], f"{name} ({scheme}): " + "\n".join(problems[:10])
    finally:
        opened.page.close()


def test_axe_runs_and_finds_a_planted_problem(server, browser):
    """The check can fail: grey text on grey and an image without alt text are reported."""
    opened = open_page(browser, f"{server}/book/03-output-size.html", "dark")
    try:
        where = opened.page.evaluate("""() => { const p = document.createElement('p');
            p.textContent = 'hard to read'; p.style.color = '#777'; p.style.background = '#666';
            const img = document.createElement('img'); img.src = 'x.png';
            const article = document.querySelector('article');
            if (article) article.append(p, img);
            return [document.URL, document.title, !!article, document.body.innerHTML.length]; }""")
        assert where[2], where
        found = {v["id"] for v in _axe(opened.page)}
        assert {"color-contrast", "image-alt"} <= found
    finally:
        opened.page.close()


#: WCAG 2 contrast of an element's text against the colour behind it (the first ancestor, itself
#: included, that paints a background), in the browser.
_CONTRAST_JS = """(selector) => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => v / 255)
      .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
      .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const behind = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || c[3] > 0.5) return c;
    }
    return [255, 255, 255];
  };
  return [...document.querySelectorAll(selector)].filter(el => el.offsetParent !== null).map(el => {
    const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(behind(el))].sort((x, y) => y - x);
    return {what: el.tagName + '.' + el.className + ' ' + (el.textContent || el.value || '').trim().slice(0, 30),
            ratio: (a + 0.05) / (b + 0.05)};
  });
}"""

#: The book's own elements, by page: the parts of them that carry text (a checkbox, a radio button
#: or a slider has none).
OWN_ELEMENTS = {
    "book/03-output-size": ".cnnbook-calculator label, .cnnbook-calculator input[type=number], .cnnbook-calc-result",
    "book/02-filters-and-stride": ".animation button, .animation label",
    "book/03-output-size#tables": "article table td, article table th",
    "book/09-fooling": ".cnnbook-untrained p, .cnnbook-untrained li, .cnnbook-untrained code",
    "zh_TW/book/04-pooling": "p.cnnbook-caption",
}


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("where", OWN_ELEMENTS)
def test_the_books_own_elements_read_well_in_both_schemes(server, browser, where, scheme):
    """The calculator, the animation's controls, tables and the untrained-network notice: text at
    least 4.5:1 against what is behind it (WCAG AA), in light and dark mode."""
    name = where.split("#")[0]
    opened = open_page(browser, f"{server}/{name}.html", scheme)
    try:
        found = opened.page.evaluate(_CONTRAST_JS, OWN_ELEMENTS[where])
        assert found, f"{name}: nothing matches {OWN_ELEMENTS[where]!r}"
        poor = [f"{f['what']}: {f['ratio']:.2f}" for f in found if f["ratio"] < 4.5]
        assert poor == [], f"{name} ({scheme}): text below 4.5:1 contrast: {poor[:8]}"
    finally:
        opened.page.close()
