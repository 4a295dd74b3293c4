"""The aiohttp application: routes, and the one code path every BBRE call goes through.

No aiohttp middlewares: each route gets a closure that does faults, auth, body parsing, latency,
the operation and the envelope in one place, which keeps the hot path short and easy to read.
Each answer states the server's ``Date`` itself when the server's clock is not the wall clock
(a ``clock_offset`` or an injected clock); otherwise aiohttp's own ``Date`` is right. (A
response hook would do it in one place, but costs every answer a signal dispatch.)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

from aiohttp import web

from bbre_async.emulator import _account, _sessions, _tasks
from bbre_async.emulator._admin import add_admin_routes
from bbre_async.emulator._engine import Engine
from bbre_async.emulator._envelope import (
    ApiError,
    Hangup,
    bad_gateway,
    error_response,
    ok,
    parse_body,
    rate_limited,
)
from bbre_async.emulator._state import Account

log = logging.getLogger("bbre_async.emulator")

Payload = dict[str, Any]
SyncOp = Callable[[Engine, Account, Payload], Payload]
AsyncOp = Callable[[Engine, Account, Payload], Awaitable[Payload]]

#: (path, methods, endpoint name, operation, whether the operation is a coroutine that applies
#: its own, mode-aware latency)
ROUTES: tuple[tuple[str, tuple[str, ...], str, SyncOp | AsyncOp, bool], ...] = (
    ("/session/create", ("POST",), "session/create", _sessions.create, False),
    ("/session/request", ("POST",), "session/request", _sessions.request, True),
    ("/session/status", ("POST",), "session/status", _sessions.status, False),
    ("/session/close", ("POST",), "session/close", _sessions.close, True),
    ("/account/sessions", ("POST",), "account/sessions", _sessions.listing, False),
    ("/account/history", ("POST",), "account/history", _account.history, False),
    ("/account/balance", ("GET", "POST"), "account/balance", _account.balance, False),
    ("/account/info", ("GET", "POST"), "account/info", _account.info, False),
    ("/request/create", ("POST",), "request/create", _tasks.create, True),
    ("/request/result", ("POST",), "request/result", _tasks.result, False),
    ("/request/execute", ("POST",), "request/execute", _tasks.execute, True),
    ("/request/sync", ("POST",), "request/execute", _tasks.execute, True),
)

ENGINE_KEY = web.AppKey("bbre_emulator_engine", Engine)


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


async def _injected(
    engine: Engine, request: web.Request, kind: str, account: Account | None
) -> web.StreamResponse:
    """Answer a call that a fault takes over before anything is processed."""
    engine.count_fault(kind, account)
    if kind == "drop":
        _abort(request)
        return web.Response(status=500)  # never written: the connection is gone
    await request.read()  # keep the connection reusable
    if kind == "bad_gateway" or kind == "create_bad_gateway":
        return bad_gateway()
    if kind == "rate_limit":
        return error_response(rate_limited(engine.faults.faults.retry_after))
    return error_response(ApiError(500, "SERVICE_ERROR"))


#: Faults that let the call be processed, then spoil its answer.
_AFTER_PROCESSING = frozenset({"lost_answer", "garbled_answer"})


def _garbled(response: web.Response) -> web.Response:
    """The first half of ``response``'s body, same status: processed, but unreadable."""
    body = response.body if isinstance(response.body, bytes) else b""
    return web.Response(
        body=body[: len(body) // 2], status=response.status, headers=response.headers
    )


def _handler(
    engine: Engine, endpoint: str, op: SyncOp | AsyncOp, is_async: bool
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async_op = cast(AsyncOp, op) if is_async else None
    sync_op = None if is_async else cast(SyncOp, op)

    async def handle(request: web.Request) -> web.StreamResponse:
        response = await answer(request)
        time = engine.time  # replaced on reset: read it per call
        if time.sends_date:
            response.headers["Date"] = time.date_header()
        return response

    async def answer(request: web.Request) -> web.StreamResponse:
        headers = request.headers
        key = headers.get("x-api-key") or headers.get("apikey")
        faults = engine.faults
        fault = faults.pick(endpoint) if faults.active else None
        if fault is not None and fault not in _AFTER_PROCESSING:
            return await _injected(engine, request, fault, engine.by_key.get(key or ""))
        account: Account | None = None
        try:
            account = engine.authenticate(key)
            calls = account.counters.calls
            calls[endpoint] = calls.get(endpoint, 0) + 1
            body = parse_body(await request.read())
            if async_op is not None:
                payload = await async_op(engine, account, body)
            else:
                assert sync_op is not None
                if engine.latency_on:
                    await engine.pause(endpoint)
                payload = sync_op(engine, account, body)
            response = ok(payload)
        except ApiError as error:
            response = error_response(error)
        except Hangup:
            _abort(request)
            return web.Response(status=500)  # never written: the connection is gone
        except Exception:
            engine.internal_errors += 1
            log.exception("emulator: unexpected error on %s", endpoint)
            response = error_response(ApiError(500, "SERVICE_ERROR"))
        if fault is not None:  # a fault that lets the call be processed first
            engine.count_fault(fault, account)
            if fault == "lost_answer":
                engine.count_lost(endpoint, account)
                _abort(request)
            else:
                response = _garbled(response)
        return response

    return handle


async def _not_found(request: web.Request) -> web.StreamResponse:
    return error_response(ApiError(404, "NOT_FOUND", details={"path": request.path}))


def build_app(
    engine: Engine, *, mounts: Mapping[str, web.Application] | None = None
) -> web.Application:
    """The emulator as an ``aiohttp.web.Application`` (BBRE routes plus ``/_emulator/*``),
    with each of ``mounts`` served under its prefix (the OrchestratorHQ API under ``/api``).
    A mount adds one router entry under its own prefix: BBRE paths resolve as before."""
    app = web.Application()
    app[ENGINE_KEY] = engine
    for path, methods, endpoint, op, is_async in ROUTES:
        handler = _handler(engine, endpoint, op, is_async)
        for method in methods:
            app.router.add_route(method, path, handler)
    add_admin_routes(app, engine)
    for prefix, sub_app in (mounts or {}).items():
        app.add_subapp(prefix, sub_app)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app
