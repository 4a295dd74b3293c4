"""``/session/*`` and ``/account/sessions``: the session lifecycle, as the vendor documents it.

Quirks kept on purpose: create answers ``session`` at the top level, close answers under
``data``; status speaks epoch milliseconds, the listing ISO strings; the validator accepts a
``timeout`` of 60-3600 s but the controller grants 10-300 s; the listing shows a past-due
session as ``active`` until something processes its expiry.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bbre_async.emulator._billing import charge
from bbre_async.emulator._engine import Engine
from bbre_async.emulator._envelope import ApiError, finite_number, invalid
from bbre_async.emulator._settings import MODES, SENSIBILITIES
from bbre_async.emulator._state import Account, SessionRecord, TaskRecord, iso, to_usd
from bbre_async.emulator._validate import (
    choice,
    non_negative_int,
    optional_object,
    proxy,
    target_call,
)


def create(engine: Engine, account: Account, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /session/create``: cap check, charge, then a session with a clamped life."""
    settings = engine.settings
    mode = choice(body, "mode", MODES, "passive")
    sensibility = choice(body, "sensibility", SENSIBILITIES, "medium")
    timeout = body.get("timeout")
    low, high = settings.timeout_range
    if timeout is None:
        timeout = settings.default_session_timeout
    elif not finite_number(timeout) or not low <= timeout <= high:
        raise invalid(
            f"timeout must be a number between {low:g} and {high:g} seconds.",
            field="timeout",
            min=low,
            max=high,
        )
    fingerprint = optional_object(body, "fingerprint")
    proxy_value = proxy(body)

    now = engine.now_ms()
    held = engine.held(account, now)
    if held >= account.cap:
        account.counters.cap_rejections += 1
        raise ApiError(
            429,
            "SESSION_LIMIT_REACHED",
            f"Maximum active session limit reached ({account.cap}). Close a session first.",
            {"limit": account.cap, "active": held},
        )
    charge(account, engine.price_create)

    session = SessionRecord(
        id=engine.new_session_id(),
        account=account,
        mode=mode,
        sensibility=sensibility,
        created_ms=now,
        expires_ms=now + engine.scaled_ms(settings.session_life(float(timeout))),
        fingerprint=fingerprint,
        proxy=proxy_value,
    )
    engine.sessions[session.id] = session
    account.live[session.id] = session
    account.sessions.append(session)
    counters = account.counters
    counters.sessions_created += 1
    active = sum(1 for s in account.live.values() if s.expires_ms > now)
    if active > counters.peak_active_sessions:
        counters.peak_active_sessions = active
    return {
        "session": {
            "id": session.id,
            "status": "active",
            "mode": mode,
            "sensibility": sensibility,
            "expiresAt": session.expires_ms,
            "createdAt": now,
        }
    }


