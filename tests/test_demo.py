"""The README's main job: ``bbre-async demo`` against the embedded emulator."""

from __future__ import annotations

import json
import subprocess
import sys


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
