"""What one task per call costs: the named limit of the pool's own per-request CPU.

A pooled request runs in a task of its own so that a cancelled caller does not cut it off
half-way (the session then goes back to the pool instead of being closed as "outcome
unknown"). This measures that price in the same run: CPU per ``await coro`` against CPU per
``await loop.create_task(coro)`` with the outcome carried to the caller by a future and one
callback (what the pool does), both over a coroutine that yields to the loop once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

WORKERS = 10


async def _work() -> int:
    await asyncio.sleep(0)
    return 1


async def _direct() -> int:
    return await _work()


async def _tasked() -> int:
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[int] = loop.create_future()

    def ended(task: asyncio.Task[int]) -> None:
        if not outcome.done():
            outcome.set_result(task.result())

    loop.create_task(_work()).add_done_callback(ended)
    return await outcome


async def _cpu_us(call: Callable[[], Awaitable[int]], count: int) -> float:
    async def worker() -> None:
        for _ in range(count // WORKERS):
            await call()

    began = time.process_time()
    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return 1e6 * (time.process_time() - began) / count


async def task_cost_us(count: int, rounds: int) -> tuple[float, float]:
    """CPU µs per direct call and per call through a task: the least of ``rounds``
    interleaved timings of each (the least is the one another process disturbed least)."""
    direct: list[float] = []
    tasked: list[float] = []
    for _ in range(rounds):
        direct.append(await _cpu_us(_direct, count))
        tasked.append(await _cpu_us(_tasked, count))
    return min(direct), min(tasked)
