"""The docs site's guide pages are README sections pulled in by heading (docs/hooks): every
heading they name exists, so renaming a README section cannot silently empty a page. The site
itself is built with ``mkdocs build --strict`` in ``.ci/run``."""

from __future__ import annotations

import re

from tests.cli.conftest import ROOT

PLACEHOLDER = re.compile(r"<!--\s*(readme|file):\s*(.+?)\s*-->")


def test_every_included_section_and_file_exists() -> None:
    headings = set(re.findall(r"^## (.+)$", (ROOT / "README.md").read_text(), re.MULTILINE))
    pages = sorted((ROOT / "docs").rglob("*.md"))
    included = [m.groups() for page in pages for m in PLACEHOLDER.finditer(page.read_text())]

    assert len(included) >= 14
    for kind, name in included:
        if kind == "file":
            assert (ROOT / name).is_file(), name
        elif name != "(intro)":
            assert name in headings, f"README.md has no '## {name}'"


def test_every_page_is_in_the_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in (ROOT / "docs").rglob("*.md"):
        assert str(page.relative_to(ROOT / "docs")) in nav, page
