"""``python -m benchmarks [--quick] [--report-only] [--json PATH] [--only NAME ...]``

Runs each scenario beside its baseline in the same run and prints a table of ratios. Exit
code: 0 when every target is met, 1 when a scenario crashed, 2 when a target was missed
(``--report-only`` reports misses with exit code 0; a crash still exits 1).

Scenarios are the ``SCENARIOS`` entries, in order, then any other ``benchmarks/scenario_*.py``
module (a module with ``run(quick: bool) -> list[Result]``), so a new scenario needs no other
change to run.
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

from benchmarks._allocator import settle_allocator
from benchmarks._report import render, write_json
from benchmarks._runner import Result, crashed

#: Scenario names, in running order, and their modules (each has ``run(quick) -> list``).
SCENARIOS = {
    "startup": "benchmarks.scenario_startup",
    "overhead": "benchmarks.scenario_overhead",
    "utilization": "benchmarks.scenario_utilization",
    "backends": "benchmarks.scenario_backends",
    "docs_pattern": "benchmarks.scenario_docs_pattern",
    "acquire": "benchmarks.scenario_acquire",
    "handoff": "benchmarks.scenario_handoff",
    "renewal": "benchmarks.scenario_renewal",
    "shutdown": "benchmarks.scenario_shutdown",
    "shared_cap": "benchmarks.scenario_shared_cap",
    "emulator": "benchmarks.scenario_emulator",
    "memory": "benchmarks.scenario_memory",
    "map": "benchmarks.scenario_map",
}


EXIT_CRASHED = 1
EXIT_MISSED = 2


def scenarios() -> dict[str, str]:
    """``SCENARIOS`` plus every ``scenario_*.py`` beside this file not listed there."""
    found = {**SCENARIOS}
    for path in sorted(Path(__file__).parent.glob("scenario_*.py")):
        module = f"benchmarks.{path.stem}"
        if module not in found.values():
            found[path.stem.removeprefix("scenario_")] = module
    return found


def run_scenario(name: str, quick: bool) -> tuple[list[Result], bool]:
    """The scenario's results (with the load average and time taken in each row's details),
    and whether it ran without crashing."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    began = time.perf_counter()
    try:
        module = importlib.import_module(scenarios()[name])
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
        description="Benchmarks of bbre_async, each scenario beside its baseline in the same "
        "run. Exit code 0: every target met; 1: a scenario crashed; 2: a target missed.",
    )
    parser.add_argument("--quick", action="store_true", help="CI-sized runs (under a minute)")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="exit 0 even when a target is missed (a crash still exits 1)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(scenarios()),
        metavar="NAME",
        help=f"run only these scenarios: {', '.join(scenarios())}",
    )
    args = parser.parse_args(argv)
    names = args.only or list(scenarios())
    settle_allocator()  # every process of the run starts alike: the arms differ in code only
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
    if not all_ok:
        return EXIT_CRASHED
    return EXIT_MISSED if missed and not args.report_only else 0


if __name__ == "__main__":
    sys.exit(main())
