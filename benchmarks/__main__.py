"""``python -m benchmarks [--quick] [--json PATH] [--only NAME ...]``

Runs each scenario against the emulator on loopback, each with its baseline in the same run,
and prints a table of ratios. The exit code is 0 even when a target is missed (the table says
so); it is 1 only when a scenario crashed.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
from pathlib import Path

import attrs

from benchmarks._report import render, write_json
from benchmarks._runner import Result, crashed

#: Scenario names, in running order, and their modules (each has ``run(quick) -> list``).
SCENARIOS = {
    "overhead": "benchmarks.scenario_overhead",
    "utilization": "benchmarks.scenario_utilization",
    "backends": "benchmarks.scenario_backends",
    "docs_pattern": "benchmarks.scenario_docs_pattern",
    "acquire": "benchmarks.scenario_acquire",
    "renewal": "benchmarks.scenario_renewal",
    "shutdown": "benchmarks.scenario_shutdown",
    "shared_cap": "benchmarks.scenario_shared_cap",
    "emulator": "benchmarks.scenario_emulator",
    "memory": "benchmarks.scenario_memory",
    "map": "benchmarks.scenario_map",
}


def run_scenario(name: str, quick: bool) -> tuple[list[Result], bool]:
    """The scenario's results (with the load average and time taken in each row's details),
    and whether it ran without crashing."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    began = time.perf_counter()
    try:
        module = importlib.import_module(SCENARIOS[name])
        results: list[Result] = module.run(quick)
        ok = True
    except Exception as error:  # one crash must not hide the other scenarios' numbers
        results = [crashed(name, error)]
        ok = False
    seconds = round(time.perf_counter() - began, 1)
    extra = {"scenario_seconds": seconds, "loadavg_1m_at_start": load}
    return [attrs.evolve(r, details={**r.details, **extra}) for r in results], ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmarks of bbre_async against its emulator, each scenario beside its "
        "baseline in the same run.",
    )
    parser.add_argument("--quick", action="store_true", help="CI-sized runs (under a minute)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(SCENARIOS),
        metavar="NAME",
        help=f"run only these scenarios: {', '.join(SCENARIOS)}",
    )
    args = parser.parse_args(argv)
    names = args.only or list(SCENARIOS)
    print(
        f"bbre_async benchmarks ({'quick' if args.quick else 'full'}): Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()}",
        file=sys.stderr,
    )
    results: list[Result] = []
    all_ok = True
    began = time.perf_counter()
    for name in names:
        print(f"  {name} ...", end="", file=sys.stderr, flush=True)
        rows, ok = run_scenario(name, args.quick)
        all_ok &= ok
        results.extend(rows)
        print(
            f" {rows[0].details.get('scenario_seconds')} s{'' if ok else ' (crashed)'}",
            file=sys.stderr,
        )
    total = time.perf_counter() - began
    render(results)
    missed = sum(1 for r in results if r.meets is False)
    print(f"\n{len(results)} results; targets missed: {missed}; {total:.0f} s")
    if args.json:
        write_json(results, args.json)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
