"""Helpers for the emulator tests: a raw HTTP caller that checks the BBRE envelope."""

from __future__ import annotations

from typing import Any

import aiohttp
import attrs
import orjson

from bbre_async.emulator import AccountSpec, EmulatorSettings

SERVICE = "MyDisct Solver BBRE"


@attrs.frozen
class Answer:
    status: int
    headers: Any
    text: str
    json: Any

    @property
    def error_code(self) -> str | None:
        if isinstance(self.json, dict) and isinstance(self.json.get("error"), dict):
            code = self.json["error"].get("code")
            return str(code) if code is not None else None
        return None


class Api:
    """Raw calls with an API key; ``ok`` and ``err`` also check the envelope."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, key: str | None = "test-key"):
        self.http = http
        self.base_url = base_url
        self.key = key

    def as_key(self, key: str | None) -> Api:
        return Api(self.http, self.base_url, key)

    async def call(
        self,
        path: str,
        body: Any = None,
        *,
        method: str = "POST",
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
    ) -> Answer:
        sent = {"content-type": "application/json"}
        if self.key is not None:
            sent["x-api-key"] = self.key
        sent.update(headers or {})
        if data is None and body is not None:
            data = orjson.dumps(body)
        async with self.http.request(method, self.base_url + path, data=data, headers=sent) as r:
            text = await r.text()
            try:
                parsed = orjson.loads(text) if text else None
            except orjson.JSONDecodeError:
                parsed = None
            return Answer(r.status, r.headers, text, parsed)

    async def ok(self, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        answer = await self.call(path, body, **kwargs)
        assert answer.status == 200, answer.text
        assert answer.json["success"] is True
        assert answer.json["service"] == SERVICE
        return dict(answer.json)

    async def err(
        self, path: str, body: Any, status: int, code: str, **kwargs: Any
    ) -> dict[str, Any]:
        answer = await self.call(path, body, **kwargs)
        assert answer.status == status, answer.text
        assert answer.headers["content-type"].startswith("application/json")
        payload = answer.json
        assert payload["success"] is False
        assert payload["service"] == SERVICE
        assert payload["error"]["code"] == code
        assert isinstance(payload["error"]["message"], str) and payload["error"]["message"]
        return dict(payload["error"])

    async def create(self, **body: Any) -> dict[str, Any]:
        return dict((await self.ok("/session/create", body))["session"])

    async def fetch(self, session_id: str, url: str, **body: Any) -> dict[str, Any]:
        payload = await self.ok("/session/request", {"sessionId": session_id, "url": url, **body})
        return dict(payload["data"]["task"])


def make_settings(**changes: Any) -> EmulatorSettings:
    """Four accounts (default, other, suspended, inactive), no background sweep, ``changes``."""
    base = EmulatorSettings(
        sweep_interval=None,
        accounts=[
            AccountSpec(api_key="test-key", name="default"),
            AccountSpec(api_key="other-key", name="other"),
            AccountSpec(api_key="suspended-key", name="suspended", status="suspended"),
            AccountSpec(api_key="inactive-key", name="inactive", status="inactive"),
        ],
    )
    return base.evolve(**changes)
