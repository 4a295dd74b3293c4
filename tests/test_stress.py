"""The stress runner passes pytest's verdict through and leaves no hog behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
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


def test_a_stopped_runner_stops_its_test_run(tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    test_file = tmp_path / "test_slow.py"
    test_file.write_text(
        "import os, pathlib, time\n"
        "def test_slow() -> None:\n"
        f"    pathlib.Path({str(marker)!r}).write_text(str(os.getpid()))\n"
        "    time.sleep(120)\n"
    )
    runner = subprocess.Popen(
        [sys.executable, "-m", "tests.stress", "--hogs", "1", "--",
         str(test_file), "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(600):  # the test has started (bounded: 60 s)
            if marker.exists() and marker.read_text():
                break
            time.sleep(0.1)
        test_pid = int(marker.read_text())
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if runner.poll() is None:
            runner.kill()
    for _ in range(300):  # the test run it started is gone too (bounded: 30 s)
        if not Path(f"/proc/{test_pid}").exists():
            break
        time.sleep(0.1)
    assert not Path(f"/proc/{test_pid}").exists()
