"""Turns an HTTP answer into a payload object or a typed error.

Both vendors' error shapes are understood here: BBRE's ``{"success": false, "error": {"code",
"message", "details"}}`` and OrchestratorHQ's ``{"error": "CODE", "message", "code": 404,
"context"}``. Anything that is not a JSON object (an HTML 502 page from a proxy, an empty or
truncated body) becomes a typed error that keeps the status and the first bytes.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from multidict import CIMultiDict, CIMultiDictProxy

from bbre_async import _json
from bbre_async._errors import (
    BBREError,
    GatewayError,
    InvalidResponseError,
    RateLimitError,
    error_from_response,
)

SNIPPET_BYTES = 200
_TITLE = re.compile(rb"<title[^>]*>(.{0,200}?)</title", re.IGNORECASE | re.DOTALL)


def _identity(text: str) -> str:
    return text


class CallNamer(Protocol):
    """Names a client's calls; asked only when an id is shown (an error, a log line)."""

    def call_id(self, number: int) -> str: ...


class FixedCallId:
    """A ``CallNamer`` with one name for every call."""

    def __init__(self, name: str) -> None:
        self.name = name

    def call_id(self, number: int) -> str:
        return self.name


def decode(
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    namer: CallNamer,
    number: int = 0,
    redact: Callable[[str], str] = _identity,
) -> dict[str, Any]:
    """Return the JSON object of a successful answer, or raise the matching ``BBREError``
    (whose ``request_id`` is the server's, else ``namer.call_id(number)``)."""
    try:
        payload = _json.loads(content) if content else None
    except ValueError:
        payload = None
    if type(payload) is dict and status < 300 and payload.get("success") is True:
        return payload  # the common case: a BBRE success, no further look needed
    if not isinstance(payload, dict):
        raise _undecodable(status, headers, content, namer.call_id(number), redact)
    failed = payload.get("success") is False or status >= 400 or _has_error_field(payload)
    if failed:
        raise _error_from_payload(status, headers, payload, namer.call_id(number), redact)
    return payload


def _has_error_field(payload: Mapping[str, Any]) -> bool:
    # A BBRE success never carries "error"; OrchestratorHQ's errors have no "success" key.
    return "success" not in payload and isinstance(payload.get("error"), str | dict)


def _undecodable(
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    call_id: str,
    redact: Callable[[str], str],
) -> BBREError:
    """A body that is no JSON object keeps its status, its first bytes and an HTML page's
    ``<title>`` in the message: "HTTP 502 ... (502 Bad Gateway)" says what happened."""
    request_id = server_request_id(headers) or call_id
    snippet = redact(content[:SNIPPET_BYTES].decode("utf-8", "replace"))
    content_type = headers.get("Content-Type", "")
    what = "an empty body" if not content else f"a non-JSON body ({content_type or 'no type'})"
    message = f"the server answered HTTP {status} with {what}"
    title = redact(_html_title(content))
    if title:
        message += f": {title!r}"
    elif content:
        message += f", starting {snippet[:80]!r}"
    details = {"body_start": snippet, "content_type": content_type}
    cls: type[BBREError] = InvalidResponseError
    if status == 429:
        cls = RateLimitError  # a proxy's rate limit is still one
    elif status >= 500:
        cls = GatewayError
    return cls(
        message,
        status=status,
        details=details,
        request_id=request_id,
        retry_after=parse_retry_after(headers, None),
        headers=headers,
    )


def _html_title(content: bytes) -> str:
    found = _TITLE.search(content[:4096])
    if found is None:
        return ""
    return " ".join(found.group(1).decode("utf-8", "replace").split())[:120]


def _error_from_payload(
    status: int,
    headers: Mapping[str, str],
    payload: Mapping[str, Any],
    call_id: str,
    redact: Callable[[str], str],
) -> BBREError:
    error = payload.get("error")
    code: str | None = None
    message: str | None = None
    details: dict[str, Any] = {}
    if isinstance(error, Mapping):
        code = _str_or_none(error.get("code"))
        message = _str_or_none(error.get("message"))
        if isinstance(error.get("details"), Mapping):
            details = dict(error["details"])
        for key in ("retryAfter", "retry_after"):
            if key in error and key not in details:
                details[key] = error[key]
    elif isinstance(error, str):
        code = error
        message = _str_or_none(payload.get("message"))
        context = payload.get("context")
        if isinstance(context, Mapping):
            details = dict(context)
    if message is None:
        message = _str_or_none(payload.get("message")) or f"request failed with HTTP {status}"
    for key in ("retryAfter", "retry_after"):
        if key in payload and key not in details:
            details[key] = payload[key]
    details = _redact_tree(details, redact)
    shown_status = status
    if status < 400 and isinstance(payload.get("code"), int):
        shown_status = int(payload["code"])
    return error_from_response(
        shown_status,
        code,
        redact(message),
        details=details,
        request_id=server_request_id(headers) or call_id,
        retry_after=parse_retry_after(headers, details),
        headers=headers,
    )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def server_request_id(headers: Mapping[str, str]) -> str | None:
    """The server's id for a call, from whichever header it used (looked up only when asked:
    a success does not pay for it)."""
    for name in ("x-request-id", "X-Request-Id", "x-requestid", "request-id"):
        value = headers.get(name)
        if value:
            return value
    return None


def parse_retry_after(
    headers: Mapping[str, str], details: Mapping[str, Any] | None
) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date) or a ``retryAfter`` field."""
    candidates: list[object] = [headers.get("Retry-After")]
    if not isinstance(headers, CIMultiDictProxy | CIMultiDict):
        candidates.append(headers.get("retry-after"))
    if details:
        candidates += [details.get("retryAfter"), details.get("retry_after")]
    for value in candidates:
        seconds = _seconds(value)
        if seconds is not None:
            return seconds
    return None


def _seconds(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return max(0.0, float(value)) if value == value else None
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError):
                return None
            return max(0.0, when.timestamp() - time.time())
        return max(0.0, number) if number == number and number != float("inf") else None
    return None


def _redact_tree(value: Any, redact: Callable[[str], str], depth: int = 0) -> Any:
    """Redact every string in the server's ``details``: a server that echoes the request
    (and its key) must not put the key into an exception."""
    if isinstance(value, str):
        return redact(value)
    if depth > 20:
        return "..."
    if isinstance(value, Mapping):
        return {str(k): _redact_tree(v, redact, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_tree(v, redact, depth + 1) for v in value]
    return value
