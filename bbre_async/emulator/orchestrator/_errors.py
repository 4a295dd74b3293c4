"""OrchestratorHQ's error shape: ``{"error": "CODE", "message", "code": <status>, "context"}``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

JSON_TYPE = "application/json"

MESSAGES: Mapping[str, str] = {
    "UNAUTHORIZED": "Invalid or missing API key",
    "INVALID_DURATION": "Duration must be between 1 minute and 24 hours",
    "INSUFFICIENT_CREDITS": "Not enough credits to create session",
    "SESSION_NOT_FOUND": "Session not found",
    "SESSION_LIMIT_EXCEEDED": "Organization concurrent session limit reached",
    "NO_SERVERS_AVAILABLE": "No browser servers available",
    "VALIDATION_ERROR": "The request is invalid",
    "NOT_FOUND": "Endpoint not found",
    "INTERNAL_ERROR": "An internal server error occurred",
}


class OrchError(Exception):
    """An error answer; raised anywhere below a handler and rendered once, at the edge."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.error = error
        self.message = message or MESSAGES.get(error, error)
        self.context = dict(context) if context else None
        super().__init__(f"{status} {error}: {self.message}")

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.error, "message": self.message, "code": self.status}
        if self.context:
            out["context"] = self.context
        return out


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def json_response(payload: Mapping[str, Any], status: int = 200) -> web.Response:
    return web.Response(body=dumps(payload), status=status, content_type=JSON_TYPE)


def error_response(error: OrchError) -> web.Response:
    return json_response(error.body(), error.status)


def validation(message: str, **context: Any) -> OrchError:
    return OrchError(400, "VALIDATION_ERROR", message, context or None)


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object in a request body; empty means ``{}``; anything else is 400."""
    if not raw or raw.isspace():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise validation("The request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise validation("The request body must be a JSON object")
    return value


BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)


def bad_gateway() -> web.Response:
    """What a reverse proxy sends when the API behind it is down: HTML, not JSON."""
    return web.Response(text=BAD_GATEWAY_HTML, status=502, content_type="text/html")
