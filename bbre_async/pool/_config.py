"""The pool's knobs, validated once at construction, and their typed keyword form."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypedDict

import attrs
from attrs import validators as v


def _finite_non_negative(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError(f"{attribute.name} must be a finite number, got {value!r}")
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


def _optional_positive(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    _finite_non_negative(_instance, attribute, value)
    if value == 0:
        raise ValueError(f"{attribute.name} must be > 0 or None, got {value!r}")


def _status_set(value: Iterable[int]) -> frozenset[int]:
    return frozenset(value)


def _delays(value: Iterable[float]) -> tuple[float, ...]:
    return tuple(value)


_count = [v.instance_of(int), v.ge(0)]


@attrs.frozen(kw_only=True)
class PoolConfig:
    """Every pool setting. ``SessionPool`` takes them as keyword arguments.

    Times are seconds. ``renew_margin`` and ``min_ttl`` adapt down to a quarter of the life a
    server actually grants (``max_margin_fraction``), so a server that grants 4 s instead of
    300 s gets sessions renewed at 3 s, not renewed forever.
    """

    max_size: int = attrs.field(default=10, validator=[v.instance_of(int), v.ge(1)])
    min_size: int = attrs.field(default=0, validator=_count)
    acquire_timeout: float = attrs.field(default=30.0, validator=_finite_non_negative)
    renew_margin: float = attrs.field(default=30.0, validator=_finite_non_negative)
    min_ttl: float | None = attrs.field(default=None, validator=v.optional(_finite_non_negative))
    max_margin_fraction: float = attrs.field(
        default=0.25, validator=[_finite_non_negative, v.le(0.9)]
    )
    renew_stagger: float = attrs.field(default=0.5, validator=[_finite_non_negative, v.le(1.0)])
    max_concurrent_renewals: int = attrs.field(default=2, validator=[v.instance_of(int), v.ge(1)])
    carry_cookies: bool = attrs.field(default=False, validator=v.instance_of(bool))
    max_requests_per_session: int | None = attrs.field(
        default=None, validator=v.optional([v.instance_of(int), v.ge(1)])
    )
    idle_timeout: float | None = attrs.field(default=60.0, validator=_optional_positive)
    retire_statuses: frozenset[int] = attrs.field(
        default=frozenset({403, 429}), converter=_status_set
    )
    max_consecutive_errors: int = attrs.field(default=3, validator=[v.instance_of(int), v.ge(1)])
    create_backoff: float = attrs.field(default=0.5, validator=_finite_non_negative)
    create_backoff_max: float = attrs.field(default=30.0, validator=_finite_non_negative)
    create_failures_to_surface: int = attrs.field(
        default=3, validator=[v.instance_of(int), v.ge(1)]
    )
    capacity_probe_backoff: float = attrs.field(default=2.0, validator=_finite_non_negative)
    # How often foreign sessions are counted while capacity is shrunk (regrowth follows it).
    capacity_refresh_interval: float = attrs.field(default=5.0, validator=_finite_non_negative)
    # Creates per minute, at most; ``None`` derives it from max_size and the granted life.
    max_creates_per_minute: int | None = attrs.field(
        default=None, validator=v.optional([v.instance_of(int), v.ge(1)])
    )
    # The life believed when the server's expiry is missing, zero, past or unparsable: the
    # documented minimum, so nothing is used past its end.
    fallback_life: float = attrs.field(default=10.0, validator=_finite_non_negative)
    # A session that dies before this fraction of its believed life counts as a create failure.
    young_death_fraction: float = attrs.field(
        default=0.5, validator=[_finite_non_negative, v.le(1.0)]
    )
    # How long a request whose caller was cancelled may finish in the background.
    request_grace: float = attrs.field(default=60.0, validator=_finite_non_negative)
    close_timeout: float = attrs.field(default=10.0, validator=_finite_non_negative)
    close_attempts: int = attrs.field(default=3, validator=[v.instance_of(int), v.ge(1)])
    shutdown_timeout: float = attrs.field(default=30.0, validator=_finite_non_negative)
    # On by default: SIGTERM (docker stop, systemd) closes every paid session.
    handle_signals: bool = attrs.field(default=True, validator=v.instance_of(bool))
    heartbeat_interval: float = attrs.field(default=5.0, validator=_finite_non_negative)
    reap_on_open: bool = attrs.field(default=True, validator=v.instance_of(bool))
    reap_foreign: bool = attrs.field(default=False, validator=v.instance_of(bool))
    adopt_unknown: bool = attrs.field(default=True, validator=v.instance_of(bool))
    # One free listing call a minute: cheap enough to be on by default (see the README).
    reconcile_interval: float | None = attrs.field(default=60.0, validator=_optional_positive)
    orphan_stale_after: float = attrs.field(default=30.0, validator=_finite_non_negative)
    # When to look for the session of a create whose answer was lost (seconds after it).
    lost_create_lookups: tuple[float, ...] = attrs.field(
        default=(0.0, 0.3, 1.0), converter=_delays, validator=attrs.validators.min_len(1)
    )

    def __attrs_post_init__(self) -> None:
        if self.min_size > self.max_size:
            raise ValueError(
                f"min_size ({self.min_size}) must not exceed max_size ({self.max_size})"
            )
        if self.create_backoff_max < self.create_backoff:
            raise ValueError("create_backoff_max must be >= create_backoff")

    def margin_for(self, life: float) -> float:
        """The renew margin for a session granted ``life`` seconds."""
        return min(self.renew_margin, max(0.0, life) * self.max_margin_fraction)

    def min_ttl_for(self, life: float, asked: float | None) -> float:
        """The least life a lease may start with, for a session granted ``life`` seconds."""
        base = self.renew_margin if self.min_ttl is None else self.min_ttl
        wanted = base if asked is None else asked
        return min(wanted, max(0.0, life) * self.max_margin_fraction)


# The documented life of a BBRE session at most; no believed life exceeds it.
MAX_SESSION_LIFE = 300.0


class PoolSettings(TypedDict, total=False):
    """``SessionPool``'s keyword settings, so a type checker rejects a misspelt one."""

    max_size: int
    min_size: int
    acquire_timeout: float
    renew_margin: float
    min_ttl: float | None
    max_margin_fraction: float
    renew_stagger: float
    max_concurrent_renewals: int
    carry_cookies: bool
    max_requests_per_session: int | None
    idle_timeout: float | None
    retire_statuses: Iterable[int]
    max_consecutive_errors: int
    create_backoff: float
    create_backoff_max: float
    create_failures_to_surface: int
    capacity_probe_backoff: float
    capacity_refresh_interval: float
    max_creates_per_minute: int | None
    fallback_life: float
    young_death_fraction: float
    request_grace: float
    close_timeout: float
    close_attempts: int
    shutdown_timeout: float
    handle_signals: bool
    heartbeat_interval: float
    reap_on_open: bool
    reap_foreign: bool
    adopt_unknown: bool
    reconcile_interval: float | None
    orphan_stale_after: float
    lost_create_lookups: Iterable[float]
