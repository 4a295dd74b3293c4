"""Utilization for both backends: how much lease time each renewal strategy costs.

Workers lease a session, hold it for 50 ms of simulated browser work, and give it back, on a
pool of 10 whose sessions live a fraction of a second to a few seconds, so renewals happen
all the time. BBRE renews by replacement (a create and a close per renewal); OrchestratorHQ
extends in place. The ideal is 10 sessions / 50 ms = 200 leases a second, and
``asyncio.Semaphore(10)`` over the same loop (no remote sessions at all) is measured alongside
as what the machine allows.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bbre_async import BBREClient, SessionPool
from bbre_async.orchestrator import OrchestratorBackend, OrchestratorClient
from benchmarks._emulator_proc import API_KEY, EmulatorProcess, pinned_to_other_cores
from benchmarks._load import Load, closed_loop
from benchmarks._runner import Result, Target, median, result, rounded

NAME = "backends"
SESSIONS = 10
WORKERS = 40
HOLD = 0.05
TIME_SCALE = 100.0  # BBRE: 300 s lives in 3 s; OrchestratorHQ: "1m" lives in 0.6 s
IDEAL = SESSIONS / HOLD
ORCHESTRATOR_KEY = "orch_test_key"


async def _lease_loop(pool: SessionPool, duration: float) -> Load:
    async def op(_index: int) -> None:
        async with pool.acquire():
            await asyncio.sleep(HOLD)

    return await closed_loop(op, WORKERS, duration, warmup=0.5)


async def _bbre(base_url: str, duration: float) -> tuple[Load, dict[str, Any]]:
    async with BBREClient(api_key=API_KEY, base_url=base_url) as client:
        async with SessionPool(
            client, max_size=SESSIONS, ledger_path=None, idle_timeout=None
        ) as pool:
            load = await _lease_loop(pool, duration)
            stats = pool.stats()
    return load, {"created": stats.created, "renewed": stats.renewed}


async def _orchestrator(base_url: str, duration: float) -> tuple[Load, dict[str, Any]]:
    async with OrchestratorClient(api_key=ORCHESTRATOR_KEY, base_url=base_url + "/api") as client:
        backend = OrchestratorBackend(client, duration="1m", account_cap=SESSIONS)
        async with SessionPool(
            backend, max_size=SESSIONS, ledger_path=None, idle_timeout=None
        ) as pool:
            load = await _lease_loop(pool, duration)
            stats = pool.stats()
    return load, {"created": stats.created, "renewed": stats.renewed}


async def _floor(duration: float) -> Load:
    semaphore = asyncio.Semaphore(SESSIONS)

    async def op(_index: int) -> None:
        async with semaphore:
            await asyncio.sleep(HOLD)

    return await closed_loop(op, WORKERS, duration, warmup=0.5)


def run(quick: bool) -> list[Result]:
    duration, reps = (1.0, 1) if quick else (8.0, 3)
    rates: dict[str, list[float]] = {"bbre": [], "orchestrator": [], "floor": []}
    stats: dict[str, list[dict[str, Any]]] = {"bbre": [], "orchestrator": []}
    with EmulatorProcess(cpu=0, time_scale=TIME_SCALE) as emu, pinned_to_other_cores(0):
        for _ in range(reps):
            for name, arm in (("bbre", _bbre), ("orchestrator", _orchestrator)):
                emu.reset()
                load, info = asyncio.run(arm(emu.base_url, duration))
                rates[name].append(load.rate)
                stats[name].append(info)
            rates["floor"].append(asyncio.run(_floor(duration)).rate)
    floor = median(rates["floor"])
    rows = []
    for name, label in (("bbre", "replace"), ("orchestrator", "extend")):
        rate = median(rates[name])
        created = [s["created"] for s in stats[name]]
        renewed = [s["renewed"] for s in stats[name]]
        rows.append(
            result(
                NAME,
                f"{name} leases/s ÷ ideal {IDEAL:g} (renewal by {label}, {WORKERS} workers, "
                "50 ms holds)",
                rate,
                IDEAL,
                target=Target(op=">=", bound=0.95),
                notes=(
                    f"sessions created per run {created}, renewals {renewed}; "
                    f"asyncio.Semaphore floor {floor:.0f}/s (÷ floor {rate / floor:.3f})"
                ),
                details={
                    "rates": [rounded(r) for r in rates[name]],
                    "floor_rates": [rounded(r) for r in rates["floor"]],
                    "created": created,
                    "renewed": renewed,
                },
            )
        )
    return rows
