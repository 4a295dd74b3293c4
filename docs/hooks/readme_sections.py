"""An mkdocs hook: the guide pages are sections of README.md, pulled in by their heading, so the
README stays the one source of the guides and the site cannot drift from it.

A page holding ``<!-- readme: The emulator -->`` gets the README's ``## The emulator`` section
in its place, headings raised one level; ``<!-- readme: (intro) -->`` gets the text before the
first section. ``<!-- file: CHANGELOG.md -->`` includes a whole file of the repository. A
heading or file that no longer exists fails the build.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

_PLACEHOLDER = re.compile(r"<!--\s*(readme|file):\s*(.+?)\s*-->")
INTRO = "(intro)"
_HEADING = re.compile(r"^(#{2,6}) ", re.MULTILINE)


def readme_section(readme: str, title: str) -> str:
    """The body of ``## title`` up to the next ``## `` heading, headings raised one level."""
    lines = readme.splitlines()
    if title == INTRO:
        start = next(i for i, line in enumerate(lines) if line.startswith("# ")) + 1
        end = next(i for i, line in enumerate(lines) if line.startswith("## "))
        return "\n".join(lines[start:end]).strip() + "\n"
    try:
        start = lines.index(f"## {title}")
    except ValueError:
        raise PluginError(f"README.md has no section '## {title}'") from None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    body = "\n".join(lines[start:end]).strip() + "\n"
    fenced = False
    out = []
    for line in body.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        out.append(line if fenced else _HEADING.sub(lambda m: m.group(1)[1:] + " ", line))
    return "\n".join(out) + "\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if "<!--" not in markdown:
        return markdown
    root = Path(config["config_file_path"]).parent

    def include(match: re.Match[str]) -> str:
        kind, name = match.group(1), match.group(2)
        if kind == "readme":
            return readme_section((root / "README.md").read_text(encoding="utf-8"), name)
        path = root / name
        if not path.is_file():
            raise PluginError(f"cannot include {name}: no such file in the repository")
        return path.read_text(encoding="utf-8")

    return _PLACEHOLDER.sub(include, markdown)
