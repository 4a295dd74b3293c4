"""The wheel as a user installs it: the licence inside, the metadata an index shows, and the
command line's dependencies in the ``cli`` extra rather than in every install."""

from __future__ import annotations

import email.parser
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.cli.conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (path,) = out.glob("bbre_async-*.whl")
    return zipfile.ZipFile(path)


def dist_info(wheel: zipfile.ZipFile, name: str) -> str:
    (member,) = [
        n
        for n in wheel.namelist()
        if n.split("/", 1)[0].endswith(".dist-info") and n.endswith("/" + name)
    ]
    return wheel.read(member).decode()


def test_the_wheel_carries_the_licence(wheel: zipfile.ZipFile) -> None:
    assert dist_info(wheel, "LICENSE") == (ROOT / "LICENSE").read_text()
    assert "MIT License" in (ROOT / "LICENSE").read_text()


def test_metadata_names_licence_urls_and_classifiers(wheel: zipfile.ZipFile) -> None:
    meta = email.parser.Parser().parsestr(dist_info(wheel, "METADATA"))

    assert meta["License-Expression"] == "MIT"
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {"Source", "Documentation", "Changelog", "Issues", "Security"} <= urls.keys()
    classifiers = meta.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers and "Framework :: AsyncIO" in classifiers
    assert "bbre_async/py.typed" in wheel.namelist()


def test_click_and_rich_come_with_the_cli_extra_only(wheel: zipfile.ZipFile) -> None:
    meta = email.parser.Parser().parsestr(dist_info(wheel, "METADATA"))
    requires = meta.get_all("Requires-Dist") or []

    base = [r for r in requires if "extra ==" not in r]
    assert not any(r.startswith(("click", "rich")) for r in base)
    assert 'click>=8.1; extra == "cli"' in requires and 'rich>=13.7; extra == "cli"' in requires
    assert "bbre-async = bbre_async.cli:main" in dist_info(wheel, "entry_points.txt")


def test_the_repository_documents_changes_and_security() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "Keep a Changelog" in changelog and "## [Unreleased]" in changelog
    security = (ROOT / "SECURITY.md").read_text()
    assert "Reporting a vulnerability" in security
    assert Path(ROOT / "LICENSE").is_file()
