"""A long run (10 minutes by default): memory, tasks and file descriptors stay flat.

The emulator runs in a subprocess, so this process holds only what a user's worker holds: a
client and a pool renewing sessions all along (5 s lives), with light faults. Figures are taken
at quiet points (between rounds of work) after a warm-up, and at the end; each may grow by
less than 5 %. ``BBRE_LONG_RUN_SECONDS`` changes the length.

    pytest -m soak tests/reliability/test_long_run.py -s
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bbre_async import BBREClient, BBREError, RetryPolicy
from bbre_async.pool import SessionPool

from .conftest import SECRET_KEY, fd_count, rss_kib, task_count

pytestmark = pytest.mark.soak

ROOT = Path(__file__).resolve().parents[2]
SECONDS = float(os.environ.get("BBRE_LONG_RUN_SECONDS", "600"))
WORKERS = 50
ROUND = 2000  # requests per round; figures are taken between rounds


def start_emulator() -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen(
        [
            sys.executable,
            *shlex.split("-m bbre_async emulator --port 0 --api-key"),
            SECRET_KEY,
            *shlex.split("--balance 1000000000 --time-scale 60 --latency 0.002 --jitter 0.005"),
            *shlex.split("--sweep-interval 0.2 --fault 500=0.01 --fault 429=0.005"),
            *shlex.split("--fault lost=0.003 --fault retry_after=0.02 --seed 3"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    assert process.stdout is not None
    url = process.stdout.readline().decode().strip()
    assert url.startswith("http://127.0.0.1:"), url
    return process, url


def account_state(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/_emulator/state", timeout=10) as answer:  # noqa: S310
        state = json.loads(answer.read())
    return dict(next(iter(state["accounts"].values())))


def figures() -> dict[str, int]:
    gc.collect()
    return {"rss_kib": rss_kib(), "tasks": task_count(), "fds": fd_count()}


@pytest.mark.timeout(SECONDS + 600)
async def test_ten_minutes_of_renewals_and_faults_stay_flat(tmp_path: Path) -> None:
    process, url = start_emulator()
    samples: list[tuple[float, dict[str, int]]] = []
    errors: dict[str, int] = {}
    done = 0
    try:
        async with BBREClient(
            api_key=SECRET_KEY,
            base_url=url,
            retry=RetryPolicy(max_retries=3, initial_delay=0.02, max_delay=0.3),
        ) as client:
            async with SessionPool(
                client,
                max_size=10,
                ledger_path=tmp_path / "ledger.db",
                acquire_timeout=30,
                create_backoff=0.05,
                create_backoff_max=0.5,
                reconcile_interval=None,
            ) as pool:
                started = time.monotonic()
                warm_until = started + min(60.0, SECONDS / 10)
                while True:
                    tickets = iter(range(ROUND))

                    async def worker(n: int, tickets: Any = tickets) -> None:
                        nonlocal done
                        for ticket in tickets:
                            try:
                                async with pool.acquire() as lease:
                                    await lease.get(f"https://target.test/{n}/{ticket}")
                                done += 1
                            except BBREError as error:
                                name = type(error).__name__
                                errors[name] = errors.get(name, 0) + 1

                    await asyncio.gather(*(worker(n) for n in range(WORKERS)))
                    now = time.monotonic()
                    if now >= warm_until:
                        samples.append((now - started, figures()))
                    if now - started >= SECONDS:
                        break
                stats = pool.stats()
        state = account_state(url)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    # Quiet points still catch a heartbeat or a ledger write in flight now and then: compare
    # the medians of the first and the last fifth of the samples.
    k = max(1, len(samples) // 5)

    def median_of(part: list[tuple[float, dict[str, int]]]) -> dict[str, int]:
        return {
            name: int(statistics.median(sample[name] for _, sample in part)) for name in part[0][1]
        }

    first, last = median_of(samples[:k]), median_of(samples[-k:])
    print(f"\nlong run: {SECONDS:.0f}s, {done} requests, errors {errors}, stats {stats}")
    print(f"  sessions created {state['sessions_created']}, peak {state['peak_active_sessions']}")
    print(f"  {len(samples)} quiet points from {samples[0][0]:.0f}s to {samples[-1][0]:.0f}s")
    print(f"  first fifth (median): {first}")
    print(f"  last fifth (median):  {last}")
    assert len(samples) >= 2, "the run was too short to compare two quiet points"
    assert stats.renewed >= 10, "no renewals: the run did not exercise session turnover"
    assert state["peak_active_sessions"] <= 10
    assert state["requests_on_expired"] == 0
    assert state["concurrent_request_violations"] == 0
    assert sum(errors.values()) <= 0.05 * (done + sum(errors.values()))
    for name in ("rss_kib", "tasks", "fds"):
        grown = (last[name] - first[name]) / max(first[name], 1)
        assert grown < 0.05, f"{name} grew {grown:.1%}: {first[name]} -> {last[name]}"
