"""What the book's ``_config.yml`` and ``_toc.yml`` say that its build tools need: the repository's
address and branch (which every notebook's install cell installs from), the published website's
address (where notebooks link to other pages), the bibliography file, and the chapters in reading
order. :mod:`cnnbook.build.notebooks` and :mod:`cnnbook.build.myst` read the book through it.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]  # the repository: cnnbook/build/bookconfig.py


def _config(root: Path) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text())


def title(root: Path = ROOT) -> str:
    """The book's title (``title`` in ``_config.yml``)."""
    return str(_config(root)["title"])


def author(root: Path = ROOT) -> str:
    """The book's author (``author`` in ``_config.yml``)."""
    return str(_config(root)["author"])


def repository_url(root: Path = ROOT) -> str:
    """``repository.url`` from ``_config.yml``: the one place the repository's address is kept."""
    try:
        url = _config(root)["repository"]["url"]
    except (KeyError, TypeError):
        raise ValueError(f"{root / '_config.yml'} has no repository.url; the install cell needs it") from None
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", str(url)):
        raise ValueError(f"repository.url must be https://github.com/OWNER/NAME, got {url!r}")
    return url


def repository_branch(root: Path = ROOT) -> str:
    """``repository.branch`` from ``_config.yml``: the branch the launch buttons open and the
    install cell installs from."""
    branch = (_config(root).get("repository") or {}).get("branch", "main")
    if not re.fullmatch(r"[\w./-]+", str(branch)):
        raise ValueError(f"repository.branch must be a git branch name, got {branch!r}")
    return str(branch)


def website_url(root: Path = ROOT) -> str:
    """``html.baseurl`` from ``_config.yml``: where the published book lives, ending in ``/``."""
    url = ((_config(root).get("html") or {}).get("baseurl") or "")
    if not re.fullmatch(r"https://\S+/", str(url)):
        raise ValueError(f"html.baseurl in _config.yml must be the published book's https address ending in /, "
                         f"got {url!r}")
    return url


def bib_path(root: Path = ROOT) -> Path:
    """The first of ``bibtex_bibfiles`` in ``_config.yml``: the bibliography the chapters cite from."""
    files = _config(root).get("bibtex_bibfiles") or []
    if not files:
        raise ValueError("_config.yml lists no bibtex_bibfiles, but a chapter cites")
    return root / files[0]


def chapters(root: Path = ROOT) -> list[Path]:
    """Every notebook page in ``_toc.yml`` (a ``.md`` with jupytext front matter), in reading order;
    plain pages such as the references are not notebooks."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    names = [toc["root"]]

    def walk(entries: list) -> None:
        for entry in entries:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections", []))

    walk(toc.get("chapters", []))
    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    pages = [root / f"{name}.md" for name in names]
    return [page for page in pages if page.read_text().startswith("---\njupytext:")]

