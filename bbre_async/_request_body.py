"""Builds the JSON body that asks the remote browser to fetch a URL.

The same fields serve ``/session/request`` and the stateless ``/request/*`` calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
MODES = frozenset({"passive", "adaptive"})
SENSIBILITIES = frozenset({"low", "medium", "high"})


def check_choice(name: str, value: str, allowed: frozenset[str]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
    return value


def target_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    json: Any = None,
    data: Mapping[str, Any] | str | bytes | None = None,
    cookies: Mapping[str, str] | None = None,
    timeout: float | None = None,
    allow_redirects: bool | None = None,
    verify_ssl: bool | None = None,
) -> dict[str, Any]:
    """Validate the caller's arguments and return the API's field names.

    ``json=`` sends an object as JSON, ``data=`` a form (a mapping) or raw text, ``body=`` is
    passed through as is; at most one of them.
    """
    verb = method.upper()
    check_choice("method", verb, HTTP_METHODS)
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"url must be an absolute http(s) URL, got {url!r}")
    given = [
        name
        for name, value in (("body", body), ("json", json), ("data", data))
        if value is not None
    ]
    if len(given) > 1:
        raise TypeError(f"pass at most one of body=, json=, data= (got {', '.join(given)})")
    out_headers = dict(headers or {})
    payload: dict[str, Any] = {"url": url, "method": verb}
    if json is not None:
        payload["body"] = json
        out_headers.setdefault("Content-Type", "application/json")
    elif data is not None:
        if isinstance(data, Mapping):
            payload["body"] = urlencode({k: str(v) for k, v in data.items()})
            out_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        else:
            payload["body"] = data.decode() if isinstance(data, bytes) else data
    elif body is not None:
        payload["body"] = body
    if out_headers:
        payload["headers"] = out_headers
    if cookies:
        payload["cookies"] = dict(cookies)
    if timeout is not None:
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        payload["timeout"] = timeout
    if allow_redirects is not None:
        payload["allowRedirects"] = allow_redirects
    if verify_ssl is not None:
        payload["verifySSL"] = verify_ssl
    return payload
