"""Configuration of the emulator: accounts, prices, latency, faults, time.

Every value object here is frozen, keyword-only and validated on construction, so a bad setting
fails where it is written rather than as a strange answer in the middle of a test run. Prices and
durations are the emulator's own settings, not the vendor's price list.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Literal

import attrs

from bbre_async.emulator._fault_settings import (
    CLOSE_FAILURES,
    ENDPOINTS,
    FAULT_KINDS,
    CloseFailure,
    FaultKind,
    Faults,
    check_endpoints,
)
from bbre_async.emulator._targets import TargetRule
from bbre_async.emulator.orchestrator._settings import OrchestratorSettings

MODES = ("passive", "adaptive")
SENSIBILITIES = ("low", "medium", "high")
ACCOUNT_STATUSES = ("active", "suspended", "inactive")

CloseExpired = Literal["closed", "expired", "close"]

ExpiryForm = Literal["normal", "missing", "past", "equal_created", "day_too_far", "unparsable"]
#: What ``expiresAt`` says in ``/session/create`` and ``/session/status`` answers (the session
#: itself always lives its granted life): see ``EmulatorSettings.expiry_form``.
EXPIRY_FORMS: tuple[ExpiryForm, ...] = (
    "normal",
    "missing",
    "past",
    "equal_created",
    "day_too_far",
    "unparsable",
)

__all__ = [
    "CLOSE_FAILURES",
    "ENDPOINTS",
    "EXPIRY_FORMS",
    "FAULT_KINDS",
    "AccountSpec",
    "CloseFailure",
    "EmulatorSettings",
    "ExpiryForm",
    "FaultKind",
    "Faults",
    "Latency",
    "Prices",
]


def _frozen_map(
    value: Mapping[str, float] | Iterable[tuple[str, float]] | None,
) -> Mapping[str, float]:
    return MappingProxyType({str(k): float(v) for k, v in dict(value or {}).items()})


def _non_negative_values(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    for key, seconds in value.items():
        if not (seconds >= 0 and math.isfinite(seconds)):
            raise ValueError(f"{attribute.name}[{key!r}] must be a finite number >= 0")


def _mask(secret: str | None) -> str:
    if not secret:
        return repr(secret)
    return repr(secret[:2] + "…" if len(secret) > 4 else "…")


_ge0 = attrs.validators.ge(0.0)


@attrs.frozen(kw_only=True)
class Prices:
    """USD charged per operation (emulator settings, not vendor truth).

    A session's ``totalCharged`` counts its requests only (the vendor's status page says the
    creation charge is not included), so ``session_create`` shows up in the balance alone.
    """

    session_create: float = attrs.field(default=0.01, validator=_ge0)
    session_request_passive: float = attrs.field(default=0.005, validator=_ge0)
    session_request_adaptive: float = attrs.field(default=0.012, validator=_ge0)
    request_passive: float = attrs.field(default=0.005, validator=_ge0)
    request_adaptive: float = attrs.field(default=0.012, validator=_ge0)

    def session_request(self, mode: str) -> float:
        return self.session_request_adaptive if mode == "adaptive" else self.session_request_passive

    def request(self, mode: str) -> float:
        return self.request_adaptive if mode == "adaptive" else self.request_passive


@attrs.frozen(kw_only=True)
class Latency:
    """Server-side delay added before answering, in REAL seconds (never scaled by time_scale).

    The delay of one call is ``endpoints.get(name, default) + modes.get(mode, 0)`` plus a uniform
    draw from ``[0, jitter]``; ``modes`` only applies to calls that run a target request
    (``session/request``, ``request/create``, ``request/execute``). Real seconds, because a
    benchmark needs "50 ms of server time" whatever the time scale.
    """

    default: float = attrs.field(default=0.0, validator=_ge0)
    endpoints: Mapping[str, float] = attrs.field(
        factory=dict, converter=_frozen_map, validator=_non_negative_values
    )
    modes: Mapping[str, float] = attrs.field(
        factory=dict, converter=_frozen_map, validator=_non_negative_values
    )
    jitter: float = attrs.field(default=0.0, validator=_ge0)

    def __attrs_post_init__(self) -> None:
        check_endpoints(self.endpoints, "Latency.endpoints")
        unknown = sorted(set(self.modes) - set(MODES))
        if unknown:
            raise ValueError(f"Latency.modes: unknown mode(s) {unknown}")

    @property
    def enabled(self) -> bool:
        """False when every delay is zero, so the hot path can skip the sleep entirely."""
        return bool(
            self.default or self.jitter or any(self.endpoints.values()) or any(self.modes.values())
        )

    def delay(self, endpoint: str, mode: str | None, rng: random.Random) -> float:
        seconds = self.endpoints.get(endpoint, self.default)
        if mode is not None:
            seconds += self.modes.get(mode, 0.0)
        if self.jitter:
            seconds += rng.uniform(0.0, self.jitter)
        return seconds


def _account_status(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in ACCOUNT_STATUSES:
        raise ValueError(f"AccountSpec.status must be one of {ACCOUNT_STATUSES}, not {value!r}")


def _non_empty(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value:
        raise ValueError(f"AccountSpec.{attribute.name} must not be empty")


@attrs.frozen(kw_only=True)
class AccountSpec:
    """One account the emulator knows: its API key, a label, its state and opening balance.

    ``name`` labels the account in ``/_emulator/state`` so the key itself is never shown.
    ``session_cap`` overrides the emulator-wide cap for this account.
    """

    api_key: str = attrs.field(validator=_non_empty, repr=_mask)
    name: str = attrs.field(default="default", validator=_non_empty)
    status: str = attrs.field(default="active", validator=_account_status)
    balance: float = attrs.field(default=100.0, validator=attrs.validators.instance_of(float | int))
    email: str | None = None
    session_cap: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(0))
    )


def _accounts(value: Iterable[AccountSpec]) -> tuple[AccountSpec, ...]:
    return tuple(value)


def _check_accounts(
    instance: Any, attribute: attrs.Attribute[Any], value: tuple[AccountSpec, ...]
) -> None:
    keys = [a.api_key for a in value]
    names = [a.name for a in value]
    if len(set(keys)) != len(keys):
        raise ValueError("two accounts share an API key")
    if len(set(names)) != len(names):
        raise ValueError("two accounts share a name")


def _range(instance: Any, attribute: attrs.Attribute[Any], value: tuple[float, float]) -> None:
    low, high = value
    if not 0 < low <= high:
        raise ValueError(f"{attribute.name} must be (low, high) with 0 < low <= high")


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be a finite number > 0")


def _finite(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{attribute.name} must be a finite number")


def _optional_positive(instance: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None:
        _positive(instance, attribute, value)


def _targets(value: Iterable[TargetRule]) -> tuple[TargetRule, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class EmulatorSettings:
    """Everything that shapes one emulator.

    Time: ``time_scale`` compresses DURATIONS (session lives, task processing, listing lag) while
    TIMESTAMPS stay on the clock. With ``time_scale=100`` a session created with ``timeout=300``
    answers ``expiresAt = now + 3 s`` in wall time, so a client in another process that reads
    ``expiresAt`` agrees on the expiry without sharing the clock.

    Sessions: ``timeout_range`` is what the request validator accepts (else ``400
    INVALID_REQUEST``) and ``life_clamp`` what the controller then applies, as the vendor
    documents (60-3600 accepted, 10-300 applied). ``cap_counts_unswept`` keeps a session that is
    past due but not yet processed by the sweep counting against the cap, as the vendor warns;
    ``close_expired`` picks the answer to closing an expired session: ``"closed"`` (``400
    SESSION_CLOSED``, the default), ``"expired"`` (``400 SESSION_EXPIRED``) or ``"close"``
    (it succeeds and the session becomes closed).

    Stateless tasks: ``task_processing`` emulated seconds each (scaled), ``30 s`` default
    ``timeout``, and ``/request/execute`` gives up after ``execute_limit``.

    Server clock: ``clock_offset`` puts the server's clock that many seconds ahead of the
    emulator's clock (negative: behind), as a real server's clock may disagree with its
    clients'. It changes what the server SAYS, never how it runs: every timestamp it sends
    (``createdAt``, ``expiresAt``, ``closedAt``, history times, OrchestratorHQ's ``*_at``) and
    its ``Date`` header are shifted, and ``startDate``/``endDate`` filters are read on the
    server's clock, while lives, expiry and the sweep keep running on the emulator's clock.

    Expiry forms: ``expiry_form`` picks what ``expiresAt`` says in ``/session/create`` and
    ``/session/status`` answers, while the session lives its granted life all the same:
    ``"normal"`` (the truth), ``"missing"`` (no ``expiresAt`` key), ``"past"`` (a minute before
    ``createdAt``), ``"equal_created"`` (``createdAt`` itself), ``"day_too_far"`` (the true
    expiry plus 24 h) or ``"unparsable"`` (the string ``"not-a-timestamp"``). The listing keeps
    the truth.

    Storage: sessions that ended (closed or expired) more than ``session_retention``
    emulated seconds ago (scaled by ``time_scale``) are forgotten, as the vendor cleans them
    up (``404 SESSION_NOT_FOUND`` afterwards), so memory and listing cost stay bounded on a
    long run; ``stored_sessions`` in the state counts what is kept.

    ``clock_offset``, ``expiry_form`` and the faults can be changed while the emulator runs:
    ``Emulator.set_clock_offset()``, ``set_expiry_form()``, ``set_faults()``,
    ``fail_closes()``, or over HTTP (``/_emulator/clock``, ``/_emulator/expiry``,
    ``/_emulator/faults``, ``/_emulator/closes``).

    ``sweep_interval`` is in real seconds; ``None`` disables the background sweep (call
    ``Emulator.sweep()`` instead). ``seed`` seeds the RNG behind faults and jitter.
    ``history_limit`` bounds the usage history kept per account (older rows are dropped).
    ``admin_token``, when set, is required on ``/_emulator/*``.

    ``orchestrator`` configures the OrchestratorHQ API served under ``/api`` by the same
    emulator (its organisations, ``orch_...`` keys, cap, credits); ``None`` serves BBRE alone.
    It runs on this emulator's clock and ``time_scale``: leave its own ``time_scale`` unset.
    """

    accounts: tuple[AccountSpec, ...] = attrs.field(
        factory=lambda: (AccountSpec(api_key="test-key"),),
        converter=_accounts,
        validator=_check_accounts,
    )
    time_scale: float = attrs.field(default=1.0, validator=_positive)
    session_cap: int = attrs.field(default=10, validator=attrs.validators.ge(0))
    default_session_timeout: float = attrs.field(default=300.0, validator=_positive)
    timeout_range: tuple[float, float] = attrs.field(default=(60.0, 3600.0), validator=_range)
    life_clamp: tuple[float, float] = attrs.field(default=(10.0, 300.0), validator=_range)
    sweep_interval: float | None = attrs.field(default=1.0, validator=_optional_positive)
    cap_counts_unswept: bool = True
    close_expired: CloseExpired = attrs.field(
        default="closed", validator=attrs.validators.in_(("closed", "expired", "close"))
    )
    task_processing: float = attrs.field(default=2.0, validator=_ge0)
    request_timeout_default: float = attrs.field(default=30.0, validator=_positive)
    execute_limit: float = attrs.field(default=120.0, validator=_positive)
    prices: Prices = attrs.field(factory=Prices)
    latency: Latency = attrs.field(factory=Latency)
    faults: Faults = attrs.field(factory=Faults)
    targets: tuple[TargetRule, ...] = attrs.field(factory=tuple, converter=_targets)
    clock_offset: float = attrs.field(default=0.0, validator=_finite)
    expiry_form: ExpiryForm = attrs.field(
        default="normal", validator=attrs.validators.in_(EXPIRY_FORMS)
    )
    session_retention: float = attrs.field(default=3600.0, validator=_ge0)
    seed: int | None = 0
    history_limit: int = attrs.field(default=50_000, validator=attrs.validators.ge(1))
    admin_token: str | None = attrs.field(default=None, repr=_mask)
    orchestrator: OrchestratorSettings | None = attrs.field(
        factory=OrchestratorSettings,
        validator=attrs.validators.optional(attrs.validators.instance_of(OrchestratorSettings)),
    )

    def __attrs_post_init__(self) -> None:
        mounted = self.orchestrator
        if mounted is not None and mounted.time_scale not in (1.0, self.time_scale):
            raise ValueError(
                "the OrchestratorHQ API runs on the emulator's time_scale: set "
                "EmulatorSettings.time_scale instead of OrchestratorSettings.time_scale"
            )

    def scaled(self, emulated_seconds: float) -> float:
        """Clock seconds that ``emulated_seconds`` of API time take under ``time_scale``."""
        return emulated_seconds / self.time_scale

    def session_life(self, requested: float) -> float:
        """Emulated life the controller grants for a validated ``timeout``."""
        low, high = self.life_clamp
        return min(max(requested, low), high)

    def evolve(self, **changes: Any) -> EmulatorSettings:
        """A copy with ``changes`` applied (and validated)."""
        return attrs.evolve(self, **changes)
