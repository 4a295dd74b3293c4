"""``client.account``: balance, account info, and the session and usage listings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from bbre_async._caller import APICaller
from bbre_async._models import AccountInfo, Balance, Page, SessionInfo, Task, parse_page
from bbre_async._paging import paginate
from bbre_async._timeout import TimeoutLike
from bbre_async._timeutil import to_iso
from bbre_async._types import SessionStatusName, TaskStatusName

SESSION_STATUSES = frozenset({"active", "closed", "expired"})
TASK_STATUSES = frozenset({"completed", "failed", "processing", "timeout"})


def _check_status(status: str | None, allowed: frozenset[str]) -> None:
    if status is not None and status not in allowed:
        raise ValueError(f"status must be one of {sorted(allowed)} or None, got {status!r}")


def _check_page(limit: int, offset: int) -> None:
    if limit < 1:
        raise ValueError("limit/page_size must be >= 1")
    if offset < 0:
        raise ValueError("offset must be >= 0")


def _aware(name: str, moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. datetime.now(UTC))")
    return moment


class AccountResource:
    """Calls on ``/account/*``; listings are lazy async iterators over pages."""

    def __init__(self, caller: APICaller) -> None:
        self._caller = caller

    async def balance(self, *, timeout: TimeoutLike | None = None) -> float:
        """The account balance in USD (free)."""
        answer = await self._caller.call("POST", "/account/balance", timeout=timeout)
        return Balance.from_json(answer.json()).amount

    async def info(self, *, timeout: TimeoutLike | None = None) -> AccountInfo:
        """Account details and usage statistics (free)."""
        answer = await self._caller.call("POST", "/account/info", timeout=timeout)
        return AccountInfo.from_json(answer.json())

    async def sessions_page(
        self,
        *,
        status: str | None = None,
        limit: int = 20,
        offset: int = 0,
        timeout: TimeoutLike | None = None,
    ) -> Page[SessionInfo]:
        """One page of the account's sessions, newest first. The listing can lag: a session
        past its expiry may still show ``active`` until the server reconciles it."""
        _check_status(status, SESSION_STATUSES)
        _check_page(limit, offset)
        body: dict[str, Any] = {"limit": limit, "offset": offset}
        if status is not None:
            body["status"] = status
        answer = await self._caller.call("POST", "/account/sessions", json=body, timeout=timeout)
        return parse_page(
            answer.json(), "sessions", SessionInfo.from_json, limit=limit, offset=offset
        )

    def sessions(
        self,
        *,
        status: SessionStatusName | None = None,
        page_size: int = 20,
        timeout: TimeoutLike | None = None,
    ) -> AsyncIterator[SessionInfo]:
        """Every session (optionally of one status), fetched a page at a time; ``timeout``
        bounds each page's call."""
        _check_status(status, SESSION_STATUSES)

        async def fetch(limit: int, offset: int) -> Page[SessionInfo]:
            return await self.sessions_page(
                status=status, limit=limit, offset=offset, timeout=timeout
            )

        return paginate(fetch, page_size=page_size)

    async def history_page(
        self,
        *,
        status: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
        timeout: TimeoutLike | None = None,
    ) -> Page[Task]:
        """One page of usage history (tasks), newest first, filtered on ``createdAt``."""
        _check_status(status, TASK_STATUSES)
        _check_page(limit, offset)
        body: dict[str, Any] = {"limit": limit, "offset": offset}
        if status is not None:
            body["status"] = status
        if _aware("start", start) is not None:
            body["startDate"] = to_iso(start)  # type: ignore[arg-type]
        if _aware("end", end) is not None:
            body["endDate"] = to_iso(end)  # type: ignore[arg-type]
        answer = await self._caller.call("POST", "/account/history", json=body, timeout=timeout)
        return parse_page(answer.json(), "tasks", Task.from_json, limit=limit, offset=offset)

    def history(
        self,
        *,
        status: TaskStatusName | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        page_size: int = 50,
        timeout: TimeoutLike | None = None,
    ) -> AsyncIterator[Task]:
        """Every task in the range, each once. Without ``end`` the range is frozen at "now"
        when iteration starts, so tasks created meanwhile do not shift the pages."""
        _check_status(status, TASK_STATUSES)
        _aware("start", start)
        frozen_end = _aware("end", end) or datetime.now(UTC)

        async def fetch(limit: int, offset: int) -> Page[Task]:
            return await self.history_page(
                status=status,
                start=start,
                end=frozen_end,
                limit=limit,
                offset=offset,
                timeout=timeout,
            )

        return paginate(fetch, page_size=page_size)
