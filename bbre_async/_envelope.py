"""Turns an HTTP answer into a payload object or a typed error.

Both vendors' error shapes are understood here: BBRE's ``{"success": false, "error": {"code",
"message", "details"}}`` and OrchestratorHQ's ``{"error": "CODE", "message", "code": 404,
"context"}``. Anything that is not a JSON object (an HTML 502 page from a proxy, an empty or
truncated body) becomes a typed error that keeps the status and the first bytes.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from bbre_async import _json
from bbre_async._errors import BBREError, InvalidResponseError, error_class_for, error_from_response

SNIPPET_BYTES = 200


@attrs.frozen(kw_only=True)
class RawResponse:
    """What the transport read: enough to decode, nothing tied to aiohttp."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    request_id: str


def _identity(text: str) -> str:
    return text


def decode(raw: RawResponse, *, redact: Callable[[str], str] = _identity) -> dict[str, Any]:
    """Return the JSON object of a successful answer, or raise the matching ``BBREError``."""
    request_id = _server_request_id(raw.headers) or raw.request_id
    try:
        payload = _json.loads(raw.body) if raw.body else None
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise _undecodable(raw, request_id, redact)
    failed = payload.get("success") is False or raw.status >= 400 or _has_error_field(payload)
    if failed:
        raise _error_from_payload(raw, payload, request_id, redact)
    return payload


def _has_error_field(payload: Mapping[str, Any]) -> bool:
    # A BBRE success never carries "error"; OrchestratorHQ's errors have no "success" key.
    return "success" not in payload and isinstance(payload.get("error"), str | dict)


def _undecodable(raw: RawResponse, request_id: str, redact: Callable[[str], str]) -> BBREError:
    snippet = redact(raw.body[:SNIPPET_BYTES].decode("utf-8", "replace"))
    content_type = raw.headers.get("Content-Type", raw.headers.get("content-type", ""))
    what = (
        "an empty body" if not raw.body else f"a non-JSON-object body ({content_type or 'no type'})"
    )
    message = f"the server answered HTTP {raw.status} with {what}"
    details = {"body_start": snippet, "content_type": content_type}
    cls = error_class_for(raw.status, None) if raw.status >= 400 else InvalidResponseError
    if cls is InvalidResponseError or raw.status < 400:
        return InvalidResponseError(
            message, status=raw.status, details=details, request_id=request_id
        )
    return cls(
        message,
        status=raw.status,
        details=details,
        request_id=request_id,
        retry_after=parse_retry_after(raw.headers, None),
    )


def _error_from_payload(
    raw: RawResponse, payload: Mapping[str, Any], request_id: str, redact: Callable[[str], str]
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
        message = _str_or_none(payload.get("message")) or f"request failed with HTTP {raw.status}"
    for key in ("retryAfter", "retry_after"):
        if key in payload and key not in details:
            details[key] = payload[key]
    details = _redact_tree(details, redact)
    status = raw.status if raw.status >= 400 else None
    if status is None and isinstance(payload.get("code"), int):
        status = int(payload["code"])
    return error_from_response(
        status if status is not None else raw.status,
        code,
        redact(message),
        details=details,
        request_id=request_id,
        retry_after=parse_retry_after(raw.headers, details),
    )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _server_request_id(headers: Mapping[str, str]) -> str | None:
    for name in ("x-request-id", "X-Request-Id", "x-requestid", "request-id"):
        value = headers.get(name)
        if value:
            return value
    return None


def parse_retry_after(
    headers: Mapping[str, str], details: Mapping[str, Any] | None
) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date) or a ``retryAfter`` field."""
    candidates: list[object] = [headers.get("Retry-After"), headers.get("retry-after")]
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
