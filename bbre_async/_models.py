"""Frozen value objects built from API payloads by named constructors.

Each ``from_json`` accepts every placement the API uses (``session`` at the top level or under
``data``) and both timestamp forms, and raises ``InvalidResponseError`` on anything else.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import attrs

from bbre_async._fields import (
    JSONObject,
    as_object,
    invalid,
    nested,
    opt_float,
    opt_int,
    opt_str,
    opt_time,
    req_float,
    req_str,
    short_repr,
)
from bbre_async._response import Response as Response

T = TypeVar("T")


class TaskStatus(enum.StrEnum):
    """Where a stateless request task is; the last three are terminal."""

    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMEOUT = "timeout"

    @property
    def is_terminal(self) -> bool:
        return self is not TaskStatus.PROCESSING


def _session_object(payload: JSONObject) -> JSONObject:
    found = nested(payload, ("session",), ("data", "session"), ("data",))
    if found is not None and ("id" in found or "sessionId" in found):
        return found
    if "sessionId" in payload or "id" in payload:
        return payload  # a session record given directly (a listing row) or a flat answer
    raise invalid("no session object in the answer", _keys(payload))


def _keys(payload: Mapping[str, Any]) -> list[str]:
    return sorted(str(k) for k in payload)[:12]


@attrs.frozen(kw_only=True)
class SessionInfo:
    """A session as the server describes it (status, listing or create answer)."""

    id: str
    status: str
    mode: str | None = None
    sensibility: str | None = None
    request_count: int = 0
    total_charged: float = 0.0
    expires_at: datetime | None = None
    created_at: datetime | None = None
    closed_at: datetime | None = None
    profile: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, payload: JSONObject) -> SessionInfo:
        obj = _session_object(as_object(payload, "answer"))
        session_id = req_str(obj, "id") if "id" in obj else req_str(obj, "sessionId")
        profile = obj.get("profile")
        return cls(
            id=session_id,
            status=opt_str(obj, "status") or "active",
            mode=opt_str(obj, "mode"),
            sensibility=opt_str(obj, "sensibility"),
            request_count=opt_int(obj, "requestCount"),
            total_charged=opt_float(obj, "totalCharged") or 0.0,
            expires_at=opt_time(obj, "expiresAt"),
            created_at=opt_time(obj, "createdAt"),
            closed_at=opt_time(obj, "closedAt"),
            profile=dict(profile) if isinstance(profile, Mapping) else None,
        )

    @property
    def is_active(self) -> bool:
        return self.status == "active"


@attrs.frozen(kw_only=True)
class TaskResult:
    """A stateless request task as ``/request/result`` reports it."""

    task_id: str
    status: TaskStatus
    response: Response | None = None
    error: str | None = None

    @classmethod
    def from_json(cls, payload: JSONObject, task_id: str) -> TaskResult:
        payload = as_object(payload, "answer")
        task = nested(payload, ("data", "task"), ("task",)) or payload
        raw_status = opt_str(task, "status") or opt_str(payload, "status")
        try:
            status = TaskStatus(raw_status or "")
        except ValueError:
            raise invalid("unknown task status", raw_status) from None
        response = None
        if status is TaskStatus.COMPLETED:
            response = Response.from_json({"task": {**task, "id": task.get("id", task_id)}})
        error = task.get("error")
        if isinstance(error, Mapping):
            error = error.get("message") or error.get("code")
        return cls(
            task_id=opt_str(task, "id") or task_id,
            status=status,
            response=response,
            error=(error if isinstance(error, str) else short_repr(error)) if error else None,
        )


@attrs.frozen(kw_only=True)
class Task:
    """One row of the usage history."""

    id: str
    type: str
    status: str
    mode: str | None = None
    url: str | None = None
    method: str | None = None
    price_charged: float = 0.0
    processing_time_ms: float | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None

    @classmethod
    def from_json(cls, payload: JSONObject) -> Task:
        obj = as_object(payload, "task")
        return cls(
            id=req_str(obj, "id"),
            type=opt_str(obj, "type") or "UNKNOWN",
            status=opt_str(obj, "status") or "unknown",
            mode=opt_str(obj, "mode"),
            url=opt_str(obj, "url"),
            method=opt_str(obj, "method"),
            price_charged=opt_float(obj, "priceCharged") or 0.0,
            processing_time_ms=opt_float(obj, "processingTime", default=None),
            created_at=opt_time(obj, "createdAt"),
            completed_at=opt_time(obj, "completedAt"),
        )


@attrs.frozen(kw_only=True)
class Balance:
    """The account balance in USD."""

    amount: float
    currency: str = "USD"

    @classmethod
    def from_json(cls, payload: JSONObject) -> Balance:
        obj = nested(as_object(payload, "answer"), ("data",)) or payload
        if "balance" not in obj and isinstance(obj.get("account"), Mapping):
            obj = obj["account"]
        value = obj.get("balance")
        if isinstance(value, Mapping):  # {"balance": {"amount": 1.0, "currency": "USD"}}
            return cls(
                amount=req_float(value, "amount"), currency=opt_str(value, "currency") or "USD"
            )
        return cls(amount=req_float(obj, "balance"), currency=opt_str(obj, "currency") or "USD")


@attrs.frozen(kw_only=True)
class AccountStatistics:
    total_requests: int = 0
    today_requests: int = 0
    completed_requests: int = 0
    failed_requests: int = 0
    success_rate: float | None = None
    active_sessions: int = 0

    @classmethod
    def from_json(cls, obj: JSONObject) -> AccountStatistics:
        return cls(
            total_requests=opt_int(obj, "totalRequests"),
            today_requests=opt_int(obj, "todayRequests"),
            completed_requests=opt_int(obj, "completedRequests"),
            failed_requests=opt_int(obj, "failedRequests"),
            success_rate=opt_float(obj, "successRate", default=None),
            active_sessions=opt_int(obj, "activeSessions"),
        )


@attrs.frozen(kw_only=True)
class AccountInfo:
    """The account and its usage statistics."""

    username: str | None
    email: str | None
    status: str
    balance: float
    created_at: datetime | None
    statistics: AccountStatistics

    @classmethod
    def from_json(cls, payload: JSONObject) -> AccountInfo:
        root = nested(as_object(payload, "answer"), ("data",)) or payload
        account = nested(root, ("account",))
        if account is None:
            raise invalid("no account object in the answer", _keys(root))
        stats = nested(root, ("statistics",), ("account", "statistics")) or {}
        return cls(
            username=opt_str(account, "username"),
            email=opt_str(account, "email"),
            status=opt_str(account, "status") or "unknown",
            balance=opt_float(account, "balance") or 0.0,
            created_at=opt_time(account, "createdAt"),
            statistics=AccountStatistics.from_json(stats),
        )


@attrs.frozen(kw_only=True)
class Page(Generic[T]):
    """One page of a listing, with the server's pagination numbers."""

    items: list[T]
    total: int
    limit: int
    offset: int

    @property
    def has_more(self) -> bool:
        return bool(self.items) and self.offset + len(self.items) < self.total


def parse_page(payload: JSONObject, key: str, parse: Any, *, limit: int, offset: int) -> Page[Any]:
    """Parse a ``{key: [...], pagination: {...}}`` listing (``data.`` nesting tolerated)."""
    root = as_object(payload, "answer")
    if key not in root and isinstance(root.get("data"), Mapping):
        root = root["data"]
    rows = root.get(key)
    if not isinstance(rows, list):
        raise invalid(f"{key!r} is not a list", rows)
    items = [parse(as_object(row, f"{key} row")) for row in rows]
    pagination = root.get("pagination")
    pagination = pagination if isinstance(pagination, Mapping) else {}
    total = opt_int(pagination, "total", default=-1)
    if total < 0:
        # No total: keep paging while pages come back full.
        more = 1 if len(items) >= limit else 0
        total = opt_int(root, "total", default=offset + len(items) + more)
    return Page(
        items=items,
        total=total,
        limit=opt_int(pagination, "limit", default=limit),
        offset=opt_int(pagination, "offset", default=offset),
    )


def utcnow() -> datetime:
    return datetime.now(UTC)
