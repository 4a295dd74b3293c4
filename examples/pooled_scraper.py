"""Fetch 200 URLs with 30 concurrent tasks that share one pool of at most 10 sessions.

    .venv/bin/python examples/pooled_scraper.py [--urls 200] [--concurrency 30]

The account holds at most 10 active sessions; the pool hands them out first come, first
served, renews each one before its server-given expiry, and closes them all at the end.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import Iterator

from _support import api_target, count_active

from bbre_async import BBREClient, BBREError, SessionPool


async def worker(
    pool: SessionPool, urls: Iterator[str], results: dict[str, int], failures: Counter[str]
) -> None:
    # All workers pull from one iterator, so each URL is fetched exactly once.
    for url in urls:
        try:
            # Hold the lease for one request only: the session goes straight back to the
            # pool for the next waiting task.
            async with pool.acquire(timeout=60) as session:
                response = await session.get(url)
            results[url] = response.status_code
        except BBREError as error:  # PoolTimeoutError included: one URL fails, not the run
            failures[type(error).__name__] += 1


async def main(args: argparse.Namespace) -> None:
    urls = iter(args.url_template.format(n=n) for n in range(args.urls))
    # Emulated sessions live 300 s / 60 = 5 s: a longer crawl (--urls 2000) shows renewals.
    async with api_target(time_scale=60, latency=0.02) as target:
        async with BBREClient(api_key=target.api_key, base_url=target.base_url) as client:
            async with SessionPool(client, max_size=args.sessions) as pool:
                results: dict[str, int] = {}
                failures: Counter[str] = Counter()
                async with asyncio.TaskGroup() as tg:
                    for _ in range(args.concurrency):
                        tg.create_task(worker(pool, urls, results, failures))
                stats = pool.stats()
            statuses = dict(Counter(results.values()))
            print(f"fetched {len(results)}/{args.urls} URLs, statuses {statuses}")
            print(f"failures: {dict(failures) or 'none'}")
            print(f"pool stats: {stats}")
            print(f"after close: {await count_active(client)} left active")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=200, help="how many URLs to fetch")
    parser.add_argument("--concurrency", type=int, default=30, help="concurrent tasks")
    parser.add_argument("--sessions", type=int, default=10, help="pool size (at most 10)")
    parser.add_argument("--url-template", default="https://example.com/?page={n}")
    asyncio.run(main(parser.parse_args()))
