"""Shutdown: SIGTERM to a process holding 10 leased sessions, until the server shows 0 active.

The pool runs in a child process with ``handle_signals=True`` and ``shutdown_timeout=0.05``:
the leases stay held (the program is busy), so the pool waits for them 50 ms, then closes
every remote session concurrently. The baseline is the vendor docs' shutdown handler in a
child process of the same shape: a loop over the tracked ids that closes one after the other,
awaiting each. Every ``/session/close`` takes 20 ms on the server, so sequential and
concurrent closing differ as they would against a remote API. The clock starts just before
the signal is sent and stops when ``/_emulator/state`` first reports 0 active sessions
(polled every 2 ms).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks._child import read_line, spawn, stop
from benchmarks._emulator_proc import EmulatorProcess, astate
from benchmarks._runner import Result, Target, interleave, median, result, rounded

NAME = "shutdown"
SHUTDOWN_TIMEOUT = 0.05
CLOSE_LATENCY = 0.02
SESSIONS = 10


async def _until_zero(base_url: str, process: subprocess.Popen[bytes]) -> float:
    async with aiohttp.ClientSession() as http:
        state = await astate(http, base_url)
        if state["active_sessions"] != SESSIONS:
            raise RuntimeError(f"expected {SESSIONS} active sessions, saw {state}")
        began = time.perf_counter()
        process.send_signal(signal.SIGTERM)
        deadline = began + 15.0
        while time.perf_counter() < deadline:
            if (await astate(http, base_url))["active_sessions"] == 0:
                return time.perf_counter() - began
            await asyncio.sleep(0.002)
    raise RuntimeError("sessions still active 15 s after SIGTERM")


def _measure(emu: EmulatorProcess, *args: str) -> float:
    emu.reset()
    process = spawn(*args)
    try:
        if read_line(process, 60.0) != "ready":
            raise RuntimeError("the child did not report ready")
        return asyncio.run(_until_zero(emu.base_url, process))
    finally:
        stop(process)


def run(quick: bool) -> list[Result]:
    reps = 1 if quick else 5
    with tempfile.TemporaryDirectory(prefix="bbre-bench-") as folder:
        ledger = str(Path(folder) / "ledger.sqlite3")
        with EmulatorProcess(cpu=0, latency={"session/close": CLOSE_LATENCY}) as emu:
            url = emu.base_url
            runs = interleave(
                {
                    "pool": lambda: _measure(emu, "hold-pool", url, str(SHUTDOWN_TIMEOUT), ledger),
                    "docs": lambda: _measure(emu, "hold-docs", url),
                },
                repetitions=reps,
                warmups=0,
            )
    pool = median(runs["pool"])
    docs = median(runs["docs"])
    return [
        result(
            NAME,
            "SIGTERM to 0 active sessions, s: pool vs docs' sequential close loop",
            pool,
            docs,
            target=Target(op="<", bound=1.0, on="value"),
            notes=(
                f"pool waits {SHUTDOWN_TIMEOUT * 1000:g} ms for held leases, then closes all "
                f"at once; each close takes {CLOSE_LATENCY * 1000:g} ms on the server"
            ),
            details={
                "repetitions": reps,
                "pool_s": [rounded(x) for x in runs["pool"]],
                "docs_s": [rounded(x) for x in runs["docs"]],
                "shutdown_timeout_s": SHUTDOWN_TIMEOUT,
                "close_latency_s": CLOSE_LATENCY,
            },
        )
    ]
