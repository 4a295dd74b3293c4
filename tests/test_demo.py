"""The README's main job: ``bbre-async demo`` against the embedded emulator."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import as_a_shell_starts_it
from tests.waiting import eventually
from tests.workloads.emulator_process import emulator_process


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bbre_async", "demo", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_demo_json_reports_the_servers_own_counters() -> None:
    done = run_demo(
        "--json",
        "--requests",
        "300",
        "--workers",
        "30",
        "--latency",
        "0.01",
        "--time-scale",
        "1000",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["ok"] == 300 and result["failures"] == {}
    assert result["peak_active_sessions"] <= 10 and result["cap_respected"] is True
    assert result["active_after_close"] == 0
    assert result["sessions_renewed"] > 0  # 0.3 s lives: renewals happened during the run
    assert result["sessions_closed"] == result["sessions_created"]
    assert result["spent_usd"] > 0


def test_demo_rides_out_faults_and_prints_plain_text_without_a_terminal() -> None:
    done = run_demo(
        "--requests",
        "300",
        "--workers",
        "30",
        "--latency",
        "0.005",
        "--error-rate",
        "0.05",
        "--lost-rate",
        "0.02",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "\x1b[" not in done.stdout  # no escape codes when not on a terminal
    assert "summary" in done.stdout and "OK server counters" in done.stdout
    assert "0 left active" in done.stdout


def test_demo_rejects_bad_settings() -> None:
    done = run_demo("--sessions", "11")
    assert done.returncode == 2
    assert "sessions" in done.stderr and "Traceback" not in done.stderr


def test_demo_reports_retries_and_runs_with_a_fixed_number_of_jobs() -> None:
    done = run_demo("--json", "--requests", "200", "--workers", "3", "--latency", "0.002")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["ok"] == 200 and result["retried"] == 0
    assert result["event_loop"] == "asyncio"


@pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop not installed")
def test_demo_runs_on_uvloop() -> None:
    done = run_demo("--json", "--uvloop", "--requests", "200", "--latency", "0.002")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["event_loop"] == "uvloop"
    assert result["ok"] == 200 and result["active_after_close"] == 0


async def test_ctrl_c_stops_the_demo_with_130_and_closes_every_session(tmp_path: Path) -> None:
    """Against a separate emulator, so the server that judges outlives the demo."""
    async with emulator_process("--latency", "0.01") as emulator:
        url = emulator.base_url
        demo = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bbre_async",
            "--base-url",
            url,
            "--api-key",
            "test-key",
            "demo",
            "--real",
            "--yes",
            "--requests",
            "1000000",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)},  # the ledger goes here
            preexec_fn=as_a_shell_starts_it,
        )
        try:

            async def crawling() -> bool:
                state = await asyncio.to_thread(emulator.state)
                return bool(state["requests_total"] >= 50)

            await eventually(crawling, timeout=60, interval=0.05, what="the crawl running")
            demo.send_signal(signal.SIGINT)
            async with asyncio.timeout(60):
                _out, err = await demo.communicate()
        finally:
            if demo.returncode is None:
                demo.kill()
                await demo.wait()
        state = await asyncio.to_thread(emulator.state)
        assert demo.returncode == 130, err.decode()[-2000:]
        assert "Aborted!" not in err.decode() and "Traceback" not in err.decode()
        assert "every session was closed" in err.decode()
        assert state["sessions_created"] >= 1
        assert state["active_sessions"] == 0
        assert state["sessions_closed"] == state["sessions_created"]
