"""The pytest plugin with zero setup, as a user meets it: a fresh project directory holding only
the README's test file and a pytest.ini, run by pytest in a subprocess, in pytest-asyncio's
strict mode and in auto mode. Pools created there keep their ledgers in a temporary
directory, never in the user's cache directory, and the directory is gone after the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

#: The README's "Testing your code" file, verbatim (checked below).
USER_TEST_FILE = """\
import pytest

from bbre_async import SessionPool
from bbre_async.emulator import EmulatorSettings


@pytest.fixture
def bbre_emulator_settings() -> EmulatorSettings:
    return EmulatorSettings(time_scale=100)  # a 300 s session lives 3 s


@pytest.mark.asyncio
async def test_a_pooled_fetch(bbre_client, bbre_emulator):
    async with SessionPool(bbre_client, max_size=3) as pool:
        async with pool.acquire() as session:
            response = await session.get("https://example.com/")
    assert response.status_code == 200
    state = bbre_emulator.state.account()
    assert state.peak_active_sessions <= 3
    assert state.active_sessions == 0  # the pool closed what it opened


@pytest.mark.asyncio
async def test_the_server_clock_can_be_skewed(bbre_client, bbre_emulator):
    bbre_emulator.set_clock_offset(-120)  # the server's clock two minutes behind
    session = await bbre_client.sessions.create()
    info = await session.status()
    await session.close()
    assert info.status == "active"
"""

#: A check the user would not write: where the pool put its ledger.
LEDGER_CHECK = """

def test_ledgers_live_in_the_plugins_directory(bbre_ledger_dir):
    import os

    assert os.environ["BBRE_LEDGER_DIR"] == str(bbre_ledger_dir)
    assert list(bbre_ledger_dir.glob("ledger-*.sqlite3")), "the pool wrote no ledger there"
"""


def _run_user_project(tmp_path: Path, mode: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_user.py").write_text(USER_TEST_FILE + LEDGER_CHECK)
    (project / "pytest.ini").write_text(f"[pytest]\nasyncio_mode = {mode}\n")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("BBRE_LEDGER_DIR", "PYTEST_ADDOPTS")}
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        TMPDIR=str(temp),
        BBRE_API_KEY="",
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rw"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result, temp


def test_the_readme_shows_this_very_file() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert f"```python\n{USER_TEST_FILE}```" in readme


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_the_readme_test_file_passes_with_zero_setup(tmp_path: Path, mode: str) -> None:
    result, temp = _run_user_project(tmp_path, mode)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    assert "bbre_async" not in result.stdout  # no warning or error from the package
    assert not (tmp_path / "cache").exists()  # nothing in the user's cache directory
    assert not (tmp_path / "home" / ".cache").exists()
    assert not list(temp.glob("bbre-ledgers-*"))  # the run's ledger directory is removed


def test_a_ledger_dir_the_user_chose_is_kept(tmp_path: Path) -> None:
    chosen = tmp_path / "mine"
    chosen.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_user.py").write_text(
        f"def test_dir(bbre_ledger_dir):\n    assert str(bbre_ledger_dir) == {str(chosen)!r}\n"
    )
    env = {**os.environ, "BBRE_LEDGER_DIR": str(chosen)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert chosen.is_dir()
