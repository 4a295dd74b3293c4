"""A protocol-level BBRE stub server: pre-built answers, keep-alive, nothing else.

Overhead rows need a server that is never the bottleneck, so that a ratio of two clients'
throughputs is a ratio of the clients' costs. The emulator does real work per request (it
validates, looks sessions up, renders a page, charges); this stub parses only the request line
and ``Content-Length`` and writes bytes built once at start-up, in the BBRE envelope the
emulator uses (same fields, same sizes), so a client decodes the same answer from either.

Run it in its own process, pinned to its own core (``StubServer(cpu=0)``, and keep the client
off that core with ``pinned_to_other_cores``): ``python -m benchmarks._stub --cpu 0`` prints its
URL and serves until stdin closes or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import sys
import time
from typing import Any

import orjson

from benchmarks._allocator import settle_allocator

SERVICE = "MyDisct Solver BBRE"
LIFE_MS = 300_000

#: The emulator's ``/session/request`` answer for ``https://example.com/`` (905 bytes).
_TASK_RESULT: dict[str, Any] = {
    "statusCode": 200,
    "headers": {
        "content-type": "text/html; charset=utf-8",
        "server": "bbre-emulator",
        "etag": '"0e27fa6fed60733d"',
        "set-cookie": "emu_5032f492=bd57f6bf29106636; Path=/; HttpOnly",
    },
    "body": (
        "<!DOCTYPE html><html><head><title>example.com</title></head><body><h1>GET "
        "https://example.com/</h1><p>Emulated page 0e27fa6fed60733d for https://example.com/."
        "</p></body></html>"
    ),
    "cookies": {"emu_5032f492": "bd57f6bf29106636"},
    "profile": {
        "userAgent": (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/123.0.0.0 Safari/537.36"
        ),
        "platform": "Linux x86_64",
        "language": "en-US",
        "timezone": "Europe/London",
        "screen": {"width": 1536, "height": 864, "colorDepth": 24},
        "hardwareConcurrency": 16,
        "deviceMemory": 8,
    },
}


def _http(status: int, payload: dict[str, Any]) -> bytes:
    body = orjson.dumps({"success": status < 400, "service": SERVICE, **payload})
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


REQUEST_ANSWER = _http(
    200,
    {
        "data": {
            "task": {
                "id": "849a97b7-9ab2-4b9d-bc3a-f21145503461",
                "status": "completed",
                "sessionId": "session_stub",
                "result": _TASK_RESULT,
            }
        }
    },
)
LISTING_ANSWER = _http(200, {"sessions": [], "pagination": {"total": 0, "limit": 20, "offset": 0}})
NOT_FOUND = _http(404, {"error": {"code": "NOT_FOUND", "message": "no such route on the stub"}})
_ids = itertools.count(1)


def _session_id(body: bytes) -> str:
    try:
        return str(orjson.loads(body).get("sessionId", "session_stub"))
    except (orjson.JSONDecodeError, AttributeError):
        return "session_stub"


def _session(session_id: str) -> dict[str, Any]:
    now = int(time.time() * 1000)
    return {
        "id": session_id,
        "status": "active",
        "mode": "passive",
        "sensibility": "medium",
        "requestCount": 0,
        "totalCharged": 0.0,
        "expiresAt": now + LIFE_MS,
        "createdAt": now,
    }


def answer(path: bytes, body: bytes) -> bytes:
    """The bytes to send for one request; only creates and status answers are built per call
    (they carry a fresh id or the time), and those calls are rare in every scenario."""
    if path == b"/session/request":
        return REQUEST_ANSWER
    if path == b"/session/create":
        return _http(200, {"session": _session(f"session_{next(_ids):024x}")})
    if path == b"/session/close":
        return _http(200, {"data": {"session": {"id": _session_id(body), "status": "closed"}}})
    if path == b"/session/status":
        return _http(200, {"session": _session(_session_id(body))})
    if path == b"/account/sessions":
        return LISTING_ANSWER
    return NOT_FOUND


class StubProtocol(asyncio.Protocol):
    """HTTP/1.1 with ``Content-Length`` bodies on a kept-alive connection, pipelining allowed."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end])
            length = _content_length(head)
            total = end + 4 + length
            if len(buffer) < total:
                return
            body = bytes(buffer[end + 4 : total])
            del buffer[:total]
            path = head.split(b" ", 2)[1].split(b"?", 1)[0]
            assert self.transport is not None
            self.transport.write(answer(path, body))


def _content_length(head: bytes) -> int:
    at = head.lower().find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    start = at + len(b"\r\ncontent-length:")
    stop = head.find(b"\r\n", start)
    return int(head[start : stop if stop >= 0 else len(head)])


async def serve(cpu: int | None) -> None:
    """Serve on a free loopback port; print the URL; stop on SIGTERM or when stdin closes."""
    if cpu is not None and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {cpu})
    loop = asyncio.get_running_loop()
    server = await loop.create_server(StubProtocol, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.read(1) else None)
    print(f"http://127.0.0.1:{port}", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._stub")
    parser.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU")
    settle_allocator()  # as the emulator does: the servers differ in their code only
    asyncio.run(serve(parser.parse_args().cpu))


if __name__ == "__main__":
    main()
