"""``/_emulator/*``: observe and steer a running emulator over HTTP (not part of BBRE).

Meant for loopback use, e.g. when the emulator runs as ``bbre-async emulator`` in another
process. No API key is involved; when ``admin_token`` is set, calls must send it in
``x-emulator-token``. Answers are plain JSON, without the BBRE envelope.

- ``GET /_emulator/state``: counters per account (see ``EmulatorState``).
- ``POST /_emulator/reset``: forget sessions, tasks and counters.
- ``POST /_emulator/sweep``: run the expiry sweep now; answers ``{"expired": n}``.
- ``POST /_emulator/faults``: change fault fields (``{"service_error": 0.1}``); unnamed fields
  keep their value.
- ``POST /_emulator/inject``: ``{"kind": "lost_answer", "endpoint": "session/create",
  "count": 1}`` scripts the next calls.
- ``POST /_emulator/latency``: change latency fields (real seconds).
- ``POST /_emulator/script``: add a target rule (``TargetRule`` fields, ``pattern`` a glob or
  ``re:...``); ``{"clear": true}`` removes every rule.
- ``POST /_emulator/accounts``: add an account (``api_key``, ``name``, ``status``, ``balance``)
  or, for a known ``name``, change its ``status`` and/or ``balance``.
- ``POST /_emulator/clock``: ``{"offset": -120}`` puts the server's clock 120 s behind (what it
  says in timestamps and ``Date``; see ``EmulatorSettings.clock_offset``).
- ``POST /_emulator/expiry``: ``{"form": "past"}`` picks what ``expiresAt`` says (see
  ``EmulatorSettings.expiry_form``).
- ``POST /_emulator/closes``: ``{"kind": "error", "duration": 30}`` fails every close for 30
  clock seconds (``"timeout"``: no answer; no ``duration``: until lifted); ``{"kind": null}``
  lifts it. ``create_bad_gateway`` and the other rates go through ``/_emulator/faults``.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import orjson
from aiohttp import web

from bbre_async.emulator._engine import Engine
from bbre_async.emulator._settings import CLOSE_FAILURES, AccountSpec
from bbre_async.emulator._targets import TargetRule

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(value), status=status, content_type="application/json")


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    value = orjson.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("the body must be a JSON object")
    return value


def faults_json(engine: Engine) -> dict[str, Any]:
    out = attrs.asdict(engine.faults.faults)
    endpoints = out["endpoints"]
    out["endpoints"] = None if endpoints is None else sorted(endpoints)
    return out


def add_admin_routes(app: web.Application, engine: Engine) -> None:
    token = engine.settings.admin_token

    def guarded(fn: Callable[[dict[str, Any]], Any]) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            if token is not None:
                sent = request.headers.get("x-emulator-token", "")
                if not hmac.compare_digest(sent.encode(), token.encode()):
                    return _json({"error": "UNAUTHORIZED"}, 401)
            try:
                body = await _body(request) if request.method == "POST" else {}
                return _json(fn(body))
            except (ValueError, TypeError, KeyError, orjson.JSONDecodeError) as exc:
                return _json({"error": "INVALID_REQUEST", "message": str(exc)}, 400)

        return handle

    def state(body: dict[str, Any]) -> Any:
        return engine.snapshot().to_json()

    def reset(body: dict[str, Any]) -> Any:
        engine.reset()
        return {"reset": True}

    def sweep(body: dict[str, Any]) -> Any:
        return {"expired": engine.sweep()}

    def faults(body: dict[str, Any]) -> Any:
        engine.set_faults(attrs.evolve(engine.faults.faults, **body))
        return faults_json(engine)

    def inject(body: dict[str, Any]) -> Any:
        engine.faults.script(body["kind"], body.get("endpoint"), int(body.get("count", 1)))
        return {"injected": body["kind"]}

    def latency(body: dict[str, Any]) -> Any:
        engine.set_latency(attrs.evolve(engine.latency, **body))
        current = engine.latency
        return {
            "default": current.default,
            "endpoints": dict(current.endpoints),
            "modes": dict(current.modes),
            "jitter": current.jitter,
        }

    def script(body: dict[str, Any]) -> Any:
        if body.get("clear"):
            engine.targets.clear()
            return {"rules": 0}
        engine.targets.add(TargetRule(**body))
        return {"rules": len(engine.targets.rules)}

    def accounts(body: dict[str, Any]) -> Any:
        name = body.get("name")
        if name in engine.accounts and "api_key" not in body:
            engine.update_account(name, status=body.get("status"), balance=body.get("balance"))
        else:
            engine.add_account(AccountSpec(**body))
        return {"accounts": sorted(engine.accounts)}

    def clock(body: dict[str, Any]) -> Any:
        engine.time.set_offset(body["offset"])
        return {"clock_offset": engine.time.offset}

    def expiry(body: dict[str, Any]) -> Any:
        engine.time.set_expiry_form(body["form"])
        return {"expiry_form": engine.time.expiry_form}

    def closes(body: dict[str, Any]) -> Any:
        kind = body.get("kind")
        if kind is not None and kind not in CLOSE_FAILURES:
            raise ValueError(f"kind must be one of {list(CLOSE_FAILURES)} or null")
        engine.fail_closes(kind, body.get("duration"))
        now = engine.now_ms()
        left = engine.faults.closes_remaining_ms(now)
        return {
            "failing_closes": engine.faults.close_failure(now),
            "remaining": None if left is None else left / 1000,
        }

    app.router.add_get("/_emulator/state", guarded(state))
    for path, fn in (
        ("reset", reset),
        ("sweep", sweep),
        ("faults", faults),
        ("inject", inject),
        ("latency", latency),
        ("script", script),
        ("accounts", accounts),
        ("clock", clock),
        ("expiry", expiry),
        ("closes", closes),
    ):
        app.router.add_post(f"/_emulator/{path}", guarded(fn))
