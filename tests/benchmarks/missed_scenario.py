"""A scenario whose only row misses its target, for the command line's exit-code tests."""

from __future__ import annotations

from benchmarks._runner import Result, Target, result


def run(quick: bool) -> list[Result]:
    return [result("missed", "always short", 1.0, 2.0, target=Target(op=">=", bound=1.0))]
