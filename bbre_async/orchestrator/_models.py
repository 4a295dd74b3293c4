"""OrchestratorHQ's answers as frozen value objects (snake_case ISO timestamps, aware datetimes).

Every field but ``id`` is optional: the listing rows carry a subset of the detail view, and an
answer that adds or drops a field should not break a caller that never reads it.
``vnc_password`` is a secret: it is kept for the caller but never shown by ``repr``/``str``,
and a malformed one is dropped rather than quoted in an error message.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, get_args

import attrs

from bbre_async._fields import (
    JSONObject,
    as_object,
    invalid,
    nested,
    opt_int,
    opt_str,
    opt_time,
    req_str,
    req_time,
    short_repr,
)

#: Every status the vendor lists for a session, in lifecycle order.
OrchSessionStatus = Literal["creating", "queued", "active", "stopping", "stopped", "failed"]
SESSION_STATUSES: tuple[OrchSessionStatus, ...] = get_args(OrchSessionStatus)


def _session_object(payload: JSONObject) -> JSONObject:
    """The session in an answer: flat (documented), or under ``session`` / ``data``."""
    root = as_object(payload, "answer")
    if "id" in root:
        return root
    found = nested(root, ("session",), ("data", "session"), ("data",))
    if found is not None and "id" in found:
        return found
    raise invalid("no session object in the answer", sorted(str(k) for k in root)[:12])


def _secret(obj: JSONObject, key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) and value else None


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@attrs.frozen(kw_only=True, repr=False)
class OrchSession:
    """A browser session as ``GET /sessions/{id}`` (or a listing row, or create) shows it."""

    id: str
    status: str
    session_name: str | None = None
    description: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    last_accessed_at: datetime | None = None
    expires_at: datetime | None = None
    cdp_url: str | None = None
    vnc_url: str | None = None
    vnc_password: str | None = attrs.field(default=None, repr=False)
    user_id: str | None = None
    organization_id: str | None = None
    organization_role: str | None = None
    autoscaler_workload_id: str | None = None
    autoscaler_server_id: str | None = None
    autoscaler_server_ip: str | None = None

    @classmethod
    def from_json(cls, payload: JSONObject) -> OrchSession:
        obj = _session_object(payload)
        return cls(
            id=req_str(obj, "id"),
            status=opt_str(obj, "status") or "unknown",
            session_name=opt_str(obj, "session_name"),
            description=opt_str(obj, "description"),
            created_at=opt_time(obj, "created_at"),
            started_at=opt_time(obj, "started_at"),
            last_accessed_at=opt_time(obj, "last_accessed_at"),
            expires_at=opt_time(obj, "expires_at"),
            cdp_url=opt_str(obj, "cdp_url"),
            vnc_url=opt_str(obj, "vnc_url"),
            vnc_password=_secret(obj, "vnc_password"),
            user_id=opt_str(obj, "user_id"),
            organization_id=opt_str(obj, "organization_id"),
            organization_role=opt_str(obj, "organization_role"),
            autoscaler_workload_id=opt_str(obj, "autoscaler_workload_id"),
            autoscaler_server_id=opt_str(obj, "autoscaler_server_id"),
            autoscaler_server_ip=opt_str(obj, "autoscaler_server_ip"),
        )

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    def remaining(self, now: float | None = None) -> float | None:
        """Seconds until the server's ``expires_at`` (None when the answer had none)."""
        if self.expires_at is None:
            return None
        return self.expires_at.timestamp() - (time.time() if now is None else now)

    def __repr__(self) -> str:
        secret = ", vnc_password='***'" if self.vnc_password else ""
        return (
            f"OrchSession(id={self.id!r}, session_name={self.session_name!r}, "
            f"status={self.status!r}, expires_at={_iso(self.expires_at)!r}{secret})"
        )


@attrs.frozen(kw_only=True)
class ExtendResult:
    """The answer to ``POST /sessions/{id}/extend``: the new ``expires_at`` and a message."""

    id: str
    expires_at: datetime
    status: str | None = None
    session_name: str | None = None
    message: str | None = None

    @classmethod
    def from_json(cls, payload: JSONObject) -> ExtendResult:
        obj = _session_object(payload)
        return cls(
            id=req_str(obj, "id"),
            expires_at=req_time(obj, "expires_at"),
            status=opt_str(obj, "status"),
            session_name=opt_str(obj, "session_name"),
            message=opt_str(obj, "message") or opt_str(as_object(payload, "answer"), "message"),
        )


@attrs.frozen(kw_only=True)
class AutoscalerPool:
    """Browser servers behind the API, by state (``GET /status``)."""

    total: int = 0
    idle: int = 0
    busy: int = 0
    provisioning: int = 0
    launching: int = 0
    terminating: int = 0

    @classmethod
    def from_json(cls, obj: JSONObject) -> AutoscalerPool:
        return cls(**{f.name: opt_int(obj, f.name) for f in attrs.fields(cls)})


@attrs.frozen(kw_only=True)
class SystemStatus:
    """``GET /status``: the autoscaler's health and pool, and this organisation's load."""

    autoscaler_status: str
    pool: AutoscalerPool
    active_sessions: int
    organization_id: str | None = None
    timestamp: datetime | None = None

    @classmethod
    def from_json(cls, payload: JSONObject) -> SystemStatus:
        root = as_object(payload, "answer")
        autoscaler = _sub(root, "autoscaler")
        load = _sub(root, "current_load")
        return cls(
            autoscaler_status=opt_str(autoscaler, "status") or "unknown",
            pool=AutoscalerPool.from_json(_sub(autoscaler, "pool_status")),
            active_sessions=opt_int(load, "active_sessions"),
            organization_id=opt_str(load, "organization_id"),
            timestamp=opt_time(root, "timestamp"),
        )


@attrs.frozen(kw_only=True)
class HealthStatus:
    """``GET /health``: the API's own status and each dependency's."""

    status: str
    service: str | None = None
    version: str | None = None
    timestamp: datetime | None = None
    dependencies: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def healthy(self) -> bool:
        return self.status == "healthy"

    @classmethod
    def from_json(cls, payload: JSONObject) -> HealthStatus:
        root = as_object(payload, "answer")
        deps = _sub(root, "dependencies")
        return cls(
            status=opt_str(root, "status") or "unknown",
            service=opt_str(root, "service"),
            version=opt_str(root, "version"),
            timestamp=opt_time(root, "timestamp"),
            dependencies={
                str(k): v if isinstance(v, str) else short_repr(v) for k, v in deps.items()
            },
        )


def _sub(obj: JSONObject, key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    return as_object(value, f"field {key!r}")
