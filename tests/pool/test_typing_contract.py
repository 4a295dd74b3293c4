"""The pool's typing contract, checked the way a user's CI meets it: mypy --strict accepts the
README's calls and rejects a misspelt setting, a bad literal and a bad timeout."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.typecheck import run_mypy

HERE = Path(__file__).parent / "typing_contract"

pytestmark = pytest.mark.skipif(
    shutil.which("mypy") is None and not (Path(sys.executable).parent / "mypy").exists(),
    reason="mypy is not installed",
)


def check(name: str, tmp_path: Path, cache: Path) -> tuple[int, str]:
    # Kept as .txt so that the project's own mypy and ruff runs do not trip on the failing one.
    path = tmp_path / name
    path.write_text((HERE / f"{name}.txt").read_text())
    return run_mypy(path, cache)


def test_the_readme_calls_type_check(tmp_path: Path, mypy_cache: Path) -> None:
    code, out = check("accepted.py", tmp_path, mypy_cache)
    assert code == 0, out


def test_typos_and_bad_literals_are_rejected(tmp_path: Path, mypy_cache: Path) -> None:
    code, out = check("rejected.py", tmp_path, mypy_cache)
    assert code == 1, out
    assert 'Unexpected keyword argument "max_sise"' in out, out
    assert '"mode" to "SessionPool" has incompatible type "Literal[\'pasive\']"' in out, out
    assert '"timeout" to "acquire" of "SessionPool" has incompatible type "str"' in out, out
    assert 'Unexpected keyword argument "timout" for "get" of "VerbsMixin"' in out, out
    assert out.count("error:") == 4, out
