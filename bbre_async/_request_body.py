"""Builds the JSON body that asks the remote browser to fetch a URL.

The same fields serve ``/session/request`` and the stateless ``/request/*`` calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlencode

from bbre_async._types import (
    FetchOptions,
    FormData,
    JSONValue,
    Mode,
    QueryParams,
    Sensibility,
    TaskOptions,
)

HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MODES = frozenset({"passive", "adaptive"})
SENSIBILITIES = frozenset({"low", "medium", "high"})


def check_choice(name: str, value: str, allowed: frozenset[str]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
    return value


def check_mode(value: str) -> Mode:
    """``value`` as a ``Mode``, or ``ValueError`` (for callers holding a plain ``str``)."""
    check_choice("mode", value, MODES)
    return cast(Mode, value)


def check_sensibility(value: str) -> Sensibility:
    """``value`` as a ``Sensibility``, or ``ValueError``."""
    check_choice("sensibility", value, SENSIBILITIES)
    return cast(Sensibility, value)


def check_url(url: object) -> str:
    """An absolute http(s) URL with a host (a cheap prefix test, not a full parse)."""
    if isinstance(url, str):
        if url.startswith("https://"):
            host = url[8:9]
        elif url.startswith("http://"):
            host = url[7:8]
        else:
            host = ""
        if host and host not in "/?#" and " " not in url:
            return url
    raise ValueError(f"url must be an absolute http(s) URL, got {url!r}")


def with_params(url: str, params: QueryParams | None) -> str:
    """``url`` with ``params`` appended to its query string."""
    if not params:
        return url
    query = urlencode(list(params.items()) if isinstance(params, Mapping) else list(params))
    return f"{url}{'&' if '?' in url else '?'}{query}"


def target_request(
    method: str,
    url: str,
    *,
    params: QueryParams | None = None,
    headers: Mapping[str, str] | None = None,
    body: str | None = None,
    json: JSONValue = None,
    data: FormData | None = None,
    cookies: Mapping[str, str] | None = None,
    fetch_timeout: float | None = None,
    allow_redirects: bool | None = None,
    verify_ssl: bool | None = None,
) -> dict[str, Any]:
    """Validate the caller's arguments and return the API's field names.

    ``json=`` sends an object as JSON, ``data=`` a form (a mapping) or raw text, ``body=`` is
    passed through as is; at most one of them.
    """
    verb = (
        method if method in HTTP_METHODS else check_choice("method", method.upper(), HTTP_METHODS)
    )
    url = with_params(check_url(url), params)
    payload: dict[str, Any] = {"url": url, "method": verb}
    out_headers = dict(headers) if headers else None
    if json is not None or data is not None or body is not None:
        given = [n for n, v in (("body", body), ("json", json), ("data", data)) if v is not None]
        if len(given) > 1:
            raise TypeError(f"pass at most one of body=, json=, data= (got {', '.join(given)})")
        out_headers = out_headers or {}
        if json is not None:
            payload["body"] = json
            out_headers.setdefault("Content-Type", "application/json")
        elif data is not None:
            if isinstance(data, Mapping):
                payload["body"] = urlencode({k: str(v) for k, v in data.items()})
                out_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            else:
                payload["body"] = data.decode() if isinstance(data, bytes) else data
        else:
            payload["body"] = body
    if out_headers:
        payload["headers"] = out_headers
    if cookies:
        payload["cookies"] = dict(cookies)
    if fetch_timeout is not None:
        if isinstance(fetch_timeout, bool) or not fetch_timeout > 0:
            raise ValueError(
                f"fetch_timeout must be a number of seconds > 0, got {fetch_timeout!r}"
            )
        payload["timeout"] = fetch_timeout
    if allow_redirects is not None:
        payload["allowRedirects"] = allow_redirects
    if verify_ssl is not None:
        payload["verifySSL"] = verify_ssl
    return payload


def fetch_request(method: str, url: str, options: FetchOptions | TaskOptions) -> dict[str, Any]:
    """``target_request`` from a verb's typed keywords (session and stateless fetches alike)."""
    return target_request(
        method,
        url,
        params=options.get("params"),
        headers=options.get("headers"),
        json=options.get("json"),
        data=options.get("data"),
        body=options.get("body"),
        cookies=options.get("cookies"),
        fetch_timeout=options.get("fetch_timeout"),
        allow_redirects=options.get("allow_redirects"),
        verify_ssl=options.get("verify_ssl"),
    )
