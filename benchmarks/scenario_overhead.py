"""Overhead: requests through ``pool.acquire()`` + ``session.get()`` vs raw aiohttp users.

Against the protocol-level stub (``benchmarks._stub``, its own process on its own core, so the
server is never the bottleneck) the client's CPU decides the rate, and the ratio of two arms'
throughputs is the ratio of their costs. The pool is put against a naive raw aiohttp user
(``json=`` + ``resp.json()``) and the tuned raw arm (bodies serialized once, orjson); see
``benchmarks._arms``. Arms run in interleaved rounds (naive, tuned, sdk, pool, naive, ...);
ratios are the median of the per-round ratios; CPU µs per request is this process's CPU time
(``time.process_time``) over the counted window divided by the requests counted. When other
processes share the client's core, throughput moves with the share the client gets; the notes
also give the ratio of CPU per request, which does not (the throughput ratio at equal CPU).

The same loop also runs against the emulator (0 ms and 5 ms server time), as before: there
the server does real work, so at 0 ms the rate is partly the server's, and at 5 ms the client
cost hides behind the wait, as it does against the real service. With uvloop installed, the
stub comparison runs once more on uvloop's loop.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping, Sequence
from typing import cast

from benchmarks import _arms
from benchmarks._arms import ARMS, LoopFactory, run_async
from benchmarks._emulator_proc import EmulatorProcess, pinned_to_other_cores
from benchmarks._load import Load
from benchmarks._runner import Result, Target, interleave, median, paired_ratio, result, rounded
from benchmarks._server_proc import ServerProcess, stub_server
from benchmarks._task_cost import task_cost_us

NAME = "overhead"
NAIVE_TARGET = Target(op=">=", bound=1.0)
TUNED_TARGET = Target(op=">=", bound=0.90)
EMULATOR_TARGET = Target(op=">=", bound=0.95)


#: Counted seconds per arm run, in-run warm-up seconds, interleaved rounds, warm-up rounds.
Sizes = tuple[float, float, int, int]
QUICK: Sizes = (0.25, 0.1, 1, 0)
FULL: Sizes = (2.0, 0.3, 5, 1)


def _measure_stub(
    stub: ServerProcess, names: Sequence[str], sizes: Sizes, loop_factory: LoopFactory | None
) -> tuple[dict[str, list[Load]], dict[str, list[float]]]:
    """Interleaved rounds of the named arms against the stub; each arm's loads and the stub's
    share of one core during each of its runs."""
    duration, warmup, reps, warmups = sizes
    server_share: dict[str, list[float]] = {name: [] for name in names}

    def arm(name: str) -> Callable[[], Load]:
        def run() -> Load:
            before = stub.cpu_seconds()
            load = run_async(ARMS[name](stub.base_url, duration, warmup), loop_factory)
            after = stub.cpu_seconds()
            if before is not None and after is not None:
                # the stub's CPU over the whole run (set-up included): an upper bound
                server_share[name].append((after - before) / (duration + warmup))
            return load

        return run

    runs = interleave({name: arm(name) for name in names}, repetitions=reps, warmups=warmups)
    return runs, server_share


def _cpu(runs: Mapping[str, Sequence[Load]]) -> dict[str, float]:
    return {name: median([r.cpu_us_per_op for r in loads]) for name, loads in runs.items()}


def _rates(loads: Sequence[Load]) -> list[float]:
    return [rounded(r.rate) for r in loads]


def stub_rows(stub: ServerProcess, sizes: Sizes) -> list[Result]:
    """Pool ÷ naive and pool ÷ tuned against the stub (throughput, the targets), then the same
    comparisons in client CPU per request (info rows: the throughput ratio at equal CPU)."""
    runs, share = _measure_stub(stub, list(ARMS), sizes, None)
    cpu = _cpu(runs)
    failed = sum(r.failed for loads in runs.values() for r in loads)
    peak_share = max((s for shares in share.values() for s in shares), default=float("nan"))
    client_share = median([r.cpu_seconds / r.seconds for loads in runs.values() for r in loads])
    cpu_note = (
        f"client CPU µs/request: naive {cpu['naive']:.0f}, tuned {cpu['tuned']:.0f}, "
        f"SDK session without pool {cpu['sdk']:.0f}, pool {cpu['pool']:.0f}; client busy "
        f"{100 * client_share:.0f}% of its core (median), stub at most {100 * peak_share:.0f}% "
        f"of its own; median of {len(runs['pool'])} interleaved rounds"
        + (
            ""
            if client_share >= 0.8
            else "; the client was not CPU-bound (a contended machine delayed the server): "
            "read the CPU rows"
        )
    )
    details = {
        "in_flight": _arms.SESSIONS,
        "rate": {name: _rates(loads) for name, loads in runs.items()},
        "cpu_us_per_request": {name: rounded(v) for name, v in cpu.items()},
        "pool_own_cpu_us_per_request": rounded(cpu["pool"] - cpu["sdk"]),
        "client_core_share": {
            name: [rounded(r.cpu_seconds / r.seconds) for r in loads]
            for name, loads in runs.items()
        },
        "stub_core_share": {name: [rounded(s) for s in v] for name, v in share.items()},
        "failed_requests": failed,
    }
    pool_rates = [r.rate for r in runs["pool"]]
    pool_cpu = [r.cpu_us_per_op for r in runs["pool"]]
    arms = (
        ("naive", NAIVE_TARGET, "naive raw aiohttp (json=, resp.json())"),
        ("tuned", TUNED_TARGET, "tuned raw aiohttp (bytes once, orjson)"),
    )
    rows = [
        result(
            NAME,
            f"req/s, pool ÷ {label}, stub server, 10 in flight",
            median(pool_rates),
            median([r.rate for r in runs[arm]]),
            ratio=paired_ratio(pool_rates, [r.rate for r in runs[arm]]),
            target=target,
            require=failed == 0,
            notes=cpu_note,
            details=details,
        )
        for arm, target, label in arms
    ]
    rows += [
        result(
            NAME,
            f"client CPU µs/request, pool vs {arm} raw aiohttp, stub server "
            f"(ratio: {arm} ÷ pool, the throughput ratio at equal CPU)",
            cpu["pool"],
            cpu[arm],
            ratio=paired_ratio([r.cpu_us_per_op for r in runs[arm]], pool_cpu),
            notes=f"informational; the target is on the throughput row (>= {target.bound:g})",
        )
        for arm, target, _label in arms
    ]
    return rows


def _uvloop_factory() -> LoopFactory | None:
    if importlib.util.find_spec("uvloop") is None:
        return None
    module = importlib.import_module("uvloop")
    return cast(LoopFactory, module.new_event_loop)


def uvloop_row(stub: ServerProcess, sizes: Sizes) -> Result:
    """The stub comparison on uvloop's loop; an info row saying so when it is missing."""
    metric = "req/s, pool ÷ tuned raw aiohttp, stub server, 10 in flight, on uvloop"
    factory = _uvloop_factory()
    if factory is None:
        return result(
            NAME,
            metric,
            None,
            notes="uvloop is not installed (pip install uvloop, or the [uvloop] extra): not run",
        )
    runs, _share = _measure_stub(stub, ["naive", "tuned", "pool"], sizes, factory)
    cpu = _cpu(runs)
    pool_rates = [r.rate for r in runs["pool"]]
    naive_ratio = paired_ratio(pool_rates, [r.rate for r in runs["naive"]])
    return result(
        NAME,
        metric,
        median(pool_rates),
        median([r.rate for r in runs["tuned"]]),
        ratio=paired_ratio(pool_rates, [r.rate for r in runs["tuned"]]),
        notes=(
            f"informational; pool ÷ naive on uvloop {naive_ratio:.3f}; client CPU µs/request: "
            f"naive {cpu['naive']:.0f}, tuned {cpu['tuned']:.0f}, pool {cpu['pool']:.0f}"
        ),
        details={
            "rate": {name: _rates(loads) for name, loads in runs.items()},
            "cpu_us_per_request": {name: rounded(v) for name, v in cpu.items()},
            "failed_requests": sum(r.failed for loads in runs.values() for r in loads),
        },
    )


