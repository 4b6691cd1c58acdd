"""The built book in a real browser: headless Chromium, driven by Playwright, over HTTP on 127.0.0.1.

Needs Debian's Chromium (`apt-get install -y chromium`); elsewhere the tests skip and say why.
CI installs it and sets CNNBOOK_REQUIRE_BROWSER=1, which turns that skip into a failure.
"""

import functools
import http.server
import os
import shutil
import threading
from urllib.parse import urlsplit

import pytest

from test_book import PAGES

pytestmark = pytest.mark.build

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


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


def open_page(browser, url: str):
    """Open ``url``; requests that leave 127.0.0.1 (MathJax's CDN, say) get an empty answer, as
    they would fail here anyway. Returns the page and the console errors it logged."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    stubbed: list[str] = []

    def console(message) -> None:
        # An empty stand-in for a CDN script fails its integrity check or does nothing: those
        # messages are about the stand-in, not about the page.
        if message.type == "error" and not any(url in message.text for url in stubbed) \
                and urlsplit(message.location.get("url", "")).hostname in ("127.0.0.1", None):
            errors.append(f"{message.text[:300]} at {message.location.get('url', '')[:100]}")

    page.on("console", console)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))

    def route(request_route):
        if urlsplit(request_route.request.url).hostname == "127.0.0.1":
            request_route.continue_()
        else:
            stubbed.append(request_route.request.url)
            request_route.fulfill(status=200, body="", content_type="text/plain")

    page.route("**/*", route)
    page.goto(url, wait_until="load")
    return page, errors


@pytest.mark.parametrize("name", PAGES)
def test_every_chapter_loads_without_errors_and_shows_its_figures(server, browser, name):
    page, errors = open_page(browser, f"{server}/{name}.html")
    try:
        assert PAGES[name].split(" ")[-1] in page.title().replace("\u2019", "'")
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


def test_the_convolution_animation_moves_when_played(server, browser):
    page, errors = open_page(browser, f"{server}/book/02-filters-and-stride.html")
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
    finally:
        page.close()
