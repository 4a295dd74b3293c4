"""Fault settings: which calls misbehave, and how (part of ``EmulatorSettings``).

Kept apart from the other settings because faults are what tests change most while the
emulator runs (``Emulator.set_faults()``, ``POST /_emulator/faults``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import attrs

_ge0 = attrs.validators.ge(0.0)

#: Names of the BBRE endpoints, as used to select latency and faults. ``/request/sync`` is an
#: alias of ``/request/execute`` and shares its name.
ENDPOINTS = (
    "session/create",
    "session/request",
    "session/status",
    "session/close",
    "account/sessions",
    "account/history",
    "account/balance",
    "account/info",
    "request/create",
    "request/result",
    "request/execute",
)

FaultKind = Literal[
    "drop", "bad_gateway", "service_error", "rate_limit", "lost_answer", "garbled_answer"
]
#: Fault kinds, in the order a single random draw is mapped onto them.
FAULT_KINDS: tuple[FaultKind, ...] = (
    "drop",
    "bad_gateway",
    "service_error",
    "rate_limit",
    "lost_answer",
    "garbled_answer",
)


CloseFailure = Literal["error", "timeout"]
#: How a failing close answers: ``500 SERVICE_ERROR``, or no answer at all.
CLOSE_FAILURES: tuple[CloseFailure, ...] = ("error", "timeout")


def check_endpoints(names: Iterable[str], what: str) -> None:
    unknown = sorted(set(names) - set(ENDPOINTS))
    if unknown:
        raise ValueError(f"{what}: unknown endpoint(s) {unknown}; known: {list(ENDPOINTS)}")


def _rate(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"Faults.{attribute.name} is a probability and must be in [0, 1]")


def _endpoint_set(value: Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = (value,)
    names = frozenset(value)
    check_endpoints(names, "Faults.endpoints")
    return names


@attrs.frozen(kw_only=True)
class Faults:
    """Random faults, each a probability per call, drawn from the emulator's seeded RNG.

    - ``drop``: the connection is aborted before anything is processed.
    - ``bad_gateway``: an HTML ``502`` page, as a proxy in front of the API would send.
    - ``service_error``: ``500 SERVICE_ERROR``; nothing is processed.
    - ``rate_limit``: ``429 RATE_LIMIT_EXCEEDED`` with ``Retry-After`` and ``retryAfter``.
    - ``lost_answer``: the call IS processed (a session created, a charge taken), then the
      connection is aborted without an answer: the case that makes blind retries unsafe.
    - ``garbled_answer``: the call IS processed, then answered with its status (``200`` when
      it succeeded) but only the first half of its JSON body, so it cannot be parsed: a
      session may exist though its answer cannot be read.

    Two faults aimed at one endpoint each, outside the draw above (``endpoints`` does not
    limit them):

    - ``create_bad_gateway``: a probability per ``/session/create`` call of a proxy's HTML
      ``502`` answered BEFORE the call reaches the server: nothing is created or charged (the
      twin of ``lost_answer``, where the session does exist). Counted as ``create_bad_gateway``
      in the ``faults`` counters.
    - ``failing_closes``: while set, every ``/session/close`` fails and the session stays
      active: ``"error"`` answers ``500 SERVICE_ERROR``, ``"timeout"`` holds the call without an
      answer until the failure is lifted (or the emulator stops), then drops the connection.
      ``Emulator.fail_closes(kind, duration=...)`` sets it for a window of clock seconds.

    ``endpoints`` limits the rates to some endpoints (names as in ``ENDPOINTS``); ``None`` means
    all. ``retry_after`` is sent as is (real seconds). ``listing_lag`` makes
    ``/account/sessions`` show the account as it was that many emulated seconds ago (scaled by
    ``time_scale``): newer sessions are missing and newer closes and expiries do not show yet.
    Scripted faults (``Emulator.inject``) come on top of the rates.
    """

    drop: float = attrs.field(default=0.0, validator=_rate)
    bad_gateway: float = attrs.field(default=0.0, validator=_rate)
    service_error: float = attrs.field(default=0.0, validator=_rate)
    rate_limit: float = attrs.field(default=0.0, validator=_rate)
    lost_answer: float = attrs.field(default=0.0, validator=_rate)
    garbled_answer: float = attrs.field(default=0.0, validator=_rate)
    create_bad_gateway: float = attrs.field(default=0.0, validator=_rate)
    failing_closes: CloseFailure | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(CLOSE_FAILURES))
    )
    endpoints: frozenset[str] | None = attrs.field(default=None, converter=_endpoint_set)
    retry_after: float = attrs.field(default=1.0, validator=_ge0)
    listing_lag: float = attrs.field(default=0.0, validator=_ge0)

    def __attrs_post_init__(self) -> None:
        if self.total_rate > 1.0 + 1e-9:
            raise ValueError("the fault rates add up to more than 1")

    @property
    def total_rate(self) -> float:
        return float(sum(getattr(self, kind) for kind in FAULT_KINDS))

    def rates(self) -> dict[str, float]:
        return {kind: getattr(self, kind) for kind in FAULT_KINDS}
