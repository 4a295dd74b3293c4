"""Configuration of the OrchestratorHQ emulator: organisations, keys, caps, credits, time.

Frozen, keyword-only and validated on construction, like the BBRE emulator's settings. Credit
prices and server counts are the emulator's own knobs, not vendor facts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import attrs


def _mask(secret: str | None) -> str:
    if not secret:
        return repr(secret)
    return repr(secret[:5] + "…" if len(secret) > 8 else "…")


def _non_empty(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{attribute.name} must be a non-empty string")


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be a finite number > 0")


def _optional_non_negative(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not (value >= 0 and math.isfinite(value))):
        raise ValueError(f"{attribute.name} must be None or a finite number >= 0")


@attrs.frozen(kw_only=True)
class OrgSpec:
    """One organisation and its API key.

    ``name`` labels the organisation in the emulator's state so the key is never shown.
    ``credits`` is the opening balance (``None``: unlimited); ``session_cap`` overrides the
    emulator-wide concurrency cap for this organisation.
    """

    api_key: str = attrs.field(validator=_non_empty, repr=_mask)
    name: str = attrs.field(default="default", validator=_non_empty)
    organization_id: str = attrs.field(
        default=attrs.Factory(lambda self: f"org_{self.name}", takes_self=True),
        validator=_non_empty,
    )
    user_id: str = attrs.field(default="user_emulator", validator=_non_empty)
    credits: float | None = attrs.field(default=None, validator=_optional_non_negative)
    session_cap: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(0))
    )


def _orgs(value: Iterable[OrgSpec]) -> tuple[OrgSpec, ...]:
    return tuple(value)


def _check_orgs(instance: Any, attribute: attrs.Attribute[Any], value: tuple[OrgSpec, ...]) -> None:
    if not value:
        raise ValueError("at least one organisation is needed")
    for field in ("api_key", "name", "organization_id"):
        seen = [getattr(org, field) for org in value]
        if len(set(seen)) != len(seen):
            raise ValueError(f"two organisations share the same {field}")


@attrs.frozen(kw_only=True)
class OrchestratorSettings:
    """Everything that shapes one OrchestratorHQ emulator.

    Time: ``time_scale`` compresses DURATIONS while TIMESTAMPS stay on the clock. With
    ``time_scale=60`` a session created with ``duration="1m"`` answers ``expires_at = now +
    1 s`` in wall time, and ``extend`` with ``"1m"`` adds one wall second; messages and
    credits still speak of the emulated minute.

    Limits: ``session_cap`` active sessions per organisation (``429 SESSION_LIMIT_EXCEEDED``
    beyond it); ``servers`` browser servers in all (``503 NO_SERVERS_AVAILABLE`` once each
    runs a session); ``credits_per_hour`` charged for the duration asked on create and on
    extend (``402 INSUFFICIENT_CREDITS`` when an organisation's credits fall short).
    ``seed`` seeds the ids and VNC passwords, so runs are reproducible.
    ``session_retention``: emulated seconds a stopped session stays stored (listed, readable);
    after that it is forgotten (``404 SESSION_NOT_FOUND``), so memory stays bounded.
    """

    orgs: tuple[OrgSpec, ...] = attrs.field(
        factory=lambda: (OrgSpec(api_key="orch_test_key"),),
        converter=_orgs,
        validator=_check_orgs,
    )
    time_scale: float = attrs.field(default=1.0, validator=_positive)
    session_cap: int = attrs.field(default=10, validator=attrs.validators.ge(0))
    servers: int = attrs.field(default=100, validator=attrs.validators.ge(0))
    credits_per_hour: float = attrs.field(default=1.0, validator=_optional_non_negative)
    seed: int | None = 0
    session_retention: float = attrs.field(default=3600.0, validator=_positive)
    node_domain: str = attrs.field(default="browser.emulator.invalid", validator=_non_empty)

    def scaled(self, emulated_seconds: float) -> float:
        """Clock seconds that ``emulated_seconds`` of API time take under ``time_scale``."""
        return emulated_seconds / self.time_scale

    def evolve(self, **changes: Any) -> OrchestratorSettings:
        """A copy with ``changes`` applied (and validated)."""
        return attrs.evolve(self, **changes)
