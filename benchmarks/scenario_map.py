"""``pool.map`` against the worker queue users write by hand, over the same pool.

Both arms fetch the same number of URLs through one warm pool of 10 sessions, one after the
other in alternating order (map, queue, queue, map, ...), and each round's pair gives a
ratio: pool.map's throughput over the queue's. The hand-written arm is what the README
showed before ``pool.map`` existed, made correct: 10 workers pull URLs from an
``asyncio.Queue``, each ``async with pool.acquire() as s: await s.get(url)``, and results
and errors are collected instead of aborting the run. Same concurrency on both sides (the
pool's capacity).

Two server profiles: "50 ms" (each target fetch takes 50 ms on the server, as a fast real
page does: the 200/s the sessions allow bounds both arms, and the ratio says whether the
engine keeps every session as busy as the hand-written queue does) and "0 ms" (the server
answers at once: client CPU bounds both arms, so the engine's own overhead shows;
informational, with CPU per item, and noisy on a shared machine).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import attrs

from bbre_async import PooledSession, Response, SessionPool
from benchmarks._emulator_proc import EmulatorProcess, pinned_to_other_cores
from benchmarks._load import bench_pool
from benchmarks._raw import TARGET_URL
from benchmarks._runner import Result, Target, median, paired_ratio, result, rounded

NAME = "map"
SESSIONS = 10
PROFILES = {"50 ms": 0.05, "0 ms": 0.0}


@attrs.frozen
class Run:
    items: int
    failed: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0

    @property
    def cpu_us_per_item(self) -> float:
        return 1e6 * self.cpu_seconds / self.items if self.items else float("nan")


async def fetch(session: PooledSession, url: str) -> Response:
    return await session.get(url)


async def map_arm(pool: SessionPool, urls: list[str]) -> int:
    failed = 0
    async for outcome in pool.map(fetch, urls):
        failed += outcome.error is not None
    return failed


async def queue_arm(pool: SessionPool, urls: list[str]) -> int:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in urls:
        queue.put_nowait(url)
    results: list[Response] = []
    errors: list[Exception] = []

    async def worker() -> None:
        while True:
            try:
                url = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                async with pool.acquire() as session:
                    results.append(await session.get(url))
            except Exception as error:
                errors.append(error)

    async with asyncio.TaskGroup() as tg:
        for _ in range(SESSIONS):
            tg.create_task(worker())
    return len(errors)


Arm = Callable[[SessionPool, list[str]], Awaitable[int]]


async def timed(arm: Arm, pool: SessionPool, urls: list[str]) -> Run:
    cpu, wall = time.process_time(), time.perf_counter()
    failed = await arm(pool, urls)
    return Run(
        items=len(urls),
        failed=failed,
        seconds=time.perf_counter() - wall,
        cpu_seconds=time.process_time() - cpu,
    )


async def measure(base_url: str, items: int, reps: int) -> dict[str, list[Run]]:
    urls = [f"{TARGET_URL}?page={n}" for n in range(items)]
    runs: dict[str, list[Run]] = {"map": [], "queue": []}
    arms: dict[str, Arm] = {"map": map_arm, "queue": queue_arm}
    async with bench_pool(base_url, max_size=SESSIONS, idle_timeout=None) as pool:
        await timed(queue_arm, pool, urls[: SESSIONS * 10])  # warm: all 10 sessions exist
        await timed(map_arm, pool, urls[: SESSIONS * 10])
        for rep in range(reps):
            order = ("map", "queue") if rep % 2 == 0 else ("queue", "map")
            for name in order:
                runs[name].append(await timed(arms[name], pool, urls))
    return runs


def run(quick: bool) -> list[Result]:
    items, reps = (100, 2) if quick else (1000, 6)
    out: list[Result] = []
    with EmulatorProcess(cpu=0) as emu, pinned_to_other_cores(0):
        for profile, latency in PROFILES.items():
            emu.reset()
            emu.set_latency({"session/request": latency})
            runs = asyncio.run(measure(emu.base_url, items, reps))
            mapped, queued = runs["map"], runs["queue"]
            failed = sum(r.failed for r in mapped + queued)
            server_bound = latency > 0
            out.append(
                result(
                    NAME,
                    f"items/s, pool.map ÷ hand-written worker queue, server {profile}",
                    median([r.rate for r in mapped]),
                    median([r.rate for r in queued]),
                    ratio=paired_ratio([r.rate for r in mapped], [r.rate for r in queued]),
                    target=Target(op=">=", bound=0.98) if server_bound else None,
                    require=failed == 0,
                    notes=(
                        f"{items} URLs a round, {reps} rounds, 10 sessions, 10 jobs in flight"
                        if server_bound
                        else "informational: client-CPU bound, the engine's overhead shows"
                    ),
                    details={
                        "map_rates": [rounded(r.rate) for r in mapped],
                        "queue_rates": [rounded(r.rate) for r in queued],
                        "map_cpu_us_per_item": rounded(median([r.cpu_us_per_item for r in mapped])),
                        "queue_cpu_us_per_item": rounded(
                            median([r.cpu_us_per_item for r in queued])
                        ),
                        "failed": failed,
                    },
                )
            )
    return out
