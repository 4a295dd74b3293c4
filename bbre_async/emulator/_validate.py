"""Request-body checks shared by the endpoints (the vendor's "validator" layer).

Each helper returns the cleaned value or raises ``400 INVALID_REQUEST`` naming the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bbre_async.emulator._envelope import finite_number, invalid

HTTP_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})


def choice(body: dict[str, Any], field: str, allowed: Sequence[str], default: str) -> str:
    value = body.get(field)
    if value is None:
        return default
    if value not in allowed:
        raise invalid(
            f"{field} must be one of: {', '.join(allowed)}.", field=field, allowed=list(allowed)
        )
    return str(value)


def optional_object(body: dict[str, Any], field: str) -> dict[str, Any] | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid(f"{field} must be an object.", field=field)
    return value


def proxy(body: dict[str, Any]) -> Any:
    value = body.get("proxy")
    if value is not None and not isinstance(value, str | dict):
        raise invalid("proxy must be a string or an object.", field="proxy")
    return value


#: The largest page number read; beyond it a listing is empty anyway.
PAGE_MAX = 1_000_000_000


def lenient_int(body: dict[str, Any], field: str, default: int, *, low: int) -> int:
    """A paging number, read the lenient way the vendor's listing pages describe: a value that
    is not a number (or a numeric string) is ignored, a number is truncated and clamped to
    ``low``-``PAGE_MAX``. Never an error."""
    value = body.get(field)
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return default
    if isinstance(value, bool) or not finite_number(value):
        return default
    return min(max(int(value), low), PAGE_MAX)


def positive_seconds(body: dict[str, Any], field: str, default: float) -> float:
    value = body.get(field)
    if value is None:
        return default
    if not finite_number(value) or value <= 0:
        raise invalid(f"{field} must be a positive number of seconds.", field=field)
    return float(value)


def flag(body: dict[str, Any], field: str, default: bool) -> bool:
    value = body.get(field)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(f"{field} must be true or false.", field=field)
    return value


def cookies(value: Any) -> dict[str, str] | None:
    """Cookies as ``{name: value}`` or ``[{"name", "value", ...}]`` (what browsers export)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, list):
        jar: dict[str, str] = {}
        for item in value:
            if not isinstance(item, dict) or "name" not in item:
                raise invalid(
                    "cookies must be an object or a list of {name, value}.", field="cookies"
                )
            jar[str(item["name"])] = str(item.get("value", ""))
        return jar
    raise invalid("cookies must be an object or a list of {name, value}.", field="cookies")


def lenient_epoch_ms(body: dict[str, Any], field: str) -> int | None:
    """An ISO 8601 date (``Z`` or an offset; naive means UTC) or epoch ms, as epoch ms; a value
    that is neither is ignored (``None``), as the history page says it handles invalid values
    gracefully."""
    value = body.get(field)
    if isinstance(value, bool):
        return None
    if finite_number(value):
        return int(value)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return round(parsed.timestamp() * 1000)
    return None


class TargetCall:
    """What to fetch: the part shared by session requests and stateless tasks.

    A plain slotted class rather than an attrs one: it is built on every request, and the
    validation in ``target_call`` is its only constructor."""

    __slots__ = ("allow_redirects", "cookies", "method", "timeout", "url")

    def __init__(
        self,
        url: str,
        method: str,
        cookies: dict[str, str] | None,
        allow_redirects: bool,
        timeout: float | None,
    ) -> None:
        self.url = url
        self.method = method
        self.cookies = cookies
        self.allow_redirects = allow_redirects
        self.timeout = timeout


_SCHEMES = ("http://", "https://")
#: The fields ``target_call`` checks after ``url`` and ``method``.
_OPTIONAL = frozenset({"headers", "verifySSL", "allowRedirects", "timeout", "cookies"})


def target_call(body: dict[str, Any]) -> TargetCall:
    """The target of a request body, validated (``400 INVALID_REQUEST`` naming the field).

    Written for the hot path: one dict lookup per field, no helper calls when a field is
    absent, which is the common case."""
    get = body.get
    url = get("url")
    if type(url) is not str or not url.startswith(_SCHEMES):
        if not isinstance(url, str) or not url:
            raise invalid("url is required.", field="url")
        if not url.startswith(_SCHEMES):
            raise invalid("url must be an absolute http(s) URL.", field="url")
    method = get("method")
    if not method:
        method = "GET"
    elif method != "GET":
        if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
            raise invalid(
                "method must be an HTTP method.", field="method", allowed=sorted(HTTP_METHODS)
            )
        method = method.upper()
    if _OPTIONAL.isdisjoint(body):  # the usual call: url, method, sessionId and nothing else
        return TargetCall(url, method, None, True, None)
    headers = get("headers")
    if headers is not None and not isinstance(headers, dict):
        raise invalid("headers must be an object.", field="headers")
    verify = get("verifySSL")
    if verify is not None and not isinstance(verify, bool):
        raise invalid("verifySSL must be true or false.", field="verifySSL")
    redirects = get("allowRedirects")
    if redirects is not None and not isinstance(redirects, bool):
        raise invalid("allowRedirects must be true or false.", field="allowRedirects")
    timeout = get("timeout")
    if timeout is not None:
        if not finite_number(timeout) or timeout <= 0:
            raise invalid("timeout must be a positive number of seconds.", field="timeout")
        timeout = float(timeout)
    jar = get("cookies")
    return TargetCall(
        url,
        method,
        None if jar is None else cookies(jar),
        redirects is not False,
        timeout,
    )
