"""Each new benchmark row run once with tiny sizes, against the real servers on loopback.

These check that the harness measures what it says (every arm completes requests, numbers are
positive, a run past its time limit is a miss, a missing uvloop is an info row), never how fast
anything is.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator

import pytest

from bbre_async import BBREClient
from benchmarks import _raw, scenario_acquire, scenario_handoff, scenario_overhead, scenario_startup
from benchmarks._emulator_proc import API_KEY, EmulatorProcess
from benchmarks._report import verdict
from benchmarks._runner import Result
from benchmarks._server_proc import ServerProcess, stub_server, web_baseline_server
from benchmarks.scenario_emulator import cpu_row, listing_row
from benchmarks.scenario_overhead import stub_rows, uvloop_row

pytestmark = pytest.mark.timeout(600)
TINY = (0.05, 0.02, 1, 0)  # counted seconds, warm-up seconds, rounds, warm-up rounds


@pytest.fixture(scope="module")
def stub() -> Iterator[ServerProcess]:
    with stub_server(cpu=None) as server:
        yield server


def _measured(row: Result) -> None:
    assert row.value is not None and row.value > 0
    assert row.baseline is not None and row.baseline > 0
    assert row.ratio is not None and row.ratio > 0
    assert row.meets in (True, False)


async def test_stub_answers_the_sdk_in_the_bbre_envelope(stub: ServerProcess) -> None:
    async with BBREClient(api_key=API_KEY, base_url=stub.base_url) as client:
        first = await client.sessions.create()
        second = await client.sessions.create()
        assert first.id != second.id
        response = await first.get(_raw.TARGET_URL)
        assert response.status_code == 200
        info = await client.sessions.status(first.id)
        assert info.id == first.id and info.status == "active"
        assert [s async for s in client.account.sessions(status="active")] == []
        await first.close()
        await second.close()
    cpu = stub.cpu_seconds()
    assert cpu is None or cpu >= 0


async def test_stub_and_web_baseline_answer_a_naive_raw_user(stub: ServerProcess) -> None:
    with web_baseline_server(cpu=None) as web:
        for server in (stub, web):
            async with _raw.naive_http(server.base_url) as http:
                created = await _raw.naive_call(http, "/session/create", {})
                sid = created["session"]["id"]
                body = {"sessionId": sid, "url": _raw.TARGET_URL, "method": "GET"}
                answer = await _raw.naive_call(http, "/session/request", body)
                assert answer["data"]["task"]["result"]["statusCode"] == 200
                await _raw.naive_call(http, "/session/close", {"sessionId": sid})


def test_overhead_stub_rows_compare_the_pool_with_both_raw_users(stub: ServerProcess) -> None:
    naive, tuned, naive_cpu, tuned_cpu = stub_rows(stub, TINY)
    for row in (naive, tuned):
        _measured(row)
        assert "CPU µs/request: naive" in row.notes
        assert row.details["failed_requests"] == 0
        assert set(row.details["cpu_us_per_request"]) == {"naive", "tuned", "sdk", "pool"}
    assert "naive" in naive.metric and naive.target == "ratio >= 1"
    assert "tuned" in tuned.metric and tuned.target == "ratio >= 0.9"
    for row, arm in ((naive_cpu, "naive"), (tuned_cpu, "tuned")):
        assert row.meets is None and row.value is not None and row.value > 0
        assert row.baseline == pytest.approx(naive.details["cpu_us_per_request"][arm], rel=0.01)


def test_task_row_reports_what_a_task_per_request_adds() -> None:
    row = scenario_overhead.task_row(quick=True)
    assert row.meets is None and row.target == ""  # informational: it names a limit
    direct, tasked = row.details["direct_us"], row.details["tasked_us"]
    assert direct > 0 and tasked > 0
    assert row.value == pytest.approx(tasked - direct, rel=0.02, abs=0.1)  # details: 3 digits


def test_uvloop_row_runs_when_installed(stub: ServerProcess) -> None:
    row = uvloop_row(stub, TINY)
    assert row.meets is None  # informational either way
    if importlib.util.find_spec("uvloop") is None:
        assert row.value is None and "not installed" in row.notes
    else:
        assert row.value is not None and row.value > 0
        assert row.details["failed_requests"] == 0


def test_uvloop_row_without_uvloop_is_an_info_row(
    stub: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scenario_overhead, "_uvloop_factory", lambda: None)
    row = uvloop_row(stub, TINY)
    assert row.value is None and row.meets is None and "not installed" in row.notes
    assert verdict(row.meets, row.notes) == "info"


def test_handoff_rows_with_small_queues() -> None:
    flat = scenario_handoff.flatness_row(10, 50, 1, 300.0)
    _measured(flat)
    assert set(flat.details["pool"]) == {"10", "50"}
    many = scenario_handoff.many_tasks_row(200, 1, 300.0)
    _measured(many)


def test_handoff_run_past_its_limit_is_a_miss_not_a_hang() -> None:
    row = scenario_handoff.flatness_row(10, 50, 1, 0.01)
    assert row.meets is False and row.value is None
    assert "did not finish within" in row.notes


def test_startup_rows_time_the_cli_and_the_import() -> None:
    assert scenario_startup.timed_run([sys.executable, "-c", "pass"])[0] > 0
    help_row, import_row = scenario_startup.rows(1, warmups=0)
    for row in (help_row, import_row):
        _measured(row)
    assert help_row.target == "ratio <= 1.2" and import_row.target == "ratio <= 1.1"


def test_acquire_in_the_loop_row() -> None:
    row = scenario_acquire.in_loop_row(per_worker=5, reps=1, warmups=0)
    _measured(row)


def test_emulator_cpu_and_listing_rows() -> None:
    with EmulatorProcess(cpu=None) as emu:
        cpu = cpu_row(emu, 0.2, 1, warmups=0)
        if cpu.notes.startswith("skipped"):
            assert sys.platform != "linux"
        else:
            _measured(cpu)
        listing = listing_row(emu, 20, 40, 5)
        _measured(listing)
        assert listing.details["listing_ms"]["large"]["active"] > 0
