"""The OrchestratorHQ emulator's behaviour: every operation, as plain functions of state.

Handlers in ``_app`` do HTTP; this module does the rules (auth, durations, the organisation
cap, credits, servers, expiry) and raises ``OrchError`` for every refusal, so each rule can be
read, and tested, without a socket. Expiry is settled lazily at the start of every call
(sessions past ``expires_at`` become ``stopped``), which keeps it exact under any clock.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Mapping
from itertools import islice
from typing import Any

from bbre_async.emulator._clock import Clock
from bbre_async.emulator.orchestrator._duration import (
    DEFAULT_DURATION,
    describe,
    duration_seconds,
)
from bbre_async.emulator.orchestrator._errors import OrchError, validation
from bbre_async.emulator.orchestrator._faults import OrchFaults
from bbre_async.emulator.orchestrator._settings import OrchestratorSettings
from bbre_async.emulator.orchestrator._state import OrchestratorState, Org, SessionRecord, iso

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_OFFSET = 1_000_000_000  # a larger offset reads as this one: the page is empty anyway

_ALPHABET = string.ascii_letters + string.digits


class OrchestratorEngine:
    """All emulator state and rules. Single-threaded: call it from the serving event loop."""

    def __init__(self, settings: OrchestratorSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.faults = OrchFaults()
        #: Seconds the server's clock is ahead of ``clock`` (what it says, not how it runs);
        #: the BBRE emulator that mounts this API points it at its own offset.
        self.offset: Callable[[], float] = _no_offset
        #: The ``Date`` header to send, or ``None`` to let aiohttp state the wall clock; the
        #: BBRE emulator that mounts this API points it at its own server clock.
        self.date: Callable[[], str | None] = _no_date
        self.reset()

    def reset(self) -> None:
        """Forget sessions, counters and faults; organisations back to their settings."""
        settings = self.settings
        self.rng = random.Random(settings.seed)
        self.orgs = [Org.from_spec(spec, cap=settings.session_cap) for spec in settings.orgs]
        self.by_key = {org.api_key: org for org in self.orgs}
        self.by_id: dict[str, SessionRecord] = {}
        self.peak_active = 0
        self.unauthorized = 0
        self.faults.clear()
        self.faults.counts.clear()

    # -- plumbing ----------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock.time()

    def authenticate(self, authorization: str | None) -> Org:
        scheme, _, token = (authorization or "").partition(" ")
        org = self.by_key.get(token.strip()) if scheme.lower() == "bearer" else None
        if org is None:
            self.unauthorized += 1
            raise OrchError(401, "UNAUTHORIZED")
        return org

    def count_call(self, org: Org, endpoint: str) -> None:
        calls = org.counters.calls
        calls[endpoint] = calls.get(endpoint, 0) + 1

    def settle_expiry(self) -> int:
        """Stop every active session whose ``expires_at`` has passed (then forget the ones the
        retention lets go); returns how many expired."""
        now = self.now()
        expired = 0
        for org in self.orgs:
            for record in [r for r in org.active.values() if r.expires <= now]:
                self._end(record, "expiry", record.expires)
                org.counters.expired += 1
                expired += 1
        self.prune()
        return expired

    def _end(self, record: SessionRecord, why: str, when: float) -> None:
        record.status = "stopped"
        record.ended = when
        record.ended_by = why
        org = record.org
        org.active.pop(record.id, None)
        org.ended.append(record)

    def prune(self) -> int:
        """Forget sessions stopped longer than ``session_retention`` ago (``404`` afterwards),
        so memory and listing cost stay bounded on a long run; returns how many."""
        horizon = self.now() - self.settings.scaled(self.settings.session_retention)
        forgotten = 0
        for org in self.orgs:
            ended = org.ended
            while ended and (ended[0].ended or 0.0) < horizon:
                gone = ended.popleft()
                org.sessions.pop(gone.id, None)
                self.by_id.pop(gone.id, None)
                forgotten += 1
        return forgotten

    def _active_total(self) -> int:
        return sum(len(org.active) for org in self.orgs)

    def _token(self, prefix: str, length: int = 12) -> str:
        return prefix + "".join(self.rng.choices("0123456789abcdef", k=length))

    def _find(self, org: Org, session_id: str) -> SessionRecord:
        record = org.sessions.get(session_id)
        if record is None:
            raise OrchError(
                404,
                "SESSION_NOT_FOUND",
                f"Session with ID {session_id} not found",
                {"session_id": session_id},
            )
        return record

    def _running(self, org: Org, session_id: str) -> SessionRecord:
        record = self._find(org, session_id)
        if record.status != "active":
            raise OrchError(
                404,
                "SESSION_NOT_FOUND",
                f"Session with ID {session_id} not found or not running",
                {"session_id": session_id, "status": record.status},
            )
        return record

    def _charge(self, org: Org, emulated_seconds: int) -> None:
        cost = self.settings.credits_per_hour * emulated_seconds / 3600.0
        if org.credits is not None:
            if cost > org.credits + 1e-9:
                org.counters.credit_rejections += 1
                raise OrchError(
                    402,
                    "INSUFFICIENT_CREDITS",
                    context={"required": round(cost, 6), "available": round(org.credits, 6)},
                )
            org.credits = max(0.0, org.credits - cost)

    # -- operations --------------------------------------------------------------------------

    def create(self, org: Org, body: Mapping[str, Any]) -> dict[str, Any]:
        name = body.get("session_name")
        if not isinstance(name, str) or not name.strip():
            raise validation("session_name is required", field="session_name")
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise validation("description must be a string", field="description")
        try:
            emulated = duration_seconds(body.get("duration", DEFAULT_DURATION))
        except OrchError:
            org.counters.invalid_durations += 1
            raise
        if len(org.active) >= org.cap:
            org.counters.cap_rejections += 1
            raise OrchError(
                429,
                "SESSION_LIMIT_EXCEEDED",
                context={"limit": org.cap, "active_sessions": len(org.active)},
            )
        if self._active_total() >= self.settings.servers:
            org.counters.server_rejections += 1
            raise OrchError(503, "NO_SERVERS_AVAILABLE")
        self._charge(org, emulated)
        now = self.now()
        session_id = self._token("sess_")
        while session_id in self.by_id:
            session_id = self._token("sess_")
        record = SessionRecord(
            id=session_id,
            org=org,
            session_name=name,
            description=description,
            created=now,
            expires=now + self.settings.scaled(emulated),
            node=self.rng.randrange(self.settings.servers or 1),
            workload_id=self._token("workload_", 8),
            vnc_password="".join(self.rng.choices(_ALPHABET, k=20)),
            cdp_token=self._token("", 32),
            last_accessed=now,
        )
        org.sessions[session_id] = record
        org.active[session_id] = record
        self.by_id[session_id] = record
        org.counters.created += 1
        org.counters.peak_active = max(org.counters.peak_active, len(org.active))
        self.peak_active = max(self.peak_active, self._active_total())
        return record.detail_json(self.settings.node_domain, self.offset())

    def listing(self, org: Org, query: Mapping[str, str]) -> dict[str, Any]:
        """Newest first. Lenient, as the page lists no 400 for it: a ``limit``/``offset`` that
        is not an integer is ignored (25, 0), integers are clamped (``limit`` to 1-100,
        ``offset`` to >= 0). An unfiltered or ``active`` page never walks ended sessions."""
        limit = _int_param(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = _int_param(query, "offset", 0, 0, MAX_OFFSET)
        status = query.get("status")
        said = self.offset()
        if status is None or status == "active":
            stored = org.sessions if status is None else org.active
            total = len(stored)
            page = list(islice(reversed(stored.values()), offset, offset + limit))
        else:
            rows = [r for r in reversed(org.sessions.values()) if r.status == status]
            total = len(rows)
            page = rows[offset : offset + limit]
        return {
            "sessions": [r.row_json(said) for r in page],
            "total": total,
            "pagination": {"limit": limit, "offset": offset},
        }

    def get(self, org: Org, session_id: str) -> dict[str, Any]:
        record = self._find(org, session_id)
        if record.status == "active":
            record.last_accessed = self.now()
        return record.detail_json(self.settings.node_domain, self.offset())

    def extend(self, org: Org, session_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        record = self._running(org, session_id)
        if "duration" not in body:
            org.counters.invalid_durations += 1
            raise OrchError(400, "INVALID_DURATION", "duration is required", {"duration": None})
        try:
            emulated = duration_seconds(body["duration"])
        except OrchError:
            org.counters.invalid_durations += 1
            raise
        self._charge(org, emulated)
        record.expires += self.settings.scaled(emulated)
        record.last_accessed = self.now()
        org.counters.extended += 1
        return {
            "id": record.id,
            "session_name": record.session_name,
            "status": record.status,
            "expires_at": iso(record.expires + self.offset()),
            "message": f"Session extended by {describe(emulated)}",
        }

    def stop(self, org: Org, session_id: str) -> dict[str, Any]:
        record = self._running(org, session_id)
        self._end(record, "stop", self.now())
        org.counters.stopped += 1
        return {"message": "Session stopped successfully", "session_id": record.id}

    def system_status(self, org: Org) -> dict[str, Any]:
        total = self.settings.servers
        busy = min(total, self._active_total())
        return {
            "autoscaler": {
                "status": "healthy",
                "pool_status": {
                    "total": total,
                    "idle": total - busy,
                    "busy": busy,
                    "provisioning": 0,
                    "launching": 0,
                    "terminating": 0,
                },
            },
            "current_load": {
                "active_sessions": len(org.active),
                "organization_id": org.organization_id,
            },
            "timestamp": iso(self.now() + self.offset()),
        }

    def health(self) -> dict[str, Any]:
        return {
            "status": "healthy",
            "service": "orchestrator-api",
            "version": "1.0.0",
            "timestamp": iso(self.now() + self.offset()),
            "dependencies": {"database": "healthy", "autoscaler": "healthy"},
        }

    # -- observation -------------------------------------------------------------------------

    def snapshot(self) -> OrchestratorState:
        """Counters as of now (expiry settled first, so ``expired`` and ``active`` are exact)."""
        self.settle_expiry()
        return OrchestratorState.of(
            self.orgs,
            now=self.now(),
            time_scale=self.settings.time_scale,
            peak_active=self.peak_active,
            unauthorized=self.unauthorized,
            faults=self.faults.counts,
        )


def _no_offset() -> float:
    return 0.0


def _no_date() -> str | None:
    return None


def _int_param(
    query: Mapping[str, str], name: str, default: int, low: int, high: int | None
) -> int:
    """A query integer read leniently: not an integer means ``default``; clamped to bounds."""
    raw = query.get(name)
    try:
        value = int(raw) if raw else default
    except ValueError:
        return default
    value = max(value, low)
    return value if high is None else min(value, high)
