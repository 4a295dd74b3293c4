"""The vendor-docs way of calling BBRE: plain aiohttp, JSON bodies, no SDK.

Baselines use these helpers so that they do the least work a correct program must do: send
the body, read the answer, parse its JSON, check ``success``.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from benchmarks._emulator_proc import API_KEY

HEADERS = {"x-api-key": API_KEY, "content-type": "application/json"}
TARGET_URL = "https://example.com/"
GONE = frozenset({"SESSION_CLOSED", "SESSION_NOT_FOUND"})


class RawError(Exception):
    def __init__(self, status: int, code: str | None) -> None:
        super().__init__(f"HTTP {status} {code}")
        self.status = status
        self.code = code


def raw_http(base_url: str, limit: int = 100) -> aiohttp.ClientSession:
    """One connection pool for a raw client (same default size as ``BBREClient``)."""
    return aiohttp.ClientSession(
        base_url, headers=HEADERS, connector=aiohttp.TCPConnector(limit=limit)
    )


async def call(http: aiohttp.ClientSession, path: str, body: bytes) -> dict[str, Any]:
    """POST ``body``; the parsed answer, or ``RawError`` when ``success`` is not true."""
    async with http.post(path, data=body) as response:
        payload: dict[str, Any] = orjson.loads(await response.read())
        if not payload.get("success"):
            error = payload.get("error") or {}
            raise RawError(response.status, error.get("code"))
        return payload


async def create_session(http: aiohttp.ClientSession, timeout: int = 300) -> str:
    payload = await call(http, "/session/create", orjson.dumps({"timeout": timeout}))
    return str(payload["session"]["id"])


async def close_session(http: aiohttp.ClientSession, session_id: str) -> None:
    """Close; "already closed" and "not found" count as closed, as the docs advise."""
    try:
        await call(http, "/session/close", orjson.dumps({"sessionId": session_id}))
    except RawError as error:
        if error.code not in GONE:
            raise


async def active_count(http: aiohttp.ClientSession) -> int:
    payload = await call(http, "/account/sessions", b'{"status": "active"}')
    return len(payload["sessions"])


def naive_http(base_url: str) -> aiohttp.ClientSession:
    """How the vendor docs' examples call the API: one ``ClientSession``, default settings."""
    return aiohttp.ClientSession(base_url, headers={"x-api-key": API_KEY})


async def naive_call(
    http: aiohttp.ClientSession, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    """A naive user's call: ``json=`` (stdlib ``json.dumps`` per call) and ``resp.json()``."""
    async with http.post(path, json=body) as response:
        payload: dict[str, Any] = await response.json()
        if not payload.get("success"):
            error = payload.get("error") or {}
            raise RawError(response.status, error.get("code"))
        return payload


def request_body(session_id: str, url: str = TARGET_URL) -> bytes:
    """The body ``session.get(url)`` sends, serialized once."""
    return orjson.dumps({"url": url, "method": "GET", "sessionId": session_id})
