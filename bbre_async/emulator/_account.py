"""``/account/history``, ``/account/balance`` and ``/account/info``: free, read-only calls."""

from __future__ import annotations

from typing import Any

from bbre_async.emulator._engine import Engine
from bbre_async.emulator._state import Account, iso, to_usd
from bbre_async.emulator._validate import epoch_ms, non_negative_int

DAY_MS = 86_400_000


def history(engine: Engine, account: Account, body: dict[str, Any]) -> dict[str, Any]:
    """Newest first; ``status`` and a ``startDate``/``endDate`` window on ``createdAt``.

    An unknown status filter matches nothing (as the sessions listing does). ``total`` counts
    the filtered rows at the time of the call, so it shifts while new tasks arrive.
    """
    wanted = body.get("status")
    start = epoch_ms(body, "startDate")
    end = epoch_ms(body, "endDate")
    limit = non_negative_int(body, "limit", 50)
    offset = non_negative_int(body, "offset", 0)
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
            rows.append(task.history_json())
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
            "createdAt": iso(account.created_ms),
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