def emulator_row(emu: EmulatorProcess, latency: float, sizes: Sizes) -> Result:
    duration, warmup, reps, warmups = sizes
    emu.set_latency({"session/request": latency})

    def arm(name: str) -> Callable[[], Load]:
        def run() -> Load:
            emu.reset()
            return run_async(ARMS[name](emu.base_url, duration, warmup))

        return run

    arms = {name: arm(name) for name in ("tuned", "sdk", "pool")}
    runs = interleave(arms, repetitions=reps, warmups=warmups)
    cpu = _cpu(runs)
    pool_rates = [r.rate for r in runs["pool"]]
    zero = latency == 0
    return result(
        NAME,
        f"req/s, pool ÷ tuned raw aiohttp, emulator, {latency * 1000:g} ms server time",
        median(pool_rates),
        median([r.rate for r in runs["tuned"]]),
        ratio=paired_ratio(pool_rates, [r.rate for r in runs["tuned"]]),
        target=None if zero else EMULATOR_TARGET,
        notes=(
            (
                "informational: the emulator's own CPU limits this rate; the stub rows carry the "
                "client-cost targets. "
                if zero
                else ""
            )
            + f"client CPU µs/request: tuned {cpu['tuned']:.0f}, SDK session {cpu['sdk']:.0f}, "
            f"pool {cpu['pool']:.0f}"
        ),
        details={
            "server_latency_s": latency,
            "rate": {name: _rates(loads) for name, loads in runs.items()},
            "cpu_us_per_request": {name: rounded(v) for name, v in cpu.items()},
            "failed_requests": sum(r.failed for loads in runs.values() for r in loads),
        },
    )


def task_row(quick: bool) -> Result:
    """The price of a request in a task of its own, measured in this run (info row)."""
    direct, tasked = run_async(task_cost_us(*((5_000, 2) if quick else (50_000, 5))))
    return result(
        NAME,
        "CPU µs per call through a task of its own, over the same call awaited directly",
        tasked - direct,
        notes=(
            f"informational: {tasked:.1f} µs vs {direct:.1f} µs. A pooled request runs in a "
            "task so that a cancelled caller does not cut it off half-way; this is that "
            "task's share of the pool's own CPU per request (pool minus SDK session)"
        ),
        details={"direct_us": rounded(direct), "tasked_us": rounded(tasked)},
    )


def run(quick: bool) -> list[Result]:
    sizes = QUICK if quick else FULL
    rows: list[Result] = [task_row(quick)]
    with stub_server(cpu=0) as stub, pinned_to_other_cores(0):
        rows += stub_rows(stub, sizes)
        rows.append(uvloop_row(stub, sizes))
    with EmulatorProcess(cpu=0) as emu, pinned_to_other_cores(0):
        rows += [emulator_row(emu, latency, sizes) for latency in (0.0, 0.005)]
    return rows
