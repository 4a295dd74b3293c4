"""A small load generator for ``/session/request``, to check the emulator's throughput.

Run the emulator in one process and this in another, so they do not share a core:

    python -m bbre_async.emulator --port 8787 --balance 1e9 &
    python -m bbre_async.emulator._loadcheck http://127.0.0.1:8787 --concurrency 50

Each worker keeps one request in flight on its own session slot (workers share the account's
sessions round-robin), so the number measured is the server's, not the client's, as long as
the client process has a core to itself.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp
import attrs
import orjson


@attrs.frozen(kw_only=True)
class LoadResult:
    """Outcome of one run: completed requests, errors, wall time, and latency percentiles."""

    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


async def measure(
    base_url: str,
    api_key: str = "test-key",
    *,
    concurrency: int = 50,
    duration: float = 5.0,
    sessions: int = 10,
    url: str = "https://example.com/",
) -> LoadResult:
    """Hammer ``/session/request`` for ``duration`` seconds with ``concurrency`` workers."""
    headers = {"x-api-key": api_key, "content-type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url, connector=connector, headers=headers) as http:
        ids = []
        for _ in range(sessions):
            async with http.post("/session/create", data=b'{"timeout": 300}') as response:
                ids.append(orjson.loads(await response.read())["session"]["id"])
        bodies = [orjson.dumps({"sessionId": sid, "url": url}) for sid in ids]
        latencies: list[float] = []
        errors = 0
        stop_at = time.perf_counter() + duration

        async def worker(index: int) -> None:
            nonlocal errors
            body = bodies[index % len(bodies)]
            while True:
                started = time.perf_counter()
                if started >= stop_at:
                    return
                async with http.post("/session/request", data=body) as response:
                    await response.read()
                    if response.status == 200:
                        latencies.append(time.perf_counter() - started)
                    else:
                        errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - began
        for sid in ids:
            async with http.post("/session/close", data=orjson.dumps({"sessionId": sid})) as r:
                await r.read()
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return 1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))]

    return LoadResult(
        requests=len(latencies), errors=errors, seconds=elapsed, p50_ms=pct(0.5), p99_ms=pct(0.99)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    result = asyncio.run(
        measure(args.base_url, args.api_key, concurrency=args.concurrency, duration=args.duration)
    )
    print(
        f"{result.rate:.0f} req/s ({result.requests} ok, {result.errors} errors in "
        f"{result.seconds:.2f}s; p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms)"
    )


if __name__ == "__main__":
    main()
