"""Child processes for the scenarios that need one: ``python -m benchmarks._workers MODE ...``.

- ``hold-pool URL SHUTDOWN_TIMEOUT LEDGER``: a pool with signal handling leases all 10
  sessions, prints ``ready``, and holds them until SIGTERM.
- ``hold-docs URL``: the vendor docs' way: 10 sessions created with raw POSTs, and on SIGTERM
  a loop that closes them one after the other, awaiting each.
- ``share URL REDIS NAMESPACE WORKERS``: a pool on a shared Redis cap; prints ``ready``, reads
  ``START STOP`` (wall-clock seconds) on stdin, runs workers until STOP and prints a JSON line
  with the requests completed inside [START, STOP], failures, and the pool's counters.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path

from bbre_async import BBREClient
from bbre_async.pool import SessionPool
from benchmarks import _raw
from benchmarks._allocator import settle_allocator
from benchmarks._emulator_proc import API_KEY

SESSIONS = 10


async def hold_pool(url: str, shutdown_timeout: float, ledger: str) -> None:
    async with BBREClient(api_key=API_KEY, base_url=url) as client:
        pool = SessionPool(
            client,
            max_size=SESSIONS,
            ledger_path=Path(ledger),
            handle_signals=True,
            shutdown_timeout=shutdown_timeout,
            idle_timeout=None,
        )
        async with pool:
            leases = [await pool.acquire() for _ in range(SESSIONS)]
            for lease in leases:
                await lease.get(_raw.TARGET_URL)
            print("ready", flush=True)
            await asyncio.Event().wait()


async def hold_docs(url: str) -> None:
    async with _raw.raw_http(url) as http:
        ids = [await _raw.create_session(http) for _ in range(SESSIONS)]
        for session_id in ids:
            await _raw.call(http, "/session/request", _raw.request_body(session_id))
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", flush=True)
        await stop.wait()
        for session_id in ids:  # the docs' shutdown handler: one close after the other
            await _raw.close_session(http, session_id)


async def share(url: str, redis_url: str, namespace: str, workers: int) -> None:
    from bbre_async.coordination._redis_coordinator import RedisCoordinator

    coordinator = RedisCoordinator.from_url(redis_url, namespace=namespace, capacity=SESSIONS)
    done = failed = 0
    async with BBREClient(api_key=API_KEY, base_url=url) as client:
        pool = SessionPool(
            client,
            max_size=SESSIONS,
            coordinator=coordinator,
            acquire_timeout=120.0,
            idle_timeout=None,
        )
        async with pool:
            print("ready", flush=True)
            line = await asyncio.to_thread(sys.stdin.readline)
            start, stop = (float(x) for x in line.split())

            async def worker() -> None:
                nonlocal done, failed
                while time.time() < stop:
                    try:
                        async with pool.acquire() as session:
                            await session.get(_raw.TARGET_URL)
                    except Exception:
                        failed += 1
                    else:
                        if start <= time.time() <= stop:
                            done += 1

            await asyncio.gather(*(worker() for _ in range(workers)))
            stats = pool.stats()
    print(
        json.dumps(
            {
                "done": done,
                "failed": failed,
                "seconds": stop - start,
                "created": stats.created,
                "renewed": stats.renewed,
                "failed_requests": stats.failed_requests,
                "failed_creates": stats.failed_creates,
            }
        ),
        flush=True,
    )


def main() -> None:
    mode, url, *rest = sys.argv[1:]
    settle_allocator()
    if mode == "hold-pool":
        asyncio.run(hold_pool(url, float(rest[0]), rest[1]))
    elif mode == "hold-docs":
        asyncio.run(hold_docs(url))
    elif mode == "share":
        asyncio.run(share(url, rest[0], rest[1], int(rest[2])))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
