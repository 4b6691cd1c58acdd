"""Check a built book (``_build/html``) the way a reader would meet it.

Every internal link and anchor must resolve; every image must exist and carry alt text that
describes it (not its file name); no page may show a traceback or error output; a page that
embeds a Jupyter widget must also carry a kernel-free fallback (an element marked
``data-cnnbook-fallback``), because a static site has no kernel; and each page's own weight (its
HTML plus the images it shows, the theme's shared assets aside) must stay within a budget.

Run it on its own: ``python -m cnnbook check-site [_build/html]``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

#: Each page's own HTML plus images, in bytes.
PAGE_BUDGET = 1_500_000

ERROR_MARKERS = ("Traceback (most recent call last)", "output traceback", "output stderr", "highlight-ipythontb")
WIDGET_MARKER = "application/vnd.jupyter.widget-view+json"
FALLBACK_MARKER = "data-cnnbook-fallback"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.images: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and a.get("href") is not None:
            self.links.append(a["href"])
        elif tag == "img":
            self.images.append((a.get("src") or "", a.get("alt")))


@dataclass
class PageReport:
    """One page: its path inside the site, its weight and what is wrong with it."""

    page: str
    html_bytes: int
    image_bytes: int
    problems: list[str] = field(default_factory=list)

    @property
    def weight(self) -> int:
        return self.html_bytes + self.image_bytes


@dataclass
class SiteReport:
    pages: list[PageReport]

    @property
    def problems(self) -> list[str]:
        return [f"{p.page}: {problem}" for p in self.pages for problem in p.problems]

    def table(self) -> str:
        """The pages by weight, heaviest first, as aligned text."""
        rows = sorted(self.pages, key=lambda p: -p.weight)
        width = max(len(p.page) for p in rows)
        lines = [f"{'page':<{width}}  {'HTML':>9}  {'images':>9}  {'total':>9}"]
        lines += [f"{p.page:<{width}}  {p.html_bytes / 1e3:>7.0f}kB  {p.image_bytes / 1e3:>7.0f}kB  {p.weight / 1e3:>7.0f}kB"
                  for p in rows]
        return "\n".join(lines)


def _internal(href: str) -> bool:
    parts = urlsplit(href)
    return not parts.scheme and not parts.netloc and not href.startswith(("mailto:", "javascript:"))


def _is_theme_asset(path: Path, root: Path) -> bool:
    return path.relative_to(root).parts[:1] in (("_static",),)


def check_site(root: str | Path, budget: int = PAGE_BUDGET) -> SiteReport:
    """Check every HTML page under ``root`` (theme assets in ``_static`` aside)."""
    root = Path(root).resolve()
    if not (root / "index.html").is_file():
        raise FileNotFoundError(f"{root} holds no index.html: build the book first (jupyter-book build .)")
    found = sorted(p for p in root.rglob("*.html") if not _is_theme_asset(p, root))
    parsed: dict[Path, _Page] = {}
    texts: dict[Path, str] = {}
    reports, pages = [], []
    for path in found:
        name = str(path.relative_to(root))
        if not path.is_file():
            reports.append(PageReport(name, 0, 0, ["is not a file (a folder or a broken link named like a page)"]))
            continue
        try:
            texts[path] = path.read_text(encoding="utf-8", errors="replace")
        except OSError as err:
            reports.append(PageReport(name, 0, 0, [f"cannot be read ({err.strerror or err})"]))
            continue
        parser = _Page()
        parser.feed(texts[path])
        parsed[path] = parser
        pages.append(path)

    for path in pages:
        page, text = parsed[path], texts[path]
        report = PageReport(str(path.relative_to(root)), len(text.encode("utf-8")), 0)
        for href in page.links:
            if not _internal(href):
                continue
            try:
                parts = urlsplit(href)
                target = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
                if target.is_dir():
                    target = target / "index.html"
                exists = target.is_file()
            except (ValueError, OSError) as err:  # a malformed URL or path (a NUL byte, say)
                report.problems.append(f"broken link {href!r}: {err}")
                continue
            if not exists or root not in target.parents:
                report.problems.append(f"broken link {href!r}: {target} does not exist")
                continue
            if parts.fragment and target.suffix == ".html":
                if target not in parsed:  # a page under _static, say
                    parsed[target] = _Page()
                    try:
                        parsed[target].feed(target.read_text(encoding="utf-8", errors="replace"))
                    except OSError as err:
                        report.problems.append(f"broken link {href!r}: {target.name} cannot be read ({err})")
                        continue
                if unquote(parts.fragment) not in parsed[target].ids:
                    report.problems.append(f"broken anchor {href!r}: no id {parts.fragment!r} in {target.name}")
        seen: set[str] = set()
        for src, alt in page.images:
            shown = src if len(src) < 80 else src[:60] + "..."
            if src.startswith("data:"):
                header, comma, payload = src.partition(",")
                try:
                    if not comma:
                        raise ValueError("no comma between the header and the data")
                    size = (len(base64.b64decode("".join(unquote(payload).split()), validate=True))
                            if header.endswith(";base64") else len(payload))
                except (ValueError, binascii.Error) as err:
                    report.problems.append(f"image with a malformed data: URI {shown!r} ({err})")
                    continue
            elif _internal(src):
                try:
                    image = (path.parent / unquote(urlsplit(src).path)).resolve()
                    exists = image.is_file()
                except (ValueError, OSError):
                    exists = False
                if not exists:
                    report.problems.append(f"missing image {src!r}")
                    continue
                size = 0 if _is_theme_asset(image, root) or str(image) in seen else image.stat().st_size
                seen.add(str(image))
            else:
                size = 0
            report.image_bytes += size
            name = Path(urlsplit(src).path).name if not src.startswith("data:") else ""
            if not alt or not alt.strip() or (name and name in alt):
                report.problems.append(f"image without alt text describing it: {shown!r} (alt={alt!r})")
        for marker in ERROR_MARKERS:
            if marker in text:
                report.problems.append(f"shows error output ({marker!r})")
        if WIDGET_MARKER in text and FALLBACK_MARKER not in text:
            report.problems.append("embeds a Jupyter widget but no kernel-free fallback (data-cnnbook-fallback)")
        if report.weight > budget:
            report.problems.append(f"weighs {report.weight / 1e6:.2f} MB, over the {budget / 1e6:.1f} MB budget")
        reports.append(report)
    return SiteReport(sorted(reports, key=lambda r: r.page))


def main(root: str = "_build/html", budget: int = PAGE_BUDGET) -> int:
    report = check_site(root, budget)
    print(report.table())
    for problem in report.problems:
        print("PROBLEM", problem)
    print(f"{len(report.pages)} pages, {len(report.problems)} problems")
    return 1 if report.problems else 0

