"""The typed surface is a promise: misspelt keywords and values outside the API's closed sets
are type errors. Runs ``mypy --strict`` in a subprocess on two small files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.typecheck import run_mypy

HERE = Path(__file__).parent / "typing_contract"


@pytest.mark.timeout(900)
def test_the_public_api_types_cleanly_and_refuses_the_classic_mistakes(mypy_cache: Path) -> None:
    code, output = run_mypy(HERE / "must_pass.py", mypy_cache)
    assert code == 0, output

    target = HERE / "must_fail.py"
    expected = {
        number
        for number, line in enumerate(target.read_text().splitlines(), start=1)
        if line.rstrip().endswith("# E")
    }
    code, output = run_mypy(target, mypy_cache)
    assert code == 1, output
    flagged = {int(found.group(1)) for found in re.finditer(r"must_fail\.py:(\d+): error", output)}
    assert flagged == expected, output
    assert "timout" in output and "proxi" in output and "faild" in output
