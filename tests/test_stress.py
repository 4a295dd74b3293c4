"""The stress runner passes pytest's verdict through and leaves no hog behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run_stress(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    test_file = tmp_path / "test_sample.py"
    test_file.write_text(body)
    return subprocess.run(
        [sys.executable, "-m", "tests.stress", "--hogs", "1", "--",
         str(test_file), "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_a_passing_run_exits_zero(tmp_path: Path) -> None:
    result = _run_stress(tmp_path, "def test_ok() -> None:\n    assert True\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_a_failing_run_exits_with_pytests_status(tmp_path: Path) -> None:
    result = _run_stress(tmp_path, "def test_bad() -> None:\n    assert 1 == 2\n")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed" in result.stdout
