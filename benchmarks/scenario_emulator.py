"""Emulator capacity: ``/session/request`` answers a second, server pinned to one core.

The load generator (``bbre_async.emulator._loadcheck``: 50 workers, raw aiohttp, zero server
latency) runs in this process on the other core(s), so the number is the server's. Readers can
compare it with the rates the other scenarios reach, to see the server is not what limits them.
"""

from __future__ import annotations

import asyncio

from bbre_async.emulator._loadcheck import measure
from benchmarks._emulator_proc import EmulatorProcess, pinned_to_other_cores
from benchmarks._runner import Result, Target, median, result, rounded

NAME = "emulator"


def run(quick: bool) -> list[Result]:
    duration, reps = (1.5, 2) if quick else (4.0, 3)
    rates: list[float] = []
    p99: list[float] = []
    errors = 0
    with EmulatorProcess(cpu=0) as emu, pinned_to_other_cores(0):
        asyncio.run(measure(emu.base_url, duration=0.5))  # warm-up
        for _ in range(reps):
            emu.reset()
            load = asyncio.run(measure(emu.base_url, concurrency=50, duration=duration))
            rates.append(load.rate)
            p99.append(load.p99_ms)
            errors += load.errors
    return [
        result(
            NAME,
            "emulator /session/request per second, one core, zero latency (50 in flight)",
            median(rates),
            target=Target(op=">=", bound=3000, on="value"),
            require=errors == 0,
            notes=f"p99 latency {median(p99):.1f} ms; errors {errors}",
            details={"rates": [rounded(r) for r in rates], "repetitions": reps},
        )
    ]
