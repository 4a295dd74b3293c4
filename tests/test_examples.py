"""Every example, run as a user runs it: a subprocess against the emulator it starts itself."""

from __future__ import annotations

import asyncio
import csv
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bbre_async.cli._history import FIELDS
from tests.processes import as_a_shell_starts_it

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


def example_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for name in ("BBRE_BASE_URL", "BBRE_API_KEY", "REDIS_URL"):
        env.pop(name, None)  # never a real account, always the embedded emulator
    return env


def run_example(name: str, *args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        env=example_env(),
        cwd=cwd,
        timeout=60,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "target: embedded emulator at http://127.0.0.1:" in done.stdout
    return output


def test_every_example_is_listed_and_documents_its_command() -> None:
    readme = (EXAMPLES / "README.md").read_text()
    assert len(SCRIPTS) == 7
    for name in SCRIPTS:
        # The venv's interpreter: the form that works without activating the venv.
        assert f"`.venv/bin/python examples/{name}" in readme, name
        docstring = (EXAMPLES / name).read_text()
        assert f"python examples/{name}" in docstring, f"{name}: no command in its docstring"
    listed = re.findall(r"`(?:\S*python) (examples/\w+\.py)", readme)
    assert sorted(listed) == sorted(f"examples/{name}" for name in SCRIPTS)


VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


@pytest.mark.skipif(not VENV_PYTHON.exists(), reason="no .venv at the repository root")
def test_the_readme_command_runs_as_written_without_an_activated_venv() -> None:
    readme = (EXAMPLES / "README.md").read_text()
    (command,) = re.findall(r"`(\.venv/bin/python examples/history_report\.py[^`]*)`", readme)
    env = example_env()
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p
    )
    before = set(ROOT.iterdir())

    done = subprocess.run(
        shlex.split(command), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr[-3000:]
    written = Path(done.stdout.splitlines()[-2].rsplit(" -> ", 1)[1])
    try:
        assert written.exists() and ROOT not in written.parents
        assert set(ROOT.iterdir()) == before  # nothing written into the repository root
    finally:
        shutil.rmtree(written.parent, ignore_errors=True)


def test_pooled_scraper() -> None:
    out = run_example("pooled_scraper.py", "--urls", "60", "--concurrency", "15")
    assert "fetched 60/60 URLs, statuses {200: 60}" in out
    assert "failures: none" in out
    assert re.search(r"PoolStats\(max_size=10, .*requests=60, failed_requests=0", out)
    assert "after close: 0 left active" in out


def test_metrics_console_exports_the_pools_metrics() -> None:
    out = run_example("metrics_console.py", "--urls", "50", "--interval", "0.5")
    assert "map: 50/50 ok" in out
    last = out.rsplit("-- metrics export --", 1)[1]  # the export after the pool closed
    assert "bbre.pool.requests{outcome=ok} 50" in last
    assert "bbre.pool.size{} 0" in last
    assert "bbre.pool.lease.duration{} count=50 " in last
    assert "after close: 0 left active" in out
    assert "test-key" not in out


def test_login_then_fetch_keeps_one_session_across_the_steps() -> None:
    out = run_example("login_then_fetch.py", "--users", "2", "--pages", "2")
    assert "single session: alice: 2 pages, logged in: True, session cookie 'logged-in'" in out
    for user in ("user0", "user1"):
        assert f"pooled: {user}: 2 pages, logged in: True, session cookie 'logged-in'" in out
    assert "pool: created 2, retired 2" in out  # logged-in sessions are never handed on
    assert "after close: 0 left active" in out


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_long_running_worker_exits_cleanly_on_a_signal(signum: signal.Signals) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "long_running_worker.py"),
        "--health-interval",
        "0.3",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=example_env(),
        preexec_fn=as_a_shell_starts_it,
    )
    assert process.stdout is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(30):
            while not any(" health: " in line for line in seen):
                line = (await process.stdout.readline()).decode()
                assert line, "exited before its first health line:\n" + "".join(seen)
                seen.append(line)
            process.send_signal(signum)
            seen.append((await process.stdout.read()).decode())
            code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    out = "".join(seen)
    assert code == 0, out[-3000:]
    assert f"{signum.name} received: closing the session pool" in out
    stopped = re.search(r"sessions closed (\d+) \(already gone \d+, failed (\d+)\)", out)
    assert stopped is not None, out[-3000:]
    assert int(stopped[1]) >= 1 and stopped[2] == "0"
    assert "; 0 left active" in out


def test_long_running_worker_stops_after_its_duration() -> None:
    out = run_example("long_running_worker.py", "--duration", "0.8", "--health-interval", "0.3")
    assert " health: up " in out
    assert "--duration reached" in out
    assert re.search(r"stopped: jobs ok [1-9]\d* failed 0;", out)
    assert "; 0 left active" in out


@pytest.mark.parametrize(
    ("flags", "expected", "left"),
    [
        (["--dry-run"], "dry run: would close 3; nothing changed", 5),
        ([], "closed 3 (foreign 0), already gone 0, failed 0; ledger entries settled 3", 2),
        (["--foreign"], "closed 5 (foreign 2), already gone 0, failed 0", 0),
    ],
    ids=["dry-run", "orphans-only", "foreign"],
)
def test_orphan_cleanup_cron(flags: list[str], expected: str, left: int) -> None:
    out = run_example("orphan_cleanup_cron.py", *flags)
    assert "staged: a pool process died holding 3 sessions; 5 active" in out
    assert out.count("(owner gone)") == 3
    assert expected in out
    assert f"{left} left active on the account" in out


def test_history_report_writes_the_cli_columns_where_told(tmp_path: Path) -> None:
    out = run_example("history_report.py", "--output", "report.csv", cwd=tmp_path)
    with (tmp_path / "report.csv").open(newline="") as file:
        reader = csv.DictReader(file)
        rows = list(reader)
    assert tuple(reader.fieldnames or ()) == FIELDS  # the columns of `bbre-async history`
    assert len(rows) == 7  # 5 session requests and 2 stateless ones
    assert {r["status"] for r in rows} == {"completed", "failed"}
    assert all(r["created_at"].endswith("Z") and r["method"] == "GET" for r in rows)
    assert all(r["processing_time_ms"].isdigit() for r in rows)
    assert f"{len(rows)} rows from " in out
    spent = sum(float(r["price_charged"]) for r in rows)
    assert spent > 0 and f"totals: spent ${spent:.4f}" in out
    assert list(tmp_path.iterdir()) == [tmp_path / "report.csv"]  # no partial file left


def test_history_report_defaults_to_a_temporary_directory(tmp_path: Path) -> None:
    out = run_example("history_report.py", cwd=tmp_path)

    written = Path(re.findall(r" -> (\S+)", out)[-1])
    try:
        assert written.name == "history.csv" and written.exists()
        assert written.parent.name.startswith("bbre-history-")
        assert list(tmp_path.iterdir()) == []  # nothing where it was run from
    finally:
        shutil.rmtree(written.parent, ignore_errors=True)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_multi_process_redis_keeps_the_account_under_its_cap() -> None:
    out = run_example(
        "multi_process_redis.py", "--workers", "2", "--jobs", "40", "--concurrency", "8"
    )
    assert "redis: started redis-server on port" in out
    assert len(re.findall(r"worker \d: pid \d+: 40 ok, 0 failed", out)) == 2
    peak = re.search(r"peak of active sessions on the account: (\d+) \(cap 10\): OK", out)
    assert peak is not None, out[-3000:]
    assert 1 <= int(peak[1]) <= 10
