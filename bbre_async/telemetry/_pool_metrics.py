"""A pool's state and history as OpenTelemetry metrics, read through its public surface.

Gauges and cumulative counts are observed from ``pool.stats()`` when the reader collects
(nothing is counted twice, nothing runs between collections); per-event facts (retirement
reasons, errors by class, lease and session durations) come from the pool's event listener.
Every point carries ``bbre.provider`` and ``bbre.pool.id``.

One set of instruments per meter serves every instrumented pool: OpenTelemetry returns the
first instrument registered under a name, so per-pool callbacks would silently drop data.
"""

from __future__ import annotations

import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

import attrs
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation

from bbre_async._version import __version__
from bbre_async.pool import EventKind, PoolEvent, PoolStats

if TYPE_CHECKING:
    from bbre_async.pool import SessionPool

Attributes = dict[str, str]
SCOPE = "bbre_async"
# Retirement reasons are free text ("gone: SESSION_CLOSED", "target answered 403"): the
# part before a colon is the reason; past this many distinct ones the rest count as "other".
MAX_REASONS = 32
MAX_OPEN_INTERVALS = 4096  # lease / session start times kept for durations (bounded)

#: name -> (unit, description, how to read it from a snapshot) for gauges.
GAUGES: dict[str, tuple[str, str, Callable[[PoolStats], float | None]]] = {
    "bbre.pool.size": ("{session}", "Remote sessions the pool holds now", lambda s: s.size),
    "bbre.pool.leased": ("{session}", "Sessions leased to callers", lambda s: s.leased),
    "bbre.pool.idle": ("{session}", "Idle sessions ready to lease", lambda s: s.idle),
    "bbre.pool.waiters": ("{request}", "Callers waiting in acquire", lambda s: s.waiters),
    "bbre.pool.capacity.usable": (
        "{session}",
        "Sessions the pool may hold now (below max while others hold account slots)",
        lambda s: s.capacity,
    ),
    "bbre.pool.capacity.max": ("{session}", "The pool's max_size", lambda s: s.max_size),
    "bbre.pool.foreign_sessions": (
        "{session}",
        "Active sessions on the account that belong to no known pool",
        lambda s: _optional_int(getattr(s, "foreign", None)),
    ),
    "bbre.pool.acquire.wait.p50": (
        "s",
        "Median acquire wait over the recent leases",
        lambda s: s.acquire_wait_p50,
    ),
    "bbre.pool.acquire.wait.p99": (
        "s",
        "99th percentile acquire wait over the recent leases",
        lambda s: s.acquire_wait_p99,
    ),
}

#: name -> (unit, description, how to read it) for cumulative counts kept by the pool.
COUNTS: dict[str, tuple[str, str, Callable[[PoolStats], float | None]]] = {
    "bbre.pool.sessions.created": ("{session}", "Sessions created", lambda s: s.created),
    "bbre.pool.sessions.renewed": ("{session}", "Sessions renewed", lambda s: s.renewed),
    "bbre.pool.sessions.closed": ("{session}", "Sessions confirmed closed", lambda s: s.closed),
    "bbre.pool.sessions.create_failures": (
        "{error}",
        "Session creates that failed",
        lambda s: s.failed_creates,
    ),
    "bbre.pool.lost_creates.reconciled": (
        "{session}",
        "Creates whose answer was lost, found and adopted by reconciliation",
        lambda s: s.adopted,
    ),
    "bbre.pool.cost": ("USD", "Estimated spend from the pool's CostModel", lambda s: s.cost),
}


def _optional_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _reason(detail: str) -> str:
    return (detail.split(":", 1)[0].strip() or "unspecified")[:64]


@attrs.define(eq=False)
class _Tracked:
    """One instrumented pool: its attributes and the open intervals its events started."""

    pool: weakref.ReferenceType[SessionPool]
    attributes: Attributes
    leased_at: dict[str | None, float] = attrs.field(factory=dict)
    created_at: dict[str | None, float] = attrs.field(factory=dict)

    def stats(self) -> PoolStats | None:
        """A fresh snapshot (collections are seconds apart: no cache to go stale)."""
        pool = self.pool()
        return None if pool is None else pool.stats()


