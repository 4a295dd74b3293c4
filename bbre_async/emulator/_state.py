"""What the emulator remembers: accounts, sessions, tasks, and the counters tests assert on.

Records are mutable and slotted (they change on every request); ``AccountState`` and
``EmulatorState`` are frozen snapshots handed to users, so a test reads a consistent picture
while the server keeps running. Money is kept in integer micro-dollars to make totals exact.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs
import orjson

from bbre_async.emulator._settings import AccountSpec

MICROS = 1_000_000


def to_micros(usd: float) -> int:
    return round(usd * MICROS)


def to_usd(micros: int) -> float:
    return round(micros / MICROS, 6)


def iso(ms: int) -> str:
    """Epoch milliseconds as the vendor's ISO form: ``2024-06-15T11:30:00.000Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


@attrs.define(slots=True, eq=False)
class SessionRecord:
    """One remote session. ``status`` is the stored status ("the database"): it turns
    ``expired`` only when something processes the expiry (status/request/close or the sweep),
    which is why ``/account/sessions`` can lag behind the clock."""

    id: str
    account: Account
    mode: str
    sensibility: str
    created_ms: int
    expires_ms: int
    status: str = "active"
    ended_ms: int | None = None  # when the stored status left "active"
    closed_ms: int | None = None
    request_count: int = 0
    charged_micros: int = 0
    cookies: dict[str, str] = attrs.field(factory=dict)
    #: The browser profile as answers render it (``Engine.profile_of``).
    profile: orjson.Fragment | None = None
    in_flight: int = 0
    fingerprint: dict[str, Any] | None = None
    proxy: Any = None

    def is_due(self, now_ms: int) -> bool:
        return self.expires_ms <= now_ms

    def status_json(self, offset_ms: int) -> dict[str, Any]:
        """The ``/session/status`` shape: epoch milliseconds on the server's clock."""
        return {
            "id": self.id,
            "status": self.status,
            "mode": self.mode,
            "sensibility": self.sensibility,
            "requestCount": self.request_count,
            "totalCharged": to_usd(self.charged_micros),
            "expiresAt": self.expires_ms + offset_ms,
            "createdAt": self.created_ms + offset_ms,
        }


@attrs.define(slots=True, eq=False)
class TaskRecord:
    """One row of the usage history; stateless tasks also keep their pending result."""

    id: str
    type: str  # BBRE_REQUEST | BBRE_SESSION_REQUEST
    mode: str
    url: str
    method: str
    created_ms: int
    status: str = "processing"
    price_micros: int = 0
    completed_ms: int | None = None
    due_ms: int = 0
    outcome: str = "completed"
    result: dict[str, Any] | None = None
    session_id: str | None = None

    @classmethod
    def session_request(
        cls,
        id: str,
        mode: str,
        url: str,
        method: str,
        created_ms: int,
        price_micros: int,
        session_id: str,
    ) -> TaskRecord:
        """The row of a ``/session/request``, still processing (positional: half the cost of
        keywords, on every request)."""
        return cls(
            id,
            "BBRE_SESSION_REQUEST",
            mode,
            url,
            method,
            created_ms,
            "processing",
            price_micros,
            None,
            0,
            "completed",
            None,
            session_id,
        )

    def history_json(self, offset_ms: int) -> dict[str, Any]:
        """A history row on the server's clock; ``processingTime`` is ``completedAt -
        createdAt``."""
        completed = self.completed_ms
        return {
            "id": self.id,
            "type": self.type,
            "mode": self.mode,
            "status": self.status,
            "url": self.url,
            "method": self.method,
            "priceCharged": to_usd(self.price_micros),
            "processingTime": 0 if completed is None else completed - self.created_ms,
            "createdAt": iso(self.created_ms + offset_ms),
            "completedAt": None if completed is None else iso(completed + offset_ms),
        }


@attrs.define(slots=True, eq=False)
class Counters:
    """Per-account tallies for ``/_emulator/state``; each names a client behaviour to check.

    - ``peak_active_sessions``: most sessions alive at once by the clock (not the stored
      status), the number a pool must keep at or under the cap.
    - ``cap_rejections``: creates refused with ``429 SESSION_LIMIT_REACHED``.
    - ``requests_total``: ``/session/request`` calls that named an existing session of the
      account; ``requests_on_expired`` / ``requests_on_closed``: those refused for it.
    - ``concurrent_request_violations``: requests that arrived while another request on the same
      session was still in flight; ``max_in_flight_per_session``: the most seen at once.
    - ``closes_failed``: closes refused by ``Faults.failing_closes`` (the session stayed).
    - ``lost_answers``: calls processed whose answer was dropped, by endpoint.
    - ``faults``: injected faults by kind; ``calls``: authenticated calls by endpoint.
    """

    sessions_created: int = 0
    sessions_closed: int = 0
    sessions_expired: int = 0
    peak_active_sessions: int = 0
    cap_rejections: int = 0
    insufficient_balance: int = 0
    requests_total: int = 0
    requests_on_expired: int = 0
    requests_on_closed: int = 0
    concurrent_request_violations: int = 0
    max_in_flight_per_session: int = 0
    closes_failed: int = 0
    tasks_created: int = 0
    tasks_completed: int = 0
    tasks_failed: int = 0
    lost_answers: dict[str, int] = attrs.field(factory=dict)
    faults: dict[str, int] = attrs.field(factory=dict)
    calls: dict[str, int] = attrs.field(factory=dict)


