"""What the OrchestratorHQ emulator remembers, and the snapshots tests assert on.

Records are mutable and slotted (they change on every call); ``OrgState`` and
``OrchestratorState`` are frozen snapshots, so a test reads one consistent picture while the
server keeps running. Times are epoch seconds on the emulator's clock.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from bbre_async.emulator.orchestrator._settings import OrgSpec


def iso(moment: float) -> str:
    """Epoch seconds as the vendor's pages write them: UTC, whole seconds
    (``2025-01-15T10:30:00Z``). Truncated, never rounded up, so an ``expires_at`` read by a
    client is never later than the moment the session really ends."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(math.floor(moment)))


@attrs.define(slots=True, eq=False)
class SessionRecord:
    """One browser session. ``status`` leaves ``active`` when stopped or found expired."""

    id: str
    org: Org
    session_name: str
    description: str | None
    created: float
    expires: float
    node: int
    workload_id: str
    vnc_password: str = attrs.field(repr=False)
    cdp_token: str = attrs.field(repr=False)
    status: str = "active"
    last_accessed: float = 0.0
    ended: float | None = None
    ended_by: str | None = None  # "stop" | "expiry"

    def row_json(self, offset: float) -> dict[str, Any]:
        """A listing row: the fields the vendor's listing sample shows. ``offset``: seconds
        the server's clock is ahead of the emulator's."""
        return {
            "id": self.id,
            "session_name": self.session_name,
            "status": self.status,
            "created_at": iso(self.created + offset),
            "expires_at": iso(self.expires + offset),
            "last_accessed_at": iso((self.last_accessed or self.created) + offset),
        }

    def detail_json(self, domain: str, offset: float) -> dict[str, Any]:
        """``GET /sessions/{id}``: everything, including the connection URLs and password."""
        host = f"node-{self.node}.{domain}"
        return {
            "id": self.id,
            "session_name": self.session_name,
            "description": self.description,
            "status": self.status,
            "user_id": self.org.user_id,
            "organization_id": self.org.organization_id,
            "organization_role": "member",
            "created_at": iso(self.created + offset),
            "started_at": iso(self.created + offset),
            "last_accessed_at": iso((self.last_accessed or self.created) + offset),
            "expires_at": iso(self.expires + offset),
            "vnc_url": f"wss://{host}:6080/websockify",
            "cdp_url": f"ws://{host}:9222/devtools/browser/{self.cdp_token}",
            "vnc_password": self.vnc_password,
            "autoscaler_workload_id": self.workload_id,
            "autoscaler_server_id": f"server_{self.node}",
            "autoscaler_server_ip": f"10.0.{self.node // 250}.{self.node % 250 + 1}",
        }


@attrs.define(slots=True, eq=False)
class Counters:
    """Per-organisation tallies; each names a client behaviour a test can check.

    ``peak_active``: most sessions active at once (the number a pool keeps under the cap).
    ``cap_rejections``/``credit_rejections``/``server_rejections``: creates refused with 429,
    402, 503. ``extended``: successful extends; ``expired``: sessions that reached
    ``expires_at`` while active (a pool that renews in time leaves this at 0).
    """

    created: int = 0
    stopped: int = 0
    extended: int = 0
    expired: int = 0
    peak_active: int = 0
    cap_rejections: int = 0
    credit_rejections: int = 0
    server_rejections: int = 0
    invalid_durations: int = 0
    calls: dict[str, int] = attrs.field(factory=dict)


@attrs.define(slots=True, eq=False)
class Org:
    """An organisation's live state. ``sessions`` holds every session still stored (creation
    order), ``active`` those whose status is active, ``ended`` the stopped ones in the order
    they stopped (the oldest are forgotten first)."""

    api_key: str = attrs.field(repr=False)
    name: str
    organization_id: str
    user_id: str
    cap: int
    credits: float | None
    sessions: dict[str, SessionRecord] = attrs.field(factory=dict)
    active: dict[str, SessionRecord] = attrs.field(factory=dict)
    ended: deque[SessionRecord] = attrs.field(factory=deque)
    counters: Counters = attrs.field(factory=Counters)

    @classmethod
    def from_spec(cls, spec: OrgSpec, *, cap: int) -> Org:
        return cls(
            api_key=spec.api_key,
            name=spec.name,
            organization_id=spec.organization_id,
            user_id=spec.user_id,
            cap=cap if spec.session_cap is None else spec.session_cap,
            credits=spec.credits,
        )


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class OrgState:
    """A snapshot of one organisation (see ``Counters``); ``active`` is the current count."""

    name: str
    organization_id: str
    credits: float | None
    created: int
    stopped: int
    extended: int
    expired: int
    active: int
    peak_active: int
    cap_rejections: int
    credit_rejections: int
    server_rejections: int
    invalid_durations: int
    calls: Mapping[str, int] = attrs.field(converter=_frozen)
    active_session_ids: tuple[str, ...]

    @classmethod
    def of(cls, org: Org) -> OrgState:
        c = org.counters
        return cls(
            name=org.name,
            organization_id=org.organization_id,
            credits=org.credits,
            created=c.created,
            stopped=c.stopped,
            extended=c.extended,
            expired=c.expired,
            active=len(org.active),
            peak_active=c.peak_active,
            cap_rejections=c.cap_rejections,
            credit_rejections=c.credit_rejections,
            server_rejections=c.server_rejections,
            invalid_durations=c.invalid_durations,
            calls=c.calls,
            active_session_ids=tuple(org.active),
        )

    def to_json(self) -> dict[str, Any]:
        out = attrs.asdict(self, recurse=False)
        out["calls"] = dict(self.calls)
        out["active_session_ids"] = list(self.active_session_ids)
        return out


_SUMMED = (
    "created",
    "stopped",
    "extended",
    "expired",
    "active",
    "cap_rejections",
    "credit_rejections",
    "server_rejections",
    "invalid_durations",
)


@attrs.frozen(kw_only=True)
class OrchestratorState:
    """A snapshot of the whole emulator. The counters are totals over every organisation;
    ``peak_active`` is the most sessions active at once across all of them, ``faults`` the
    injected faults by kind, ``unauthorized`` the calls refused with 401."""

    now: float
    time_scale: float
    created: int
    stopped: int
    extended: int
    expired: int
    active: int
    peak_active: int
    cap_rejections: int
    credit_rejections: int
    server_rejections: int
    invalid_durations: int
    unauthorized: int
    faults: Mapping[str, int] = attrs.field(converter=_frozen)
    orgs: Mapping[str, OrgState] = attrs.field(converter=_frozen)

    @classmethod
    def of(
        cls,
        orgs: list[Org],
        *,
        now: float,
        time_scale: float,
        peak_active: int,
        unauthorized: int,
        faults: Mapping[str, int],
    ) -> OrchestratorState:
        states = {org.name: OrgState.of(org) for org in orgs}
        sums = {key: sum(getattr(s, key) for s in states.values()) for key in _SUMMED}
        return cls(
            now=now,
            time_scale=time_scale,
            peak_active=peak_active,
            unauthorized=unauthorized,
            faults=faults,
            orgs=states,
            **sums,
        )

    def org(self, name: str = "default") -> OrgState:
        return self.orgs[name]

    def to_json(self) -> dict[str, Any]:
        out = attrs.asdict(self, recurse=False)
        out["faults"] = dict(self.faults)
        out["orgs"] = {name: state.to_json() for name, state in self.orgs.items()}
        return out