async def request(engine: Engine, account: Account, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /session/request``: fetch through the session's browser, cookies persisting.

    The request is "in flight" from acceptance to answer; a second request on the same session
    meanwhile counts as a concurrency violation. A failed or timed-out target is answered as a
    task with that status, uncharged; ``requestCount`` counts it all the same.
    """
    session_id = body.get("sessionId")
    if not session_id:
        engine.find_session(account, session_id)  # raises SESSION_ID_REQUIRED
    call = target_call(body)  # the validator runs before the session is looked up
    session = engine.find_session(account, session_id)
    counters = account.counters
    counters.requests_total += 1
    now = engine.now_ms()
    engine.reconcile(session, now)
    if session.status != "active":
        if session.status == "closed":
            counters.requests_on_closed += 1
            raise ApiError(400, "SESSION_CLOSED")
        counters.requests_on_expired += 1
        raise ApiError(400, "SESSION_EXPIRED", details={"expiresAt": session.expires_ms})

    price = engine.price_session[session.mode]
    charge(account, price)
    task = TaskRecord(
        id=engine.new_task_id(),
        type="BBRE_SESSION_REQUEST",
        mode=session.mode,
        url=call.url,
        method=call.method,
        created_ms=now,
        price_micros=price,
        session_id=session.id,
    )
    engine.record_task(account, task)
    session.in_flight += 1
    if session.in_flight > 1:
        counters.concurrent_request_violations += 1
    if session.in_flight > counters.max_in_flight_per_session:
        counters.max_in_flight_per_session = session.in_flight
    try:
        jar = session.cookies
        if call.cookies:
            jar.update(call.cookies)
        fetched = engine.targets.fetch(
            call.method, call.url, jar, allow_redirects=call.allow_redirects
        )
        extra = 0.0
        if fetched.delay:
            extra += fetched.delay / engine.settings.time_scale
        if fetched.outcome == "timeout":
            wait = call.timeout or engine.settings.request_timeout_default
            extra += wait / engine.settings.time_scale
        if extra or engine.latency_on:
            await engine.pause("session/request", session.mode, extra)
    except asyncio.CancelledError:
        engine.finish_task(account, task, "failed", engine.now_ms())
        raise
    finally:
        session.in_flight -= 1

    session.request_count += 1
    engine.finish_task(account, task, fetched.outcome, engine.now_ms())
    if fetched.outcome != "completed":
        return {"data": {"task": _failed_task(task, fetched.outcome)}}
    session.charged_micros += price
    result = {
        "statusCode": fetched.status,
        "headers": fetched.headers,
        "body": fetched.body,
        "cookies": jar,
        "profile": engine.profile_of(session),
    }
    return {
        "data": {
            "task": {
                "id": task.id,
                "status": "completed",
                "sessionId": session.id,
                "result": result,
            }
        }
    }


def _failed_task(task: TaskRecord, outcome: str) -> dict[str, Any]:
    message = (
        "The target did not answer within the timeout."
        if outcome == "timeout"
        else "The request to the target failed."
    )
    return {
        "id": task.id,
        "status": outcome,
        "sessionId": task.session_id,
        "result": None,
        "error": {"code": f"TASK_{outcome.upper()}", "message": message},
    }


def status(engine: Engine, account: Account, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /session/status``: epoch ms, and a past-due session is stored as expired first."""
    session = engine.find_session(account, body.get("sessionId"))
    engine.reconcile(session, engine.now_ms())
    return {"session": session.status_json()}


def close(engine: Engine, account: Account, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /session/close``: frees the slot now; closing twice is ``400 SESSION_CLOSED``.

    An expired session cannot be closed; by default the answer is ``400 SESSION_CLOSED``
    ("not active", the only 400 the vendor lists for close), see ``close_expired``.
    """
    session = engine.find_session(account, body.get("sessionId"))
    now = engine.now_ms()
    engine.reconcile(session, now)
    if session.status == "closed":
        raise ApiError(400, "SESSION_CLOSED")
    if session.status == "expired":
        policy = engine.settings.close_expired
        if policy == "closed":
            raise ApiError(
                400,
                "SESSION_CLOSED",
                "Session is not active: it has expired.",
                {"status": "expired"},
            )
        if policy == "expired":
            raise ApiError(400, "SESSION_EXPIRED")
    session.status = "closed"
    session.closed_ms = now
    if session.ended_ms is None:
        session.ended_ms = now
    session.cookies = {}
    account.live.pop(session.id, None)
    account.counters.sessions_closed += 1
    return {"data": {"session": {"id": session.id, "status": "closed"}}}


def listing(engine: Engine, account: Account, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /account/sessions``: newest first, ISO times, filters, and the documented lag.

    The status shown is the stored one, so expiry appears only once processed (sweep, or a
    status/request/close on that session). ``Faults.listing_lag`` further shows the account as
    it was that many emulated seconds ago.
    """
    wanted = body.get("status")
    limit = non_negative_int(body, "limit", 20)
    offset = non_negative_int(body, "offset", 0)
    lag = engine.faults.faults.listing_lag
    view = engine.now_ms() - (engine.scaled_ms(lag) if lag else 0)
    rows: list[dict[str, Any]] = []
    total = 0
    end = offset + limit
    for session in reversed(account.sessions):
        if session.created_ms > view:
            continue
        shown = session.status
        if shown != "active" and (session.ended_ms is None or session.ended_ms > view):
            shown = "active"
        if wanted is not None and shown != wanted:
            continue
        if offset <= total < end:
            rows.append(_listed(session, shown))
        total += 1
    return {"sessions": rows, "pagination": {"total": total, "limit": limit, "offset": offset}}


def _listed(session: SessionRecord, shown: str) -> dict[str, Any]:
    closed = session.closed_ms if shown == "closed" else None
    return {
        "id": session.id,
        "mode": session.mode,
        "sensibility": session.sensibility,
        "status": shown,
        "requestCount": session.request_count,
        "totalCharged": to_usd(session.charged_micros),
        "expiresAt": iso(session.expires_ms),
        "createdAt": iso(session.created_ms),
        "closedAt": None if closed is None else iso(closed),
    }
