"""``/account/history``, ``/account/balance`` and ``/account/info``: free, read-only calls."""

from __future__ import annotations

from typing import Any

from bbre_async.emulator._engine import Engine
from bbre_async.emulator._state import Account, iso, to_usd
from bbre_async.emulator._validate import lenient_epoch_ms, lenient_int

DAY_MS = 86_400_000


def history(engine: Engine, account: Account, body: dict[str, Any]) -> dict[str, Any]:
    """Newest first; ``status`` and a ``startDate``/``endDate`` window on ``createdAt``.

    An unknown status filter matches nothing (as the sessions listing does). ``total`` counts
    the filtered rows at the time of the call, so it shifts while new tasks arrive. Lenient as
    the vendor's page says: a date that cannot be read is ignored, ``limit``/``offset`` are
    read as ``/account/sessions`` reads them. Dates are on the server's clock.
    """
    wanted = body.get("status")
    offset_ms = engine.time.offset_ms
    start = lenient_epoch_ms(body, "startDate")
    end = lenient_epoch_ms(body, "endDate")
    if start is not None:
        start -= offset_ms
    if end is not None:
        end -= offset_ms
    limit = lenient_int(body, "limit", 50, low=1)
    offset = lenient_int(body, "offset", 0, low=0)
    engine.settle_due_tasks(account, engine.now_ms())
    rows: list[dict[str, Any]] = []
    total = 0
    stop = offset + limit
    for task in reversed(account.history):
        created = task.created_ms
        if end is not None and created > end:
            continue
        if start is not None and created < start:
            continue
        if wanted is not None and task.status != wanted:
            continue
        if offset <= total < stop:
            rows.append(task.history_json(offset_ms))
        total += 1
    return {"tasks": rows, "pagination": {"total": total, "limit": limit, "offset": offset}}


def balance(engine: Engine, account: Account, body: dict[str, Any]) -> dict[str, Any]:
    """The balance in USD, under the key ``balance``."""
    return {"balance": to_usd(account.balance_micros)}


def info(engine: Engine, account: Account, body: dict[str, Any]) -> dict[str, Any]:
    """The account and its usage statistics (requests = history rows, both kinds)."""
    now = engine.now_ms()
    engine.settle_due_tasks(account, now)
    midnight = now - now % DAY_MS
    today = 0
    for task in reversed(account.history):
        if task.created_ms < midnight:
            break
        today += 1
    counters = account.counters
    total = counters.tasks_created
    completed = counters.tasks_completed
    return {
        "account": {
            "username": account.name,
            "email": account.email,
            "status": account.status,
            "balance": to_usd(account.balance_micros),
            "createdAt": iso(engine.time.said_ms(account.created_ms)),
        },
        "statistics": {
            "totalRequests": total,
            "todayRequests": today,
            "completedRequests": completed,
            "failedRequests": counters.tasks_failed,
            "successRate": round(100.0 * completed / total, 2) if total else 0.0,
            "activeSessions": engine.held(account, now),
        },
    }