class _Instruments:
    """Every instrument of one meter, shared by the pools instrumented on it."""

    def __init__(self, meter: Meter) -> None:
        self.pools: list[_Tracked] = []
        self.reasons: set[str] = set()
        for name, (unit, description, read) in GAUGES.items():
            meter.create_observable_gauge(
                name, callbacks=[self._observer(read)], unit=unit, description=description
            )
        for name, (unit, description, read) in COUNTS.items():
            meter.create_observable_counter(
                name, callbacks=[self._observer(read)], unit=unit, description=description
            )
        meter.create_observable_counter(
            "bbre.pool.requests",
            callbacks=[self._observe_requests],
            unit="{request}",
            description="Requests sent through leased sessions, by outcome (ok | error)",
        )
        self.retired = meter.create_counter(
            "bbre.pool.sessions.retired",
            unit="{session}",
            description="Sessions retired, by reason",
        )
        self.extended = meter.create_counter(
            "bbre.pool.sessions.extended",
            unit="{session}",
            description="Sessions extended on the server instead of replaced",
        )
        self.close_failures = meter.create_counter(
            "bbre.pool.close_failures",
            unit="{error}",
            description="Session closes that could not be confirmed",
        )
        self.errors = meter.create_counter(
            "bbre.pool.errors", unit="{error}", description="Pool errors, by error class"
        )
        self.acquire_wait = meter.create_histogram(
            "bbre.pool.acquire.wait", unit="s", description="Time callers waited for a session"
        )
        self.lease_duration = meter.create_histogram(
            "bbre.pool.lease.duration", unit="s", description="How long callers held a session"
        )
        self.life_used = meter.create_histogram(
            "bbre.pool.session.life_used",
            unit="s",
            description="How long a session served, from its create to its close",
        )

    def _live(self) -> Iterator[tuple[_Tracked, PoolStats]]:
        for tracked in list(self.pools):
            stats = tracked.stats()
            if stats is None:
                self.pools.remove(tracked)
            else:
                yield tracked, stats

    def _observer(
        self, read: Callable[[PoolStats], float | None]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(_options: CallbackOptions) -> Iterable[Observation]:
            out = []
            for tracked, stats in self._live():
                value = read(stats)
                if value is not None:
                    out.append(Observation(value, tracked.attributes))
            return out

        return observe

    def _observe_requests(self, _options: CallbackOptions) -> Iterable[Observation]:
        out = []
        for tracked, stats in self._live():
            ok = stats.requests - stats.failed_requests
            out.append(Observation(ok, {**tracked.attributes, "outcome": "ok"}))
            out.append(
                Observation(stats.failed_requests, {**tracked.attributes, "outcome": "error"})
            )
        return out

    def reason(self, detail: str) -> str:
        reason = _reason(detail)
        if reason in self.reasons:
            return reason
        if len(self.reasons) >= MAX_REASONS:
            return "other"
        self.reasons.add(reason)
        return reason

    def on_event(self, tracked: _Tracked, event: PoolEvent) -> None:
        kind, sid, attributes = event.kind, event.session_id, tracked.attributes
        now = time.monotonic()
        if kind is EventKind.ACQUIRED:
            _remember(tracked.leased_at, sid, now)
            if event.waited is not None:
                self.acquire_wait.record(event.waited, attributes)
        elif kind is EventKind.RELEASED:
            started = tracked.leased_at.pop(sid, None)
            if started is not None:
                self.lease_duration.record(now - started, attributes)
        elif kind in (EventKind.CREATED, EventKind.ADOPTED):
            _remember(tracked.created_at, sid, now)
        elif kind is EventKind.RETIRED:
            self.retired.add(1, {**attributes, "reason": self.reason(event.detail)})
        elif kind is EventKind.CLOSED:
            started = tracked.created_at.pop(sid, None)
            if started is not None:
                self.life_used.record(now - started, attributes)
        elif kind is EventKind.ERROR:
            error_type = type(event.error).__name__ if event.error is not None else "unknown"
            self.errors.add(1, {**attributes, "error.type": error_type})
        elif kind is EventKind.EXTENDED:
            self.extended.add(1, attributes)
        elif kind is EventKind.CLOSE_FAILED:
            self.close_failures.add(1, attributes)


def _remember(starts: dict[str | None, float], key: str | None, now: float) -> None:
    if len(starts) >= MAX_OPEN_INTERVALS:
        starts.pop(next(iter(starts)))
    starts[key] = now


_by_meter: weakref.WeakKeyDictionary[Meter, _Instruments] = weakref.WeakKeyDictionary()


class PoolMetrics:
    """The handle ``instrument_pool`` returns: ``uninstrument()`` stops reporting the pool."""

    def __init__(self, instruments: _Instruments, tracked: _Tracked, remove: Callable[[], None]):
        self._instruments = instruments
        self._tracked = tracked
        self._remove_listener = remove

    @property
    def attributes(self) -> Attributes:
        """The attributes on every point of this pool."""
        return dict(self._tracked.attributes)

    def uninstrument(self) -> None:
        if self._tracked in self._instruments.pools:
            self._instruments.pools.remove(self._tracked)
            self._remove_listener()


def instrument_pool(
    pool: SessionPool,
    *,
    meter_provider: MeterProvider | None = None,
    pool_id: str | None = None,
) -> PoolMetrics:
    """Report ``pool`` through OpenTelemetry metrics (the global meter provider by default).

    ``pool_id`` names the pool in the ``bbre.pool.id`` attribute (a random id by default:
    pass a stable one, e.g. the worker's name, for dashboards). No API key or session
    secret is ever an attribute.
    """
    provider = meter_provider or metrics.get_meter_provider()
    meter = provider.get_meter(SCOPE, __version__)
    instruments = _by_meter.get(meter)
    if instruments is None:
        instruments = _by_meter[meter] = _Instruments(meter)
    tracked = _Tracked(
        pool=weakref.ref(pool),
        attributes={
            "bbre.provider": pool.backend.name,
            "bbre.pool.id": pool_id or uuid.uuid4().hex[:12],
        },
    )
    instruments.pools.append(tracked)
    remove = pool.add_listener(lambda event: instruments.on_event(tracked, event))
    return PoolMetrics(instruments, tracked, remove)
