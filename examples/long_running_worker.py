"""A worker that processes a job queue forever and shuts down cleanly on SIGTERM or SIGINT.

    .venv/bin/python examples/long_running_worker.py [--duration SECONDS] [--health-interval 60]

Sessions live at most 300 s, so a worker that runs for days depends on the pool renewing them
in the background. A health line with the pool's stats is logged every --health-interval
seconds. On SIGTERM (a deploy) or Ctrl-C the pool stops leasing, lets running jobs finish,
and closes every remote session before the process exits.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import signal
import time

from _support import api_target, count_active

from bbre_async import BBREClient, BBREError, PoolClosedError, SessionPool

log = logging.getLogger("worker")


async def produce(queue: asyncio.Queue[str], rate: float) -> None:
    """Stands in for a real job source (a message broker, a database table...)."""
    for n in itertools.count():
        await queue.put(f"https://example.com/items/{n}")  # blocks while the workers lag
        await asyncio.sleep(1 / rate)


async def consume(queue: asyncio.Queue[str], pool: SessionPool, done: dict[str, int]) -> None:
    while True:
        url = await queue.get()
        try:
            async with pool.acquire() as session:
                await session.get(url)
            done["ok"] += 1
        except PoolClosedError:
            return  # shutting down: leave the rest of the queue to the next start
        except BBREError as error:
            done["failed"] += 1
            log.warning("job %s failed: %s", url, error)


async def report_health(pool: SessionPool, done: dict[str, int], interval: float) -> None:
    started = time.monotonic()
    while True:
        await asyncio.sleep(interval)
        s = pool.stats()
        log.info(
            "health: up %.0fs, jobs ok %d failed %d | sessions %d/%d (idle %d, leased %d), "
            "waiters %d, created %d, renewed %d, closed %d, acquire wait p99 %.3fs",
            time.monotonic() - started, done["ok"], done["failed"], s.size, s.max_size,
            s.idle, s.leased, s.waiters, s.created, s.renewed, s.closed, s.acquire_wait_p99,
        )  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # The pool's own handlers (handle_signals=True) close every session first, then hand the
    # signal on to the handler that was installed before them: this one, which turns it into
    # a normal return from main() instead of death by signal.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: loop.call_soon_threadsafe(stop.set))

    # Emulated sessions live 300 s / 30 = 10 s: several renewals a minute.
    async with api_target(time_scale=30, latency=0.02) as target:
        async with BBREClient(api_key=target.api_key, base_url=target.base_url) as client:
            pool = SessionPool(client, max_size=args.sessions, handle_signals=True)
            async with pool:
                queue: asyncio.Queue[str] = asyncio.Queue(maxsize=100)
                done = {"ok": 0, "failed": 0}
                tasks = [
                    asyncio.create_task(produce(queue, args.rate)),
                    asyncio.create_task(report_health(pool, done, args.health_interval)),
                    *(
                        asyncio.create_task(consume(queue, pool, done))
                        for _ in range(args.concurrency)
                    ),
                ]
                log.info(
                    "worker started: %d consumers, %d sessions", args.concurrency, args.sessions
                )
                try:
                    await asyncio.wait_for(stop.wait(), timeout=args.duration)
                except TimeoutError:
                    log.info("--duration reached")
                for task in tasks:
                    task.cancel()  # mid-request is safe: the pool retires that session
                await asyncio.gather(*tasks, return_exceptions=True)
            summary = await pool.aclose()  # already closed: returns what the close did
            log.info(
                "stopped: jobs ok %d failed %d; sessions closed %d (already gone %d, failed %d) "
                "in %.2fs; %d left active",
                done["ok"], done["failed"], summary.closed, summary.already_gone,
                len(summary.failed), summary.seconds, await count_active(client),
            )  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=None, help="stop after SECONDS")
    parser.add_argument("--health-interval", type=float, default=60.0, help="seconds")
    parser.add_argument("--concurrency", type=int, default=20, help="jobs in parallel")
    parser.add_argument("--sessions", type=int, default=10, help="pool size (at most 10)")
    parser.add_argument("--rate", type=float, default=50.0, help="jobs per second")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(main(parser.parse_args()))
