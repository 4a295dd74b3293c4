"""Worker processes for the process-level tests: ``python -m tests.integration.workers MODE URL``.

``hold``: open a pool, lease N sessions, print "ready", and wait to be signalled.
``hold-kill``: the same, for a test that SIGKILLs the process (no cleanup at all).
``readme``: the README's "Use it" example as written (default settings), over many URLs.
``loop``: N workers written the ordinary way (``while True: try: acquire ... except BBREError``).
Both print "ready" once sessions are active, and leave handling SIGTERM to the pool.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from bbre_async import BBREClient
from bbre_async.pool import SessionPool


async def hold(url: str, count: int, ledger_path: str | None, handle_signals: bool) -> None:
    async with BBREClient(api_key="test-key", base_url=url) as client:
        pool = SessionPool(
            client,
            max_size=10,
            ledger_path=ledger_path,
            handle_signals=handle_signals,
            shutdown_timeout=1.0,
            idle_timeout=None,
        )
        async with pool:
            leases = [await pool.acquire(timeout=20) for _ in range(count)]
            for lease in leases:
                await lease.get("https://target.test/hold")
            print("ready", flush=True)
            await asyncio.Event().wait()


async def share(url: str, redis_url: str, workers: int, stop_file: str) -> None:
    """Run workers on a pool that shares the account cap through Redis until ``stop_file``
    exists; print counts of successes and failures by type as JSON at the end."""
    from bbre_async.coordination import RedisCoordinator

    counts: dict[str, int] = {"ok": 0}
    async with BBREClient(api_key="test-key", base_url=url) as client:
        coordinator = RedisCoordinator.for_client(redis_url, client, lease_ttl=3.0, op_timeout=0.5)
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
                while not os.path.exists(stop_file):
                    with open(status_file + ".tmp", "w") as out:
                        json.dump(pool.session_ids(), out)
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
                        name = type(error).__name__
                        counts[name] = counts.get(name, 0) + 1
                        await asyncio.sleep(0.05)

            await asyncio.gather(watch(), *(work(n) for n in range(workers)))
    print(json.dumps(counts), flush=True)


async def readme(url: str, count: int, ledger_path: str | None) -> None:
    from bbre_async import BBREError

    async with BBREClient(api_key="test-key", base_url=url) as client:
        async with SessionPool(
            client, max_size=10, mode="passive", ledger_path=ledger_path
        ) as pool:

            async def fetch(n: int) -> object:
                async with pool.acquire(timeout=30) as session:
                    if n == count - 1:
                        print("ready", flush=True)
                    await asyncio.sleep(0.05)
                    return await session.get(f"https://target.test/{n}")

            try:
                await asyncio.gather(*(fetch(n) for n in range(100_000)))
            except BBREError:
                pass


async def loop(url: str, workers: int, ledger_path: str | None) -> None:
    from bbre_async import BBREError

    async with BBREClient(api_key="test-key", base_url=url) as client:
        pool = SessionPool(client, max_size=10, ledger_path=ledger_path, shutdown_timeout=2.0)
        async with pool:
            started = asyncio.Event()

            async def work(n: int) -> None:
                while True:
                    try:
                        async with pool.acquire(timeout=30) as session:
                            started.set()
                            await session.get(f"https://target.test/{n}")
                    except BBREError as error:
                        print(f"worker {n}: {type(error).__name__}", file=sys.stderr)

            tasks = [asyncio.ensure_future(work(n)) for n in range(workers)]
            await started.wait()
            while pool.stats().size < 10:
                await asyncio.sleep(0.01)
            print("ready", flush=True)
            await asyncio.gather(*tasks)


def main() -> None:
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