@attrs.define(slots=True, eq=False)
class Account:
    """An account's live state.

    ``sessions`` holds every session still stored, in creation order; ``live`` those whose
    stored status is ``active`` (also in creation order, so an ``active`` listing never walks
    ended ones); ``ended`` the others in the order they ended, so the oldest are forgotten
    first (``Engine.prune``).
    """

    api_key: str = attrs.field(repr=False)
    name: str
    status: str
    email: str
    cap: int
    balance_micros: int
    created_ms: int
    charged_micros: int = 0
    live: dict[str, SessionRecord] = attrs.field(factory=dict)
    sessions: dict[str, SessionRecord] = attrs.field(factory=dict)
    ended: deque[SessionRecord] = attrs.field(factory=deque)
    history: list[TaskRecord] = attrs.field(factory=list)
    tasks: dict[str, TaskRecord] = attrs.field(factory=dict)
    pending: dict[str, TaskRecord] = attrs.field(factory=dict)
    counters: Counters = attrs.field(factory=Counters)

    @classmethod
    def from_spec(cls, spec: AccountSpec, *, cap: int, now_ms: int) -> Account:
        return cls(
            api_key=spec.api_key,
            name=spec.name,
            status=spec.status,
            email=spec.email or f"{spec.name}@emulator.invalid",
            cap=cap if spec.session_cap is None else spec.session_cap,
            balance_micros=to_micros(spec.balance),
            created_ms=now_ms,
        )

    def active_by_clock(self, now_ms: int) -> list[str]:
        return [s.id for s in self.live.values() if s.expires_ms > now_ms]


def _frozen_counts(value: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class AccountState:
    """A snapshot of one account's counters (see ``Counters``); ``active_sessions`` and
    ``active_session_ids`` are by the clock, ``balance`` and ``total_charged`` in USD;
    ``stored_sessions`` counts the sessions still kept (active plus those that ended within
    ``EmulatorSettings.session_retention``)."""

    name: str
    status: str
    balance: float
    total_charged: float
    sessions_created: int
    sessions_closed: int
    sessions_expired: int
    active_sessions: int
    peak_active_sessions: int
    cap_rejections: int
    insufficient_balance: int
    requests_total: int
    requests_on_expired: int
    requests_on_closed: int
    concurrent_request_violations: int
    max_in_flight_per_session: int
    closes_failed: int
    stored_sessions: int
    tasks_created: int
    lost_answers: Mapping[str, int] = attrs.field(converter=_frozen_counts)
    faults: Mapping[str, int] = attrs.field(converter=_frozen_counts)
    calls: Mapping[str, int] = attrs.field(converter=_frozen_counts)
    active_session_ids: tuple[str, ...]

    @classmethod
    def of(cls, account: Account, now_ms: int) -> AccountState:
        c = account.counters
        active = tuple(account.active_by_clock(now_ms))
        return cls(
            name=account.name,
            status=account.status,
            balance=to_usd(account.balance_micros),
            total_charged=to_usd(account.charged_micros),
            sessions_created=c.sessions_created,
            sessions_closed=c.sessions_closed,
            sessions_expired=c.sessions_expired,
            active_sessions=len(active),
            peak_active_sessions=c.peak_active_sessions,
            cap_rejections=c.cap_rejections,
            insufficient_balance=c.insufficient_balance,
            requests_total=c.requests_total,
            requests_on_expired=c.requests_on_expired,
            requests_on_closed=c.requests_on_closed,
            concurrent_request_violations=c.concurrent_request_violations,
            max_in_flight_per_session=c.max_in_flight_per_session,
            closes_failed=c.closes_failed,
            stored_sessions=len(account.sessions),
            tasks_created=c.tasks_created,
            lost_answers=c.lost_answers,
            faults=c.faults,
            calls=c.calls,
            active_session_ids=active,
        )

    def to_json(self) -> dict[str, Any]:
        out = attrs.asdict(self, recurse=False)
        for key in ("lost_answers", "faults", "calls"):
            out[key] = dict(out[key])
        out["active_session_ids"] = list(self.active_session_ids)
        return out


def _frozen_accounts(value: Mapping[str, AccountState]) -> Mapping[str, AccountState]:
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class EmulatorState:
    """A snapshot of the whole emulator, as ``GET /_emulator/state`` serves it.

    ``faults`` and ``lost_answers`` are totals over all calls, including calls whose key matched
    no account; ``internal_errors`` counts unexpected exceptions answered as ``SERVICE_ERROR``.
    ``now`` is the emulator's clock; ``clock_offset`` and ``expiry_form`` are the knobs in force
    (what the server says is ``now + clock_offset``); ``stored_sessions`` is the total over all
    accounts; ``failing_closes`` is the close failure in force, if any.
    """

    now: float
    time_scale: float
    clock_offset: float = 0.0
    expiry_form: str = "normal"
    failing_closes: str | None = None
    stored_sessions: int = 0
    accounts: Mapping[str, AccountState] = attrs.field(converter=_frozen_accounts)
    faults: Mapping[str, int] = attrs.field(converter=_frozen_counts)
    lost_answers: Mapping[str, int] = attrs.field(converter=_frozen_counts)
    internal_errors: int

    def account(self, name: str = "default") -> AccountState:
        return self.accounts[name]

    def to_json(self) -> dict[str, Any]:
        return {
            "now": self.now,
            "time_scale": self.time_scale,
            "clock_offset": self.clock_offset,
            "expiry_form": self.expiry_form,
            "failing_closes": self.failing_closes,
            "stored_sessions": self.stored_sessions,
            "accounts": {name: a.to_json() for name, a in self.accounts.items()},
            "faults": dict(self.faults),
            "lost_answers": dict(self.lost_answers),
            "internal_errors": self.internal_errors,
        }
