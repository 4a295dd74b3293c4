"""The typed surface is a promise: misspelt keywords and values outside the API's closed sets
are type errors. Runs ``mypy --strict`` in a subprocess on two small files."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "typing_contract"
ROOT = Path(__file__).parents[2]


def run_mypy(path: Path, cache: Path) -> tuple[int, str]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(cache),
            "--config-file",
            str(ROOT / "pyproject.toml"),
            str(path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.timeout(900)
def test_the_public_api_types_cleanly_and_refuses_the_classic_mistakes(
    tmp_path: Path,
) -> None:
    code, output = run_mypy(HERE / "must_pass.py", tmp_path)
    assert code == 0, output

    target = HERE / "must_fail.py"
    expected = {
        number
        for number, line in enumerate(target.read_text().splitlines(), start=1)
        if line.rstrip().endswith("# E")
    }
    code, output = run_mypy(target, tmp_path)
    assert code == 1, output
    flagged = {int(found.group(1)) for found in re.finditer(r"must_fail\.py:(\d+): error", output)}
    assert flagged == expected, output
    assert "timout" in output and "proxi" in output and "faild" in output
