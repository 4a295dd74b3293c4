"""The emulator as a server: capacity, listing cost against history, CPU per request.

- Capacity: ``/session/request`` answers a second, server pinned to one core, zero latency,
  load from ``bbre_async.emulator._loadcheck`` (50 workers, raw aiohttp) on the other core(s).
- Listing against history: ``POST /account/sessions {"status": "active"}`` (the pool's
  reconciliation call, with 10 sessions active) timed after 1,000 and after 100,000 sessions were
  created and closed on the same server; ratio of the median round trips. A listing that walks
  every session ever created grows with the history; one that is indexed or pruned does not.
- CPU per request: the server process's CPU time (``/proc``) per ``/session/request`` under the
  same closed-loop load (20 in flight, raw aiohttp), emulator ÷ a minimal aiohttp.web handler
  (``benchmarks._web_baseline``: parse the body, answer in the same shape), rounds interleaved.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bbre_async.emulator._loadcheck import measure
from benchmarks import _raw
from benchmarks._emulator_proc import EmulatorProcess, pinned_to_other_cores
from benchmarks._load import closed_loop
from benchmarks._runner import (
    Result,
    Target,
    interleave,
    median,
    paired_ratio,
    result,
    rounded,
)
from benchmarks._server_proc import web_baseline_server

NAME = "emulator"
LISTING_TARGET = Target(op="<=", bound=1.2)
CPU_TARGET = Target(op="<=", bound=1.1)
CHURN_WORKERS = 10  # the account cap: each worker creates, then closes, one session at a time
LOAD_WORKERS = 20
SESSIONS = 10


def _capacity(emu: EmulatorProcess, quick: bool) -> Result:
    duration, reps = (1.0, 1) if quick else (4.0, 3)
    rates: list[float] = []
    p99: list[float] = []
    errors = 0
    asyncio.run(measure(emu.base_url, duration=0.5))  # warm-up
    for _ in range(reps):
        emu.reset()
        load = asyncio.run(measure(emu.base_url, concurrency=50, duration=duration))
        rates.append(load.rate)
        p99.append(load.p99_ms)
        errors += load.errors
    return result(
        NAME,
        "emulator /session/request per second, one core, zero latency (50 in flight)",
        median(rates),
        target=Target(op=">=", bound=3000, on="value"),
        require=errors == 0,
        notes=f"p99 latency {median(p99):.1f} ms; errors {errors}",
        details={"rates": [rounded(r) for r in rates], "repetitions": reps},
    )


async def _churn(base_url: str, count: int) -> None:
    """Create and close ``count`` sessions, ``CHURN_WORKERS`` at a time."""
    async with _raw.raw_http(base_url) as http:
        left = count

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await _raw.close_session(http, await _raw.create_session(http))

        await asyncio.gather(*(worker() for _ in range(CHURN_WORKERS)))


async def _listing_ms(base_url: str, calls: int) -> dict[str, float]:
    """Median round trip (ms) of the active listing with 10 sessions active, and of the
    unfiltered first page."""
    async with _raw.raw_http(base_url) as http:
        ids = [await _raw.create_session(http) for _ in range(SESSIONS)]
        out: dict[str, float] = {}
        for label, body in (("active", b'{"status": "active"}'), ("all", b"{}")):
            samples = []
            for _ in range(calls):
                began = time.perf_counter()
                await _raw.call(http, "/account/sessions", body)
                samples.append(time.perf_counter() - began)
            out[label] = 1000 * median(samples)
        for sid in ids:
            await _raw.close_session(http, sid)
    return out


def _stored(emu: EmulatorProcess) -> int | None:
    """How many sessions the emulator says it keeps (``stored_sessions``, server-wide or per
    account), or None when its state view does not say."""
    state = emu.server_state()
    for scope in (state, *state.get("accounts", {}).values()):
        count = scope.get("stored_sessions")
        if isinstance(count, int):
            return count
    return None


def listing_row(emu: EmulatorProcess, small: int, large: int, calls: int) -> Result:
    """The active listing after ``small`` and after ``large`` sessions were created and closed,
    zero server latency (a fixed delay would hide the growth in the ratio)."""
    emu.set_latency({name: 0.0 for name in ("session/create", "session/close", "account/sessions")})
    emu.reset()
    began = time.perf_counter()
    asyncio.run(_churn(emu.base_url, small))
    after_small = asyncio.run(_listing_ms(emu.base_url, calls))
    stored_small = _stored(emu)
    asyncio.run(_churn(emu.base_url, large - small))
    after_large = asyncio.run(_listing_ms(emu.base_url, calls))
    stored_large = _stored(emu)
    churn_s = time.perf_counter() - began
    unfiltered = after_large["all"] / after_small["all"]
    return result(
        NAME,
        f"active listing round trip, ms: after {large:,} sessions ever ÷ after {small:,}",
        after_large["active"],
        after_small["active"],
        target=LISTING_TARGET,
        notes=(
            f"10 active at each reading, median of {calls} calls; unfiltered first page "
            f"{after_small['all']:.2f} → {after_large['all']:.2f} ms (ratio {unfiltered:.2f})"
            + (
                f"; stored sessions {stored_small:,} → {stored_large:,}"
                if stored_small is not None and stored_large is not None
                else "; the state view shows no count of stored sessions"
            )
        ),
        details={
            "listing_ms": {"small": after_small, "large": after_large},
            "stored": {"small": stored_small, "large": stored_large},
            "churn_seconds": rounded(churn_s),
        },
    )


async def _drive(base_url: str, duration: float, server_cpu: Callable[[], float | None]) -> float:
    """Server CPU µs per ``/session/request`` under a closed loop of ``LOAD_WORKERS``."""
    async with _raw.raw_http(base_url) as http:
        ids = [await _raw.create_session(http) for _ in range(SESSIONS)]
        bodies = [_raw.request_body(sid) for sid in ids]

        async def op(index: int) -> None:
            await _raw.call(http, "/session/request", bodies[index % SESSIONS])

        await closed_loop(op, LOAD_WORKERS, 0.2)  # warm the server's paths and connections
        before = server_cpu()
        load = await closed_loop(op, LOAD_WORKERS, duration)
        after = server_cpu()
        for sid in ids:
            await _raw.close_session(http, sid)
    if before is None or after is None or load.failed:
        raise RuntimeError("no server CPU reading (needs Linux /proc) or requests failed")
    # every request that finished inside the window, counted or not, cost the server CPU
    return 1e6 * (after - before) / max(1, load.done)


def cpu_row(emu: EmulatorProcess, duration: float, reps: int, warmups: int = 1) -> Result:
    metric = "server CPU µs per /session/request: emulator ÷ minimal aiohttp.web handler"
    if emu.process is None or emu.cpu_seconds() is None:
        return result(NAME, metric, None, notes="skipped: no /proc to read a server's CPU time")
    emu.set_latency({"session/request": 0.0})
    with web_baseline_server(cpu=0) as web:

        def emulator_arm() -> float:
            emu.reset()
            return asyncio.run(_drive(emu.base_url, duration, emu.cpu_seconds))

        def web_arm() -> float:
            return asyncio.run(_drive(web.base_url, duration, web.cpu_seconds))

        arms = {"emulator": emulator_arm, "web": web_arm}
        runs = interleave(arms, repetitions=reps, warmups=warmups)
    return result(
        NAME,
        metric,
        median(runs["emulator"]),
        median(runs["web"]),
        ratio=paired_ratio(runs["emulator"], runs["web"]),
        target=CPU_TARGET,
        notes=(
            f"{LOAD_WORKERS} in flight, zero latency, both servers pinned to one core; "
            f"median of {reps} interleaved rounds"
        ),
        details={
            "emulator_us": [rounded(x) for x in runs["emulator"]],
            "web_us": [rounded(x) for x in runs["web"]],
        },
    )


def run(quick: bool) -> list[Result]:
    with EmulatorProcess(cpu=0) as emu, pinned_to_other_cores(0):
        return [
            _capacity(emu, quick),
            cpu_row(emu, *((0.4, 1, 0) if quick else (2.0, 5, 1))),
            listing_row(emu, *((200, 2_000, 30) if quick else (1_000, 100_000, 300))),
        ]
