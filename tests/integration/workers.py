"""Worker processes for the process-level tests: ``python -m tests.integration.workers MODE URL``.

``hold``: open a pool, lease N sessions, print "ready", and wait to be signalled.
``hold-kill``: the same, for a test that SIGKILLs the process (no cleanup at all).
``share``: workers on a pool sharing the cap through Redis; a status file per process holds
its session ids, its count of successful requests and the session time it held, refreshed
every 50 ms.
``readme``: the README's "Use it" example as written (default settings), over many URLs.
``loop``: N workers written the ordinary way (``while True: try: acquire ... except BBREError``).
Both print "ready" once sessions are active, and leave handling SIGTERM to the pool.
``abrupt``: a program that ends the moment the pool's close returns, with the error the closed
pool gave it (nothing else awaited after the close).
``two-pools``: two pools on one key, 5 sessions each; with ``app``, the program has its own
SIGTERM handler (``loop.add_signal_handler``), which ends it.
``ignores-sigint``: a program that ignores SIGINT (a background job); SIGTERM ends it.
Warnings reach stderr, as in any deployed worker: tests read them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from typing import Any

from bbre_async import BBREClient, BBREError, CoordinationError, PoolTimeoutError
from bbre_async.pool import PooledSession, SessionPool


async def lease_one(pool: SessionPool) -> PooledSession:
    """Lease a session as a patient user does: a failed create (a lost answer) is retried."""
    for _ in range(9):
        try:
            return await pool.acquire(timeout=20)
        except BBREError:
            await asyncio.sleep(0.1)
    return await pool.acquire(timeout=20)


async def hold(url: str, count: int, ledger_path: str | None, handle_signals: bool) -> None:
    async with BBREClient(api_key="test-key", base_url=url) as client:
        pool = SessionPool(
            client,
            max_size=10,
            ledger_path=ledger_path,
            handle_signals=handle_signals,
            shutdown_timeout=1.0,
            idle_timeout=None,
            heartbeat_interval=float(os.environ.get("BBRE_TEST_HEARTBEAT", "5")),
        )
        async with pool:
            leases = [await lease_one(pool) for _ in range(count)]
            for lease in leases:
                await lease.get("https://target.test/hold")
            print("ready", flush=True)
            await asyncio.Event().wait()


def public_kind(error: Exception) -> str:
    """The public class a caller would catch (a subclass counts as its parent)."""
    for kind in (PoolTimeoutError, CoordinationError, BBREError):
        if isinstance(error, kind):
            return kind.__name__
    return type(error).__name__


async def share(url: str, redis_url: str, workers: int, stop_file: str) -> None:
    """Run workers on a pool that shares the account cap through Redis until ``stop_file``
    exists; print counts of successes and failures by type as JSON at the end."""
    from bbre_async.coordination import RedisCoordinator

    counts: dict[str, int] = {"ok": 0}
    async with BBREClient(api_key="test-key", base_url=url) as client:
        lease_ttl = float(os.environ.get("BBRE_TEST_LEASE_TTL", "3"))
        coordinator = RedisCoordinator.for_client(
            redis_url, client, lease_ttl=lease_ttl, op_timeout=2.0, rotation_interval=2.0
        )
        pool = SessionPool(
            client,
            max_size=10,
            coordinator=coordinator,
            acquire_timeout=30,
            idle_timeout=0.5,
            heartbeat_interval=0.3,
            orphan_stale_after=2.0,
            reconcile_interval=0.5,
            create_backoff=0.05,
            create_backoff_max=0.5,
            capacity_probe_backoff=0.2,
        )
        async with pool:
            print("ready", flush=True)
            stop = asyncio.Event()

            status_file = f"{stop_file}.{os.getpid()}.json"

            async def watch() -> None:
                # slot_seconds: the session time this process held (sessions x seconds), on its
                # own clock, so a process the machine starves of CPU still reports it right.
                slot_seconds = 0.0
                last = time.monotonic()
                while not os.path.exists(stop_file):
                    now = time.monotonic()
                    sessions = pool.session_ids()
                    slot_seconds += len(sessions) * (now - last)
                    last = now
                    status = {
                        "sessions": sessions,
                        "ok": counts["ok"],
                        "slot_seconds": slot_seconds,
                    }
                    with open(status_file + ".tmp", "w") as out:
                        json.dump(status, out)
                    os.replace(status_file + ".tmp", status_file)
                    await asyncio.sleep(0.05)
                stop.set()

            async def work(n: int) -> None:
                while not stop.is_set():
                    try:
                        async with pool.acquire(timeout=5) as lease:
                            await lease.get(f"https://target.test/{n}")
                        counts["ok"] += 1
                    except Exception as error:
                        name = public_kind(error)
                        counts[name] = counts.get(name, 0) + 1
                        await asyncio.sleep(0.05)

            await asyncio.gather(watch(), *(work(n) for n in range(workers)))
    print(json.dumps(counts), flush=True)


async def readme(url: str, count: int, ledger_path: str | None) -> None:
    seen: set[str] = set()

    async def fetch(session: PooledSession, target: str) -> object:
        seen.add(session.id)
        if len(seen) == count:
            print("ready", flush=True)  # ``count`` sessions are active on the server
        await asyncio.sleep(0.05)
        return await session.get(target)

    urls = (f"https://target.test/{n}" for n in range(100_000))
    async with BBREClient(api_key="test-key", base_url=url) as client:
        async with SessionPool(
            client, max_size=10, mode="passive", ledger_path=ledger_path
        ) as pool:
            async for outcome in pool.map(fetch, urls):
                if not outcome.ok:
                    print(outcome.item, "failed:", outcome.error, file=sys.stderr)


async def loop(url: str, workers: int, ledger_path: str | None) -> None:
    from bbre_async import BBREError

    async with BBREClient(api_key="test-key", base_url=url) as client:
        pool = SessionPool(client, max_size=10, ledger_path=ledger_path, shutdown_timeout=2.0)
        async with pool:
            started = asyncio.Event()

            async def work(n: int) -> None:
                seen: set[str] = set()
                while True:
                    try:
                        async with pool.acquire(timeout=30) as session:
                            started.set()
                            await session.get(f"https://target.test/{n}")
                    except BBREError as error:
                        # Once per kind: a line per spin would fill the unread stderr pipe and
                        # block the process on a write, which is not what this test is about.
                        if type(error).__name__ not in seen:
                            seen.add(type(error).__name__)
                            print(f"worker {n}: {type(error).__name__}", file=sys.stderr)

            tasks = [asyncio.ensure_future(work(n)) for n in range(workers)]
            await started.wait()
            # Created sessions only: ``size`` also counts creates still on their way.
            while (stats := pool.stats()).idle + stats.leased < 10:
                await asyncio.sleep(0.01)
            print("ready", flush=True)  # 10 sessions are active on the server
            await asyncio.gather(*tasks)


async def abrupt(url: str) -> None:
    client = BBREClient(api_key="test-key", base_url=url)
    async with SessionPool(client, max_size=2, ledger_path=None, shutdown_timeout=1.0) as pool:
        print("ready", flush=True)
        while True:  # the first acquire after the signal raises PoolClosedError
            async with pool.acquire() as session:
                await session.get("https://target.test/abrupt")


async def two_pools(url: str, app_handler: bool) -> None:
    stop = asyncio.Event()
    if app_handler:

        def on_sigterm() -> None:
            print("the application's handler ran", flush=True)
            stop.set()

        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, on_sigterm)
    async with BBREClient(api_key="test-key", base_url=url) as client:
        settings: dict[str, Any] = {"max_size": 5, "ledger_path": None, "shutdown_timeout": 1.0}
        async with (
            SessionPool(client, **settings) as first,
            SessionPool(client, **settings) as second,
        ):
            leases = [await lease_one(pool) for pool in (first, second) for _ in range(5)]
            for lease in leases:
                await lease.get("https://target.test/two-pools")
            print("ready", flush=True)
            await stop.wait()


async def ignores_sigint(url: str) -> None:
    """A program that ignores SIGINT, as a background job does; SIGTERM ends it."""
    async with BBREClient(api_key="test-key", base_url=url) as client:
        async with SessionPool(client, max_size=1, ledger_path=None, shutdown_timeout=1.0) as pool:
            lease = await lease_one(pool)
            await lease.get("https://target.test/ignored")
            print("ready", flush=True)
            await asyncio.Event().wait()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    if sys.argv[1] == "ignores-sigint":
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        asyncio.run(ignores_sigint(sys.argv[2]))
        return
    if sys.argv[1] == "abrupt":
        asyncio.run(abrupt(sys.argv[2]))
        return
    if sys.argv[1] in ("two-pools", "two-pools-app"):
        asyncio.run(two_pools(sys.argv[2], app_handler=sys.argv[1] == "two-pools-app"))
        return
    if sys.argv[1] in ("readme", "loop"):
        ledger = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] != "-" else None
        run = readme if sys.argv[1] == "readme" else loop
        asyncio.run(run(sys.argv[2], int(sys.argv[3]), ledger))
        return
    if sys.argv[1] == "share":
        asyncio.run(share(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]))
        return
    mode, url, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ledger = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] != "-" else None
    asyncio.run(hold(url, count, ledger, handle_signals=(mode == "hold")))


if __name__ == "__main__":
    main()
