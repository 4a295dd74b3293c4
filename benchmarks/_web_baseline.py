"""The least an aiohttp.web BBRE server can do per request: ``python -m benchmarks._web_baseline``.

The emulator's CPU per request is put against this. Each handler parses the JSON body, checks
the one field it needs, and serializes an answer of the emulator's shape and size with orjson;
there is no state, no validation beyond that, no billing, no page rendering. Same process
protocol as the stub: prints its URL, stops when stdin closes or on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import socket
import sys
import time
from typing import Any

import orjson
from aiohttp import web

from benchmarks._allocator import settle_allocator
from benchmarks._stub import _TASK_RESULT, LIFE_MS, SERVICE

_ids = itertools.count(1)


def _json(payload: dict[str, Any], status: int = 200) -> web.Response:
    body = orjson.dumps({"success": status < 400, "service": SERVICE, **payload})
    return web.Response(body=body, status=status, content_type="application/json")


async def _body(request: web.Request) -> dict[str, Any]:
    payload = orjson.loads(await request.read())
    return payload if isinstance(payload, dict) else {}


def _missing_session() -> web.Response:
    error = {"code": "SESSION_ID_REQUIRED", "message": "sessionId is required"}
    return _json({"error": error}, 400)


async def session_request(request: web.Request) -> web.Response:
    body = await _body(request)
    session_id = body.get("sessionId")
    if not session_id:
        return _missing_session()
    task = {"id": f"task_{next(_ids)}", "status": "completed", "sessionId": session_id}
    return _json({"data": {"task": {**task, "result": _TASK_RESULT}}})


async def session_create(request: web.Request) -> web.Response:
    await _body(request)
    now = int(time.time() * 1000)
    session = {
        "id": f"session_{next(_ids):024x}",
        "status": "active",
        "mode": "passive",
        "sensibility": "medium",
        "expiresAt": now + LIFE_MS,
        "createdAt": now,
    }
    return _json({"session": session})


async def session_close(request: web.Request) -> web.Response:
    body = await _body(request)
    session_id = body.get("sessionId")
    if not session_id:
        return _missing_session()
    return _json({"data": {"session": {"id": session_id, "status": "closed"}}})


def app() -> web.Application:
    application = web.Application()
    application.router.add_post("/session/request", session_request)
    application.router.add_post("/session/create", session_create)
    application.router.add_post("/session/close", session_close)
    return application


async def serve(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {cpu})
    runner = web.AppRunner(app(), access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.read(1) else None)
    print(f"http://127.0.0.1:{port}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._web_baseline")
    parser.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU")
    settle_allocator()  # as the emulator does: the servers differ in their code only
    asyncio.run(serve(parser.parse_args().cpu))


if __name__ == "__main__":
    main()
