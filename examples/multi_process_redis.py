"""Several worker processes on one API key, sharing the account's 10-session cap through Redis.

    python examples/multi_process_redis.py [--workers 3] [--jobs 200]

The cap is per account, not per process: three pools of 10 would ask for 30 sessions. With a
`RedisCoordinator` every pool takes a slot in Redis before it creates a session, so all of
them together stay at or under 10. Busy processes get even shares (a pool that holds more
slots than a waiting neighbour hands one back when a lease ends), and a crashed host's slots
come back once a survivor has closed the sessions it left behind.

Redis comes from REDIS_URL, or a `redis-server` on PATH is started on a free port for the run.
Against its own emulator (run here, in the parent, so every worker shares it) the script reads
the emulator's counters at the end to confirm the peak of active sessions stayed <= 10.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import multiprocessing
import os
import shutil
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

import aiohttp
from _support import api_target

from bbre_async import BBREClient, BBREError, SessionPool
from bbre_async.testing import RedisServer

ACCOUNT_CAP = 10


async def worker(base_url: str, api_key: str, redis_url: str, args: argparse.Namespace) -> str:
    from bbre_async.coordination import RedisCoordinator  # needs the [redis] extra

    async with BBREClient(api_key=api_key, base_url=base_url) as client:
        # Namespaced by the key's fingerprint and the base URL: every process on the same
        # account shares one cap and one crash ledger, whatever host it runs on.
        coordinator = RedisCoordinator.for_client(redis_url, client)
        # A session left idle still holds one of the account's slots that another process
        # may be waiting for, so give idle ones back quickly.
        pool = SessionPool(client, max_size=ACCOUNT_CAP, coordinator=coordinator, idle_timeout=1)
        ok = failed = 0
        async with pool:

            async def run_jobs(urls: Iterator[str]) -> None:
                nonlocal ok, failed
                for url in urls:
                    try:
                        async with pool.acquire(timeout=60) as session:
                            await session.get(url)
                        ok += 1
                    except BBREError:
                        failed += 1

            urls = iter(f"https://example.com/{os.getpid()}/{n}" for n in range(args.jobs))
            async with asyncio.TaskGroup() as tg:
                for _ in range(args.concurrency):
                    tg.create_task(run_jobs(urls))
            stats = pool.stats()
        return (
            f"pid {os.getpid()}: {ok} ok, {failed} failed, sessions created {stats.created} "
            f"(renewed {stats.renewed}), acquire wait p99 {stats.acquire_wait_p99:.2f}s"
        )


def worker_process(base_url: str, api_key: str, redis_url: str, args: argparse.Namespace) -> str:
    """The entry point of each worker process: its own event loop and its own pool."""
    return asyncio.run(worker(base_url, api_key, redis_url, args))


async def run(redis_url: str, args: argparse.Namespace) -> int:
    # Sessions live 300 s / 100 = 3 s, so slots also circulate through renewals.
    async with api_target(time_scale=100, latency=0.02) as target:
        loop = asyncio.get_running_loop()
        # "spawn": fresh interpreters, never a fork of a process with a running event loop.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.workers, mp_context=context) as processes:
            lines = await asyncio.gather(
                *(
                    loop.run_in_executor(
                        processes, worker_process, target.base_url, target.api_key, redis_url, args
                    )
                    for _ in range(args.workers)
                )
            )
        for n, line in enumerate(lines):
            print(f"worker {n}: {line}")
        if target.emulator is None:
            return 0
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{target.base_url}/_emulator/state") as answer:
                state = await answer.json()
        peak = max(a["peak_active_sessions"] for a in state["accounts"].values())
        verdict = "OK" if peak <= ACCOUNT_CAP else "EXCEEDED"
        print(f"peak of active sessions on the account: {peak} (cap {ACCOUNT_CAP}): {verdict}")
        return 0 if peak <= ACCOUNT_CAP else 1


@contextmanager
def local_redis(binary: str) -> Iterator[str]:
    """A throwaway redis-server on a free loopback port, without persistence."""
    with RedisServer(binary) as server:
        print(f"redis: started redis-server on port {server.port}")
        yield server.url


def main(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("redis") is None:
        print(
            "skipped: the Redis coordinator needs the redis extra: pip install 'bbre-async[redis]'"
        )
        return 0
    if url := os.environ.get("REDIS_URL"):
        print("redis: REDIS_URL")
        return asyncio.run(run(url, args))
    binary = shutil.which("redis-server")
    if binary is None:
        print("skipped: set REDIS_URL, or put redis-server on PATH, to run this example")
        return 0
    with local_redis(binary) as url:
        return asyncio.run(run(url, args))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=3, help="worker processes")
    parser.add_argument("--jobs", type=int, default=200, help="URLs per worker")
    parser.add_argument("--concurrency", type=int, default=10, help="tasks per worker")
    sys.exit(main(parser.parse_args()))
