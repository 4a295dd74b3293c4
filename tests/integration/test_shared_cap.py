"""Several worker processes on one API key, sharing the cap through a real Redis."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bbre_async.emulator import AccountState, Emulator
from bbre_async.testing import RedisServer
from tests.waiting import eventually as wait_for

from .conftest import start_worker

REDIS_OUTAGE = 1.0  # seconds Redis stays down

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(shutil.which("redis-server") or "", tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def start_sharing(
    emulator: Emulator, redis: RedisServer, count: int, stop_file: Path
) -> list[asyncio.subprocess.Process]:
    """``count`` worker processes with 15 tasks each, sharing the cap through ``redis``."""
    emulator.set_latency(endpoints={"session/request": 0.005})
    return [
        await start_worker("share", emulator.base_url, redis.url, "15", str(stop_file))
        for _ in range(count)
    ]


async def _stop_all(
    workers: list[asyncio.subprocess.Process], stop_file: Path
) -> list[dict[str, int]]:
    stop_file.touch()
    results = []
    for process in workers:
        out, err = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, err.decode()[-2000:]
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results


async def test_workers_share_the_cap_and_survive_a_killed_peer(
    emulator: Emulator, redis: RedisServer, tmp_path: Path
) -> None:
    stop_file = tmp_path / "stop"
    workers = await start_sharing(emulator, redis, 4, stop_file)

    def state() -> AccountState:
        return emulator.state.account()

    await wait_for(lambda: state().requests_total > 300, timeout=30)
    assert state().peak_active_sessions <= 10
    assert state().cap_rejections == 0

    def held(process: asyncio.subprocess.Process) -> list[str]:
        try:
            return list(json.loads(Path(f"{stop_file}.{process.pid}.json").read_text()))
        except (OSError, ValueError):
            return []

    victim = max(workers, key=lambda p: len(held(p)))
    orphans = set(held(victim))
    assert orphans  # the victim holds sessions when it dies
    workers.remove(victim)
    victim.kill()
    await victim.wait()
    loop = asyncio.get_running_loop()
    killed_at = loop.time()

    def recovered() -> bool:
        survivors = {sid for p in workers for sid in held(p)}
        active = set(state().active_session_ids)
        return len(survivors) == 10 and survivors == active and not orphans & active

    # The survivors reap the victim's sessions and take all ten slots again.
    await wait_for(recovered, timeout=20)
    assert loop.time() - killed_at < 20
    results = await _stop_all(workers, stop_file)
    assert state().peak_active_sessions <= 10
    assert all(r["ok"] > 0 for r in results)
    assert state().active_sessions == 0


async def test_a_redis_restart_never_breaks_the_cap(
    emulator: Emulator, redis: RedisServer, tmp_path: Path
) -> None:
    stop_file = tmp_path / "stop"
    workers = await start_sharing(emulator, redis, 3, stop_file)

    def state() -> AccountState:
        return emulator.state.account()

    await wait_for(lambda: state().requests_total > 200, timeout=30)
    redis.stop()
    await asyncio.sleep(REDIS_OUTAGE)  # the fault itself: creates fail closed meanwhile
    redis.start()
    before = state().requests_total
    await wait_for(lambda: state().requests_total > before + 300, timeout=30)  # work resumes
    results = await _stop_all(workers, stop_file)
    assert state().peak_active_sessions <= 10
    assert state().active_sessions == 0
    failures = {k: v for r in results for k, v in r.items() if k != "ok"}
    assert set(failures) <= {"CoordinationError", "PoolTimeoutError"}, failures
