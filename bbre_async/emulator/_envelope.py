"""The BBRE answer envelope, errors, and the non-JSON answers a proxy would send.

Success: ``{"success": true, "service": "MyDisct Solver BBRE", ...payload}``; error:
``{"success": false, "service": ..., "error": {"code", "message", "details"?}}`` with the matching
HTTP status. Encoding goes through orjson because this is on every request's path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeGuard

import orjson
from aiohttp import web

SERVICE = "MyDisct Solver BBRE"
JSON_TYPE = "application/json"

#: Default messages, worded as the vendor pages word them.
MESSAGES: Mapping[str, str] = {
    "API_KEY_REQUIRED": (
        "API key is required. Please provide your API key in the x-api-key or apikey header."
    ),
    "INVALID_API_KEY": "The provided API key is invalid or does not exist.",
    "ACCOUNT_SUSPENDED": (
        "Your account has been suspended. Please contact support for more information."
    ),
    "ACCOUNT_INACTIVE": "Your account is inactive. Please activate your account.",
    "SESSION_ID_REQUIRED": "Session ID is required.",
    "SESSION_NOT_FOUND": "Session not found.",
    "SESSION_CLOSED": "Session is already closed.",
    "SESSION_EXPIRED": "Session has expired.",
    "SESSION_LIMIT_REACHED": "Maximum active session limit reached. Close a session first.",
    "INSUFFICIENT_BALANCE": "Insufficient balance to perform this operation.",
    "TASK_ID_REQUIRED": "Task ID is required.",
    "TASK_NOT_FOUND": "Task not found.",
    "RATE_LIMIT_EXCEEDED": "Too many requests. Please slow down.",
    "INVALID_REQUEST": "The request is invalid.",
    "PAYLOAD_TOO_LARGE": "The request body is too large.",
    "NOT_FOUND": "Endpoint not found.",
    "SERVICE_ERROR": "An internal server error occurred. Please try again later.",
    "UNAUTHORIZED": "A valid emulator admin token is required.",
}


class ApiError(Exception):
    """An error answer; raised anywhere below a handler and rendered once, at the edge."""

    __slots__ = ("code", "details", "headers", "message", "status")

    def __init__(
        self,
        status: int,
        code: str,
        message: str | None = None,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message or MESSAGES.get(code, code)
        self.details = details
        self.headers = headers
        super().__init__(f"{status} {code}: {self.message}")


class Hangup(Exception):
    """No answer at all: the handler drops the connection (a server that timed out)."""


def invalid(message: str, **details: Any) -> ApiError:
    """``400 INVALID_REQUEST`` naming what is wrong (``field`` and friends in details)."""
    return ApiError(400, "INVALID_REQUEST", message, details or None)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def rendered(value: object) -> orjson.Fragment:
    """``value`` serialized once, for answers that repeat it: ``dumps`` copies a fragment in
    as it is."""
    return orjson.Fragment(orjson.dumps(value))


#: Passed as ``headers=``: half the cost of ``content_type=``, which aiohttp parses each time.
_JSON_HEADERS = {"Content-Type": JSON_TYPE}
#: The envelope's own keys, serialized once: an answer is this plus the payload's members.
_OK_HEAD = b'{"success":true,"service":' + orjson.dumps(SERVICE)
_OK_HEAD_MORE = _OK_HEAD + b","


def ok(payload: dict[str, Any]) -> web.Response:
    """A success envelope around ``payload`` (whose keys sit at the top level): the same bytes
    as dumping ``{"success": True, "service": SERVICE, **payload}``, without the copy."""
    if "success" in payload or "service" in payload:  # none does; then the keys merge
        body = orjson.dumps({"success": True, "service": SERVICE, **payload})
    else:
        members = orjson.dumps(payload)
        body = _OK_HEAD_MORE + members[1:] if len(members) > 2 else _OK_HEAD + b"}"
    return web.Response(body=body, status=200, headers=_JSON_HEADERS)


def error_body(error: ApiError) -> dict[str, Any]:
    inner: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.details:
        inner["details"] = dict(error.details)
    return {"success": False, "service": SERVICE, "error": inner}


def error_response(error: ApiError) -> web.Response:
    headers = _JSON_HEADERS if not error.headers else {**_JSON_HEADERS, **error.headers}
    return web.Response(body=orjson.dumps(error_body(error)), status=error.status, headers=headers)


def rate_limited(retry_after: float) -> ApiError:
    """``429 RATE_LIMIT_EXCEEDED``; the header is whole seconds unless a fraction was set."""
    header = str(int(retry_after)) if retry_after == int(retry_after) else f"{retry_after:g}"
    return ApiError(
        429,
        "RATE_LIMIT_EXCEEDED",
        details={"retryAfter": retry_after},
        headers={"Retry-After": header},
    )


BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def bad_gateway() -> web.Response:
    """The page a reverse proxy sends when the API behind it is down: HTML, not JSON."""
    return web.Response(text=BAD_GATEWAY_HTML, status=502, content_type="text/html")


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object in a request body; empty means ``{}``; anything else is 400."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        if not raw or raw.isspace():
            return {}
        raise invalid("The request body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise invalid("The request body must be a JSON object.")
    return value


def finite_number(value: Any) -> TypeGuard[int | float]:
    """True for int/float that are not bool, NaN or infinite (what a JSON validator accepts)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
