"""The OrchestratorHQ emulator as an ``aiohttp.web`` sub-application.

Routes are relative (``/sessions``, ``/status``...), so the app is meant to be mounted under
``/api`` the way the vendor serves it: ``root.add_subapp("/api", create_orchestrator_app())``.
Every route goes through one wrapper that applies a scripted fault, authenticates, settles
expiry, runs the operation and renders the vendor's error shape.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bbre_async.emulator._clock import Clock, SystemClock
from bbre_async.emulator.orchestrator._engine import OrchestratorEngine
from bbre_async.emulator.orchestrator._errors import (
    OrchError,
    bad_gateway,
    error_response,
    json_response,
    parse_body,
)
from bbre_async.emulator.orchestrator._settings import OrchestratorSettings
from bbre_async.emulator.orchestrator._state import Org

log = logging.getLogger("bbre_async.emulator.orchestrator")

ORCHESTRATOR_ENGINE = web.AppKey("orchestrator_emulator_engine", OrchestratorEngine)

Operation = Callable[[OrchestratorEngine, Org | None, web.Request, dict[str, Any]], dict[str, Any]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


async def _faulted(request: web.Request, kind: str) -> web.StreamResponse:
    if kind == "drop":
        _abort(request)
        return web.Response(status=500)  # never written: the connection is gone
    await request.read()  # keep the connection reusable
    if kind == "bad_gateway":
        return bad_gateway()
    if kind == "no_servers":
        return error_response(OrchError(503, "NO_SERVERS_AVAILABLE"))
    return error_response(OrchError(500, "INTERNAL_ERROR"))


def _route(
    engine: OrchestratorEngine,
    endpoint: str,
    op: Operation,
    *,
    status: int = 200,
    auth: bool = True,
) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        response = await answer(request)
        date = engine.date()
        if date is not None:
            response.headers["Date"] = date
        return response

    async def answer(request: web.Request) -> web.StreamResponse:
        fault = engine.faults.pick(endpoint)
        if fault is not None and fault != "lost_answer":
            return await _faulted(request, fault)
        try:
            org = engine.authenticate(request.headers.get("Authorization")) if auth else None
            if org is not None:
                engine.count_call(org, endpoint)
            body = parse_body(await request.read()) if request.method == "POST" else {}
            engine.settle_expiry()
            response = json_response(op(engine, org, request, body), status)
        except OrchError as error:
            response = error_response(error)
        except Exception:
            log.exception("orchestrator emulator: unexpected error on %s", endpoint)
            response = error_response(OrchError(500, "INTERNAL_ERROR"))
        if fault == "lost_answer":
            _abort(request)
        return response

    return handle


def _org(org: Org | None) -> Org:
    assert org is not None  # every authenticated route has one
    return org


def _create(e: OrchestratorEngine, o: Org | None, r: web.Request, b: dict[str, Any]) -> Any:
    return e.create(_org(o), b)


def _list(e: OrchestratorEngine, o: Org | None, r: web.Request, b: dict[str, Any]) -> Any:
    return e.listing(_org(o), r.query)


def _get(e: OrchestratorEngine, o: Org | None, r: web.Request, b: dict[str, Any]) -> Any:
    return e.get(_org(o), r.match_info["session_id"])


def _extend(e: OrchestratorEngine, o: Org | None, r: web.Request, b: dict[str, Any]) -> Any:
    return e.extend(_org(o), r.match_info["session_id"], b)


def _stop(e: OrchestratorEngine, o: Org | None, r: web.Request, b: dict[str, Any]) -> Any:
    return e.stop(_org(o), r.match_info["session_id"])


def _status(e: OrchestratorEngine, o: Org | None, r: web.Request, b: dict[str, Any]) -> Any:
    return e.system_status(_org(o))


def _health(e: OrchestratorEngine, o: Org | None, r: web.Request, b: dict[str, Any]) -> Any:
    return e.health()


def _admin_state(engine: OrchestratorEngine, token: str | None) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if token is not None:
            sent = request.headers.get("x-emulator-token", "")
            if not hmac.compare_digest(sent.encode(), token.encode()):
                return json_response({"error": "UNAUTHORIZED"}, 401)
        return json_response(engine.snapshot().to_json())

    return handle


async def _not_found(request: web.Request) -> web.StreamResponse:
    return error_response(OrchError(404, "NOT_FOUND", context={"path": request.path}))


def create_orchestrator_app(
    settings: OrchestratorSettings | None = None,
    clock: Clock | None = None,
    *,
    admin_token: str | None = None,
) -> web.Application:
    """The OrchestratorHQ API (plus ``GET /_emulator/state``) as an application to mount
    under ``/api``. Its engine is ``app[ORCHESTRATOR_ENGINE]``: state, faults, reset.

    ``admin_token``, when set, is required (header ``x-emulator-token``) on
    ``/_emulator/state``, as on the BBRE emulator's admin routes.
    """
    engine = OrchestratorEngine(settings or OrchestratorSettings(), clock or SystemClock())
    app = web.Application()
    app[ORCHESTRATOR_ENGINE] = engine
    router = app.router
    router.add_post("/sessions", _route(engine, "sessions/create", _create, status=201))
    router.add_get("/sessions", _route(engine, "sessions/list", _list))
    router.add_get("/sessions/{session_id}", _route(engine, "sessions/get", _get))
    router.add_post("/sessions/{session_id}/extend", _route(engine, "sessions/extend", _extend))
    router.add_delete("/sessions/{session_id}", _route(engine, "sessions/stop", _stop))
    router.add_get("/status", _route(engine, "status", _status))
    router.add_get("/health", _route(engine, "health", _health, auth=False))
    router.add_get("/_emulator/state", _admin_state(engine, admin_token))
    router.add_route("*", "/{tail:.*}", _not_found)
    return app
