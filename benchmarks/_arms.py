"""The client arms the overhead rows compare, each a closed loop of 10 requests in flight.

- ``naive``: what a user writes from the vendor docs: one aiohttp ``ClientSession``,
  ``json=`` bodies built per call, ``await resp.json()``, a check of ``success``.
- ``tuned``: raw aiohttp doing the least a correct program must: each body serialized once
  with orjson, the answer parsed with orjson, ``success`` checked.
- ``sdk``: ``BBREClient`` sessions without the pool (splits the overhead into client and pool).
- ``pool``: the SDK user's loop, ``async with pool.acquire() as s: await s.get(url)``.

Every arm creates its 10 sessions before the clock starts and closes them after; only requests
completed after an in-run warm-up count, and the CPU time is this process's over that window.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from bbre_async import BBREClient
from benchmarks import _raw
from benchmarks._emulator_proc import API_KEY
from benchmarks._load import Load, bench_pool, closed_loop, pool_get

SESSIONS = 10
T = TypeVar("T")
Arm = Callable[[str, float, float], Coroutine[Any, Any, Load]]
LoopFactory = Callable[[], asyncio.AbstractEventLoop]


async def naive(base_url: str, duration: float, warmup: float) -> Load:
    async with _raw.naive_http(base_url) as http:
        created = [await _raw.naive_call(http, "/session/create", {}) for _ in range(SESSIONS)]
        ids = [str(c["session"]["id"]) for c in created]

        async def op(index: int) -> None:
            body = {"sessionId": ids[index % SESSIONS], "url": _raw.TARGET_URL, "method": "GET"}
            await _raw.naive_call(http, "/session/request", body)

        load = await closed_loop(op, SESSIONS, duration, warmup=warmup)
        for sid in ids:
            await _raw.naive_call(http, "/session/close", {"sessionId": sid})
    return load


async def tuned(base_url: str, duration: float, warmup: float) -> Load:
    async with _raw.raw_http(base_url) as http:
        ids = [await _raw.create_session(http) for _ in range(SESSIONS)]
        bodies = [_raw.request_body(sid) for sid in ids]

        async def op(index: int) -> None:
            await _raw.call(http, "/session/request", bodies[index % SESSIONS])

        load = await closed_loop(op, SESSIONS, duration, warmup=warmup)
        for sid in ids:
            await _raw.close_session(http, sid)
    return load


async def sdk(base_url: str, duration: float, warmup: float) -> Load:
    async with BBREClient(api_key=API_KEY, base_url=base_url) as client:
        sessions = [await client.sessions.create() for _ in range(SESSIONS)]

        async def op(index: int) -> None:
            await sessions[index % SESSIONS].get(_raw.TARGET_URL)

        load = await closed_loop(op, SESSIONS, duration, warmup=warmup)
        for session in sessions:
            await session.close()
    return load


async def pool(base_url: str, duration: float, warmup: float) -> Load:
    async with bench_pool(base_url, max_size=SESSIONS, min_size=SESSIONS) as the_pool:
        # Lease all sessions once so the pool is full before the clock starts.
        leases = [await the_pool.acquire() for _ in range(SESSIONS)]
        for lease in leases:
            await lease.release()
        return await closed_loop(pool_get(the_pool), SESSIONS, duration, warmup=warmup)


ARMS: dict[str, Arm] = {"naive": naive, "tuned": tuned, "sdk": sdk, "pool": pool}


def run_async(main: Coroutine[Any, Any, T], loop_factory: LoopFactory | None = None) -> T:
    """``asyncio.run`` on a fresh loop from ``loop_factory`` (e.g. uvloop's)."""
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(main)
