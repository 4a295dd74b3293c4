"""``/session/*`` and ``/account/sessions``: the session lifecycle, as the vendor documents it.

Quirks kept on purpose: create answers ``session`` at the top level (plus a top-level
``sessionId``, which the vendor's account-sessions example reads), close answers under
``data``; status speaks epoch milliseconds, the listing ISO strings; the validator accepts a
``timeout`` of 60-3600 s but the controller grants 10-300 s; the listing shows a past-due
session as ``active`` until something processes its expiry. Every timestamp is stated on the
server's clock (``ServerTime``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from itertools import islice
from typing import Any

from bbre_async.emulator._billing import charge
from bbre_async.emulator._engine import Engine
from bbre_async.emulator._envelope import ApiError, Hangup, finite_number, invalid
from bbre_async.emulator._settings import MODES, SENSIBILITIES
from bbre_async.emulator._state import Account, SessionRecord, TaskRecord, iso, to_usd
from bbre_async.emulator._targets import Fetched
from bbre_async.emulator._validate import (
    choice,
    lenient_int,
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
    engine.add_session(session, now)
    counters = account.counters
    counters.sessions_created += 1
    active = sum(1 for s in account.live.values() if s.expires_ms > now)
    if active > counters.peak_active_sessions:
        counters.peak_active_sessions = active
    said = engine.time
    created = said.said_ms(now)
    answer: dict[str, Any] = {
        "id": session.id,
        "status": "active",
        "mode": mode,
        "sensibility": sensibility,
        "createdAt": created,
    }
    said.put_expiry(answer, created, said.said_ms(session.expires_ms))
    return {"session": answer, "sessionId": session.id}


def request(
    engine: Engine, account: Account, body: dict[str, Any]
) -> dict[str, Any] | Awaitable[dict[str, Any]]:
    """``POST /session/request``: fetch through the session's browser, cookies persisting.

    The request is "in flight" from acceptance to answer; a second request on the same session
    meanwhile counts as a concurrency violation. A failed or timed-out target is answered as a
    task with that status, uncharged; ``requestCount`` counts it all the same. A call with
    nothing to wait (no latency, no scripted delay or timeout) is answered without a coroutine.
    """
    session_id = body.get("sessionId")
    if not session_id:
        engine.find_session(account, session_id)  # raises SESSION_ID_REQUIRED
    call = target_call(body)  # the validator runs before the session is looked up
    session = engine.sessions.get(session_id) if type(session_id) is str else None
    if session is None or session.account is not account:
        session = engine.find_session(account, session_id)  # raises the right error
    counters = account.counters
    counters.requests_total += 1
    now = engine.now_ms()
    if session.status != "active" or session.expires_ms <= now:
        raise _refusal(engine, session, now)

    price = engine.price_session[session.mode]
    charge(account, price)
    task = TaskRecord.session_request(
        engine.new_task_id(), session.mode, call.url, call.method, now, price, session.id
    )
    engine.record_task(account, task)
    in_flight = session.in_flight = session.in_flight + 1
    if in_flight > 1:
        counters.concurrent_request_violations += 1
    if in_flight > counters.max_in_flight_per_session:
        counters.max_in_flight_per_session = in_flight
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
    except BaseException:
        session.in_flight -= 1
        raise
    if extra or engine.latency_on:
        return _answer_after(engine, account, session, task, fetched, extra)
    session.in_flight -= 1
    return _answer(engine, account, session, task, fetched)


def _refusal(engine: Engine, session: SessionRecord, now: int) -> ApiError:
    """The answer to a request on a session that is closed or expired (a past-due one is
    stored as expired first), counted."""
    engine.reconcile(session, now)
    counters = session.account.counters
    if session.status == "closed":
        counters.requests_on_closed += 1
        return ApiError(400, "SESSION_CLOSED")
    counters.requests_on_expired += 1
    expires = engine.time.said_ms(session.expires_ms)
    return ApiError(400, "SESSION_EXPIRED", details={"expiresAt": expires})


async def _answer_after(
    engine: Engine,
    account: Account,
    session: SessionRecord,
    task: TaskRecord,
    fetched: Fetched,
    extra: float,
) -> dict[str, Any]:
    """The answer once the latency and the target's own time have passed; a cancelled wait
    fails the task."""
    try:
        await engine.pause("session/request", session.mode, extra)
    except asyncio.CancelledError:
        engine.finish_task(account, task, "failed", engine.now_ms())
        raise
    finally:
        session.in_flight -= 1
    return _answer(engine, account, session, task, fetched)


def _answer(
    engine: Engine,
    account: Account,
    session: SessionRecord,
    task: TaskRecord,
    fetched: Fetched,
) -> dict[str, Any]:
    session.request_count += 1
    engine.finish_task(account, task, fetched.outcome, engine.now_ms())
    if fetched.outcome != "completed":
        return {"data": {"task": _failed_task(task, fetched.outcome)}}
    session.charged_micros += task.price_micros
    headers, page = fetched.rendered or (fetched.headers, fetched.body)
    result = {
        "statusCode": fetched.status,
        "headers": headers,
        "body": page,
        "cookies": session.cookies,
        "profile": session.profile or engine.profile_of(session),
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
    said = engine.time
    answer = session.status_json(said.offset_ms)
    said.put_expiry(answer, answer["createdAt"], answer["expiresAt"])
    return {"session": answer}


async def close(engine: Engine, account: Account, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /session/close``: frees the slot now; closing twice is ``400 SESSION_CLOSED``.

    An expired session cannot be closed; by default the answer is ``400 SESSION_CLOSED``
    ("not active", the only 400 the vendor lists for close), see ``close_expired``. While
    ``Faults.failing_closes`` is on, nothing is closed: ``"error"`` answers ``500
    SERVICE_ERROR``, ``"timeout"`` holds the call until the failure is lifted, then hangs up.
    """
    if engine.latency_on:
        await engine.pause("session/close")
    now = engine.now_ms()
    failure = engine.faults.close_failure(now)
    if failure is not None:
        account.counters.closes_failed += 1
        if failure == "error":
            raise ApiError(500, "SERVICE_ERROR")
        left_ms = engine.faults.closes_remaining_ms(now)
        await engine.faults.hold_close(None if left_ms is None else left_ms / 1000)
        raise Hangup
    session = engine.find_session(account, body.get("sessionId"))
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
    engine.end_session(session, "closed", now)
    session.closed_ms = now
    session.cookies = {}
    account.counters.sessions_closed += 1
    return {"data": {"session": {"id": session.id, "status": "closed"}}}


