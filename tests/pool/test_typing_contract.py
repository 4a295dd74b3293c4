"""The pool's typing contract, checked the way a user's CI meets it: mypy --strict accepts the
README's calls and rejects a misspelt setting, a bad literal and a bad timeout."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "typing_contract"

pytestmark = pytest.mark.skipif(
    shutil.which("mypy") is None and not (Path(sys.executable).parent / "mypy").exists(),
    reason="mypy is not installed",
)


def run_mypy(name: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # Kept as .txt so that the project's own mypy and ruff runs do not trip on the failing one.
    path = tmp_path / name
    path.write_text((HERE / f"{name}.txt").read_text())
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_readme_calls_type_check(tmp_path: Path) -> None:
    result = run_mypy("accepted.py", tmp_path)
    assert result.returncode == 0, result.stdout


def test_typos_and_bad_literals_are_rejected(tmp_path: Path) -> None:
    result = run_mypy("rejected.py", tmp_path)
    out = result.stdout
    assert result.returncode == 1, out
    assert 'Unexpected keyword argument "max_sise"' in out, out
    assert '"mode" to "SessionPool" has incompatible type "Literal[\'pasive\']"' in out, out
    assert '"timeout" to "acquire" of "SessionPool" has incompatible type "str"' in out, out
    assert 'Unexpected keyword argument "timout" for "get" of "VerbsMixin"' in out, out
    assert out.count("error:") == 4, out
