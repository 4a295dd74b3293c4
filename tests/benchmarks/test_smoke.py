"""Smoke test of the benchmark machinery: result records, the report, the JSON schema, the
command line's exit codes, and one cheap scenario (``acquire`` in its quick form) through it.

The benchmark suite itself is not part of the tests (``python -m benchmarks``); the rows of
each scenario are run with tiny sizes in ``test_rows.py``, and no test asserts a speed.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks import __main__ as cli
from benchmarks._report import render, write_json
from benchmarks._runner import Result, Target, crashed, interleave, percentile, result, skipped

KEYS = {"name", "metric", "value", "baseline", "ratio", "target", "meets"}


def test_target_checks_ratio_or_value() -> None:
    at_least = Target(op=">=", bound=0.95)
    assert at_least.check(value=100.0, ratio=0.96) is True
    assert at_least.check(value=100.0, ratio=0.94) is False
    assert at_least.check(value=100.0, ratio=None) is None
    exact = Target(op="==", bound=0, on="value")
    assert exact.check(value=0.0, ratio=None) is True
    assert str(exact) == "value == 0"


def test_result_computes_ratio_verdict_and_requirement() -> None:
    row = result("x", "req/s", 190.0, 200.0, target=Target(op=">=", bound=0.95))
    assert row.ratio == pytest.approx(0.95)
    assert row.meets is True
    failed = result("x", "req/s", 190.0, 200.0, target=Target(op=">=", bound=0.9), require=False)
    assert failed.meets is False
    info = result("x", "req/s", 1.0)
    assert info.ratio is None and info.meets is None


def test_interleave_alternates_arms_after_warmups() -> None:
    calls: list[str] = []

    def arm(name: str, value: int) -> Callable[[], int]:
        def run() -> int:
            calls.append(name)
            return value

        return run

    out = interleave({"a": arm("a", 1), "b": arm("b", 2)}, repetitions=2, warmups=1)
    assert calls == ["a", "b", "a", "b", "a", "b"]
    assert out == {"a": [1, 1], "b": [2, 2]}
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0


def test_report_and_json_schema(tmp_path: Path) -> None:
    rows: list[Result] = [
        result("a", "m", 1.0, 2.0, target=Target(op=">=", bound=0.95), notes="why"),
        result("b", "m", math.inf, 2.0),
        skipped("c", "m", "no server"),
        crashed("d", RuntimeError("boom")),
    ]
    text = io.StringIO()
    render(rows, text)
    table = text.getvalue()
    assert "MISSED" in table and "skipped" in table and "error" in table and "[1] why" in table
    path = tmp_path / "out.json"
    write_json(rows, path)
    data = json.loads(path.read_text())
    assert [item["name"] for item in data] == ["a", "b", "c", "d"]
    for item in data:
        assert set(item) >= KEYS
    assert data[0]["ratio"] == 0.5 and data[0]["meets"] is False and data[0]["notes"] == "why"
    assert data[1]["value"] is None  # non-finite numbers are written as null, never NaN


def test_cli_exits_1_on_a_crash_even_with_report_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(cli.SCENARIOS, "broken", "benchmarks.no_such_scenario")
    path = tmp_path / "broken.json"
    assert cli.main(["--only", "broken", "--json", str(path)]) == cli.EXIT_CRASHED == 1
    (row,) = json.loads(path.read_text())
    assert row["meets"] is None and row["notes"].startswith("error:")
    assert "error" in capsys.readouterr().out
    assert cli.main(["--only", "broken", "--report-only"]) == 1


def test_cli_exits_non_zero_on_a_missed_target_unless_report_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(cli.SCENARIOS, "missed", "tests.benchmarks.missed_scenario")
    assert cli.main(["--only", "missed"]) == cli.EXIT_MISSED != 0
    assert "MISSED" in capsys.readouterr().out
    assert cli.main(["--only", "missed", "--report-only"]) == 0


def test_every_scenario_module_is_registered_or_discovered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = {p.stem for p in Path(cli.__file__).parent.glob("scenario_*.py")}
    found = cli.scenarios()
    assert {module.rsplit(".", 1)[1] for module in found.values()} >= files
    assert {"startup", "overhead", "acquire", "handoff", "emulator"} <= set(found)
    monkeypatch.delitem(cli.SCENARIOS, "memory")  # a module nobody registered still runs
    assert cli.scenarios()["memory"] == "benchmarks.scenario_memory"


@pytest.mark.timeout(600)
def test_acquire_scenario_quick_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "acquire.json"
    assert cli.main(["--quick", "--report-only", "--only", "acquire", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    assert len(data) == 5
    for item in data:
        assert set(item) >= KEYS
        assert item["name"] == "acquire"
        assert isinstance(item["metric"], str) and item["metric"]
        assert item["meets"] in (True, False, None)
        assert item["details"]["scenario_seconds"] > 0
    in_loop, cost, fraction, overtaking, _spread = data
    assert in_loop["value"] > 0 and in_loop["baseline"] > 0 and in_loop["target"] == "ratio <= 3"
    assert cost["value"] > 0 and cost["baseline"] > 0
    assert cost["ratio"] == pytest.approx(cost["value"] / cost["baseline"])
    assert fraction["baseline"] > cost["value"]  # a round trip costs more than a lease
    assert overtaking["value"] == 0  # the pool serves waiters first come, first served