def listing(engine: Engine, account: Account, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /account/sessions``: newest first, ISO times, filters, and the documented lag.

    The status shown is the stored one, so expiry appears only once processed (sweep, or a
    status/request/close on that session). ``Faults.listing_lag`` further shows the account as
    it was that many emulated seconds ago. The page is lenient, as the vendor's is: a
    ``limit``/``offset`` that is not a number is ignored (defaults 20 and 0), numbers are
    clamped (``limit >= 1``, ``offset >= 0``), an unknown ``status`` matches nothing.

    Cost: an ``active`` page walks active sessions only, an unfiltered page skips straight
    to its rows; only ``closed``/``expired`` filters walk the stored ended sessions, which the
    retention bounds.
    """
    wanted = body.get("status")
    limit = lenient_int(body, "limit", 20, low=1)
    offset = lenient_int(body, "offset", 0, low=0)
    offset_ms = engine.time.offset_ms
    lag = engine.faults.faults.listing_lag
    rows: list[dict[str, Any]]
    if lag:
        view = engine.now_ms() - engine.scaled_ms(lag)
        rows, total = _lagged(account, wanted, view, limit, offset, offset_ms)
    elif wanted is None or wanted == "active":
        stored = account.sessions if wanted is None else account.live
        total = len(stored)
        page = islice(reversed(stored.values()), offset, offset + limit)
        rows = [_listed(s, s.status, offset_ms) for s in page]
    elif wanted in ("closed", "expired"):
        matching = (s for s in reversed(account.sessions.values()) if s.status == wanted)
        rows, total = _paged(matching, limit, offset, offset_ms)
    else:
        rows, total = [], 0
    return {"sessions": rows, "pagination": {"total": total, "limit": limit, "offset": offset}}


def _paged(
    matching: Iterable[SessionRecord], limit: int, offset: int, offset_ms: int
) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    total = 0
    end = offset + limit
    for session in matching:
        if offset <= total < end:
            rows.append(_listed(session, session.status, offset_ms))
        total += 1
    return rows, total


def _lagged(
    account: Account, wanted: Any, view: int, limit: int, offset: int, offset_ms: int
) -> tuple[list[dict[str, Any]], int]:
    """The listing as it was at ``view``: newer sessions missing, newer ends not shown."""
    rows: list[dict[str, Any]] = []
    total = 0
    end = offset + limit
    for session in reversed(account.sessions.values()):
        if session.created_ms > view:
            continue
        shown = session.status
        if shown != "active" and (session.ended_ms is None or session.ended_ms > view):
            shown = "active"
        if wanted is not None and shown != wanted:
            continue
        if offset <= total < end:
            rows.append(_listed(session, shown, offset_ms))
        total += 1
    return rows, total


def _listed(session: SessionRecord, shown: str, offset_ms: int) -> dict[str, Any]:
    closed = session.closed_ms if shown == "closed" else None
    return {
        "id": session.id,
        "mode": session.mode,
        "sensibility": session.sensibility,
        "status": shown,
        "requestCount": session.request_count,
        "totalCharged": to_usd(session.charged_micros),
        "expiresAt": iso(session.expires_ms + offset_ms),
        "createdAt": iso(session.created_ms + offset_ms),
        "closedAt": None if closed is None else iso(closed + offset_ms),
    }
