"""Result records, targets, and the repetition discipline every scenario follows.

A measurement is a callable returning a number (or a record). ``interleave`` runs warm-ups,
then repetitions of every arm in turn (A, B, A, B, ...), so slow drift of the machine (other
processes, thermal state, a growing server) lands on both arms alike; scenarios report medians.
"""

from __future__ import annotations

import math
import operator
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import attrs

T = TypeVar("T")

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}


@attrs.frozen(kw_only=True)
class Target:
    """A pass condition on a result's ``ratio`` (default) or its ``value``."""

    op: str = attrs.field(validator=attrs.validators.in_(tuple(_OPS)))
    bound: float
    on: str = attrs.field(default="ratio", validator=attrs.validators.in_(("ratio", "value")))

    def check(self, value: float | None, ratio: float | None) -> bool | None:
        subject = ratio if self.on == "ratio" else value
        if subject is None or (isinstance(subject, float) and math.isnan(subject)):
            return None
        return _OPS[self.op](subject, self.bound)

    def __str__(self) -> str:
        return f"{self.on} {self.op} {self.bound:g}"


@attrs.frozen(kw_only=True)
class Result:
    """One row of the report: a scenario's metric, its baseline, and the verdict.

    ``meets`` is None for informational rows, skipped scenarios and crashes.
    """

    name: str
    metric: str
    value: float | None
    baseline: float | None = None
    ratio: float | None = None
    target: str = ""
    meets: bool | None = None
    notes: str = ""
    details: Mapping[str, Any] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "metric": self.metric,
            "value": _finite(self.value),
            "baseline": _finite(self.baseline),
            "ratio": _finite(self.ratio),
            "target": self.target,
            "meets": self.meets,
        }
        if self.notes:
            out["notes"] = self.notes
        if self.details:
            out["details"] = dict(self.details)
        return out


def _finite(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return float(x)


def result(
    name: str,
    metric: str,
    value: float | None,
    baseline: float | None = None,
    *,
    target: Target | None = None,
    ratio: float | None = None,
    require: bool = True,
    notes: str = "",
    details: Mapping[str, Any] | None = None,
) -> Result:
    """A ``Result`` with ``ratio = value / baseline`` unless given, and the verdict.

    ``require=False`` fails the row whatever the numbers say (e.g. requests failed).
    """
    if ratio is None and value is not None and baseline:
        ratio = value / baseline
    meets = target.check(value, ratio) if target else None
    if meets is not None and not require:
        meets = False
    return Result(
        name=name,
        metric=metric,
        value=value,
        baseline=baseline,
        ratio=ratio,
        target=str(target) if target else "",
        meets=meets,
        notes=notes,
        details=dict(details or {}),
    )


def skipped(name: str, metric: str, why: str) -> Result:
    return Result(name=name, metric=metric, value=None, notes=f"skipped: {why}")


def crashed(name: str, error: BaseException) -> Result:
    return Result(
        name=name, metric="(crashed)", value=None, notes=f"error: {type(error).__name__}: {error}"
    )


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (``fraction`` in [0, 1])."""
    if not values:
        return math.nan
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return float(ordered[index])


def paired_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """Median of the per-round ratios of two interleaved arms: each round's pair ran back to
    back, so drift of the machine between rounds cancels out of every ratio."""
    return median([a / b for a, b in zip(numerators, denominators, strict=True) if b])


def interleave(
    arms: Mapping[str, Callable[[], T]], *, repetitions: int, warmups: int = 1
) -> dict[str, list[T]]:
    """Run each arm ``warmups`` times (discarded), then ``repetitions`` rounds of every arm in
    turn (A, B, A, B, ...). Returns each arm's results in order."""
    for _ in range(warmups):
        for arm in arms.values():
            arm()
    out: dict[str, list[T]] = {name: [] for name in arms}
    for _ in range(repetitions):
        for name, arm in arms.items():
            out[name].append(arm())
    return out


def rounded(value: float, digits: int = 3) -> float:
    """``value`` to ``digits`` significant digits, for details that a reader scans."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, max(0, digits - 1 - math.floor(math.log10(abs(value)))))
