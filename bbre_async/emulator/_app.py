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
from typing import Any

from aiohttp import StreamReader, web
from multidict import istr

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
#: An operation answers its payload, or an awaitable of it when it has to wait (latency, a
#: held close): the common, unwaited call then costs no coroutine.
Op = Callable[[Engine, Account, Payload], Payload | Awaitable[Payload]]

#: (path, methods, endpoint name, operation, whether the operation applies its own,
#: mode-aware latency)
ROUTES: tuple[tuple[str, tuple[str, ...], str, Op, bool], ...] = (
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
#: The largest request body the emulator takes (1 MiB); a larger one is
#: ``413 PAYLOAD_TOO_LARGE``. Checked by the emulator itself: aiohttp's own ``client_max_size``
#: check moved by one byte between versions (``>=`` in 3.13, ``>`` in 3.14).
MAX_BODY = 1024**2


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


#: The key headers as ``istr``: the header table looks them up without case-folding them.
_X_API_KEY = istr("x-api-key")
_APIKEY = istr("apikey")

#: Faults that let the call be processed, then spoil its answer.
_AFTER_PROCESSING = frozenset({"lost_answer", "garbled_answer"})


def _garbled(response: web.Response) -> web.Response:
    """The first half of ``response``'s body, same status: processed, but unreadable."""
    body = response.body if isinstance(response.body, bytes) else b""
    return web.Response(
        body=body[: len(body) // 2], status=response.status, headers=response.headers
    )


def buffered_body(request: web.Request) -> bytes | None:
    """The request body when the parser has already taken it in whole (the usual small JSON
    body): taken from the stream as it is, sparing ``request.read()``'s copying loop. ``None``
    means ``await request.read()``: no body, a body still arriving, or one over ``MAX_BODY``,
    which ``_read_body`` refuses."""
    content = request.content
    if type(content) is StreamReader and content.is_eof() and content.total_bytes <= MAX_BODY:
        return content.read_nowait()
    return None


async def _read_body(request: web.Request) -> bytes:
    """The whole request body; one over ``MAX_BODY`` is ``413 PAYLOAD_TOO_LARGE``. aiohttp stops
    reading one byte or two past the limit (``client_max_size``), so a huge body is never
    held whole."""
    try:
        body: bytes | None = await request.read()
    except web.HTTPRequestEntityTooLarge:
        body = None
    if body is None or len(body) > MAX_BODY:
        raise ApiError(413, "PAYLOAD_TOO_LARGE", details={"maxBytes": MAX_BODY})
    return body


def _handler(
    engine: Engine, endpoint: str, op: Op, own_latency: bool
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        headers = request.headers
        key = headers.get(_X_API_KEY) or headers.get(_APIKEY)
        faults = engine.faults
        fault = faults.pick(endpoint) if faults.active else None
        response: web.StreamResponse
        if fault is not None and fault not in _AFTER_PROCESSING:
            response = await _injected(engine, request, fault, engine.by_key.get(key or ""))
        else:
            account: Account | None = None
            try:
                account = engine.authenticate(key)
                calls = account.counters.calls
                calls[endpoint] = calls.get(endpoint, 0) + 1
                raw = buffered_body(request)
                body = parse_body(await _read_body(request) if raw is None else raw)
                if not own_latency and engine.latency_on:
                    await engine.pause(endpoint)
                answer = op(engine, account, body)
                payload = answer if isinstance(answer, dict) else await answer
                response = ok(payload)
            except ApiError as error:
                response = error_response(error)
            except Hangup:
                _abort(request)
                response = web.Response(status=500)  # never written: the connection is gone
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
        time = engine.time  # replaced on reset: read it per call
        if time.sends_date:
            response.headers["Date"] = time.date_header()
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
    app = web.Application(client_max_size=MAX_BODY + 1)
    app[ENGINE_KEY] = engine
    for path, methods, endpoint, op, own_latency in ROUTES:
        handler = _handler(engine, endpoint, op, own_latency)
        for method in methods:
            app.router.add_route(method, path, handler)
    add_admin_routes(app, engine)
    for prefix, sub_app in (mounts or {}).items():
        app.add_subapp(prefix, sub_app)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app
