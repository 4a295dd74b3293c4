"""Usage statistics over a history export, in constant memory: count, cost, success rate and
processing-time percentiles, overall and by mode and by task type.

Percentiles: `QuantileSketch` keeps every value while there are at most ``exact_limit`` of
them (10,000 by default), so small exports get exact nearest-rank percentiles. Past that it
folds the values into logarithmic buckets, as DDSketch does: every value ``x > 0`` goes to
bucket ``ceil(log_gamma(x))`` with ``gamma = (1 + a) / (1 - a)``, and a quantile is answered
with its bucket's midpoint, which is within a relative error ``a`` (1 %) of a true value of
that rank. Why this and not a reservoir sample: the error bound is deterministic (a reservoir's
is statistical and its answer varies from run to run), and the tail (p95, p99), which a
uniform sample sees through few points, is as accurate as the median. The memory is bounded by
the value range, not the count: 1 ms to 1 day at 1 % is under 600 buckets; ``max_buckets``
caps it anyway by merging the lowest buckets, which only coarsens the smallest values.
"""

from __future__ import annotations

import math

import attrs
from rich.console import Console

from bbre_async._models import Task
from bbre_async.cli._common import new_table, print_table, usd

_MICROS = 1_000_000
#: Distinct modes or types tracked on their own; more are grouped as "other".
MAX_GROUPS = 32


class QuantileSketch:
    """Nearest-rank quantiles of non-negative numbers: exact for small inputs, then within a
    relative error of ``relative_accuracy`` in bounded memory (see the module docstring)."""

    def __init__(
        self,
        *,
        exact_limit: int = 10_000,
        relative_accuracy: float = 0.01,
        max_buckets: int = 2048,
    ) -> None:
        if not 0 < relative_accuracy < 1:
            raise ValueError("relative_accuracy must be in (0, 1)")
        self.exact_limit = exact_limit
        self.relative_accuracy = relative_accuracy
        self.max_buckets = max_buckets
        self._gamma = (1 + relative_accuracy) / (1 - relative_accuracy)
        self._log_gamma = math.log(self._gamma)
        self._exact: list[float] | None = []
        self._buckets: dict[int, int] = {}
        self._zeros = 0
        self.count = 0

    @property
    def exact(self) -> bool:
        """True while every value is still kept (answers are exact)."""
        return self._exact is not None

    def add(self, value: float) -> None:
        if not math.isfinite(value):
            return
        value = max(0.0, value)
        self.count += 1
        if self._exact is not None:
            self._exact.append(value)
            if len(self._exact) > self.exact_limit:
                values, self._exact = self._exact, None
                for kept in values:
                    self._bucket(kept)
            return
        self._bucket(value)

    def _bucket(self, value: float) -> None:
        if value <= 0.0:
            self._zeros += 1
            return
        index = math.ceil(math.log(value) / self._log_gamma)
        self._buckets[index] = self._buckets.get(index, 0) + 1
        if len(self._buckets) > self.max_buckets:
            lowest, second = sorted(self._buckets)[:2]
            self._buckets[second] += self._buckets.pop(lowest)

    def quantile(self, q: float) -> float | None:
        """The value of rank ``ceil(q * count)`` (nearest rank); None when empty."""
        if not 0 <= q <= 1:
            raise ValueError("q must be in [0, 1]")
        if self.count == 0:
            return None
        rank = max(1, math.ceil(q * self.count))
        if self._exact is not None:
            return sorted(self._exact)[rank - 1]
        seen = self._zeros
        if rank <= seen:
            return 0.0
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if rank <= seen:
                return 2 * self._gamma**index / (self._gamma + 1)
        return None  # unreachable: the counts add up to self.count


@attrs.define
class GroupStats:
    """Figures for one group of tasks. Costs add up in integer micro-dollars, so the total
    over hundreds of thousands of rows has no float drift."""

    count: int = 0
    cost_micros: int = 0
    finished: int = 0
    completed: int = 0
    times: QuantileSketch = attrs.field(factory=QuantileSketch)

    def add(self, task: Task) -> None:
        self.count += 1
        self.cost_micros += round(task.price_charged * _MICROS)
        if task.status == "processing":
            return  # no outcome and no processing time yet
        self.finished += 1
        if task.status == "completed":
            self.completed += 1
        if task.processing_time_ms is not None:
            self.times.add(task.processing_time_ms)

    @property
    def cost(self) -> float:
        return self.cost_micros / _MICROS

    @property
    def success_rate(self) -> float | None:
        """Completed over finished (completed, failed, timeout); tasks still processing have
        no outcome and are left out."""
        return self.completed / self.finished if self.finished else None

    def to_json(self) -> dict[str, object]:
        return {
            "count": self.count,
            "cost": self.cost,
            "success_rate": self.success_rate,
            "p50_ms": self.times.quantile(0.5),
            "p95_ms": self.times.quantile(0.95),
        }


@attrs.define
class UsageSummary:
    """Streaming statistics over history rows: call `add` per row, `render` at the end."""

    overall: GroupStats = attrs.field(factory=GroupStats)
    by_mode: dict[str, GroupStats] = attrs.field(factory=dict)
    by_type: dict[str, GroupStats] = attrs.field(factory=dict)

    def add(self, task: Task) -> None:
        self.overall.add(task)
        _group(self.by_mode, task.mode or "unknown").add(task)
        _group(self.by_type, task.type).add(task)

    def rows(self) -> list[tuple[str, GroupStats]]:
        out = [("all", self.overall)]
        out += [(f"mode {name}", stats) for name, stats in sorted(self.by_mode.items())]
        out += [(f"type {name}", stats) for name, stats in sorted(self.by_type.items())]
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "all": self.overall.to_json(),
            "by_mode": {k: v.to_json() for k, v in sorted(self.by_mode.items())},
            "by_type": {k: v.to_json() for k, v in sorted(self.by_type.items())},
        }

    def render(self, console: Console) -> None:
        table = new_table(
            "group",
            "tasks",
            "cost",
            "success",
            "p50",
            "p95",
            right=("tasks", "cost", "success", "p50", "p95"),
            title="Summary",
        )
        for name, stats in self.rows():
            rate = stats.success_rate
            table.add_row(
                name,
                str(stats.count),
                usd(stats.cost),
                "-" if rate is None else f"{rate * 100:.1f}%",
                _ms(stats.times.quantile(0.5)),
                _ms(stats.times.quantile(0.95)),
            )
        print_table(console, table)
        if not self.overall.times.exact:
            console.print("(percentiles are within 1% of the exact values: see --help)")


def _group(groups: dict[str, GroupStats], name: str) -> GroupStats:
    if name not in groups and len(groups) >= MAX_GROUPS:
        name = "other"
    stats = groups.get(name)
    if stats is None:
        stats = groups[name] = GroupStats()
    return stats


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"
