"""The documentation: README.md is the front door, docs/ a MkDocs site.

`mkdocs build --strict` fails on a broken link, a missing anchor or a page left out of the nav
(mkdocs.yml's `validation`), so this test is what keeps the site whole in `make test`. README's
relative links are checked here too, since MkDocs does not read README.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.MULTILINE)
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def test_the_site_builds_strictly_and_offline(tmp_path):
    """Every page builds, every link and anchor resolves; nothing is fetched (the build gets no network
    proxy to use, and the theme loads no web fonts)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY":
           "http://127.0.0.1:9", "NO_PROXY": ""}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=REPO, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    html = [p.read_text(encoding="utf-8") for p in (tmp_path / "site").rglob("*.html")]
    assert len(html) >= 9
    assert not any("fonts.googleapis.com" in page or "fonts.gstatic.com" in page for page in html)


def test_every_docs_page_is_in_the_nav():
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    nav = {page for entry in config["nav"] for page in entry.values()}
    assert nav == {p.relative_to(REPO / "docs").as_posix() for p in (REPO / "docs").rglob("*.md")}
    assert config["theme"]["font"] is False
    assert [p if isinstance(p, str) else next(iter(p)) for p in config["plugins"]] == ["search"]


def slug(heading: str) -> str:
    """Python-Markdown's toc slug, as MkDocs and GitHub (for these headings) write it."""
    from markdown.extensions.toc import slugify

    return slugify(re.sub(r"[`*]", "", heading), "-")


def anchors(page: Path) -> set[str]:
    return {slug(h) for h in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8")))}


def test_readme_links_resolve():
    """Every relative link in README.md names a file of the repository, and an anchor in it that exists."""
    text = FENCE.sub("", (REPO / "README.md").read_text(encoding="utf-8"))
    links = [link for link in LINK.findall(text) if not re.match(r"[a-z]+:", link)]
    assert links, "README links into the docs"
    for link in links:
        path, _, anchor = link.partition("#")
        target = REPO / path if path else REPO / "README.md"
        assert target.exists(), f"README.md links to {link}, which does not exist"
        if anchor:
            assert anchor in anchors(target), f"README.md links to {link}: no such heading in {path or 'README.md'}"


def test_readme_is_a_front_door():
    """About 200 lines, lines of about 120 characters (a generated table row may run a little over)."""
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200
    assert max(map(len, lines)) <= 130
    for command in ("make run", "make test"):
        assert command in "\n".join(lines)
