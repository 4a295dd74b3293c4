"""The closed sets of the API as ``Literal`` types, and the typed options of a target fetch,
so ``mypy --strict`` catches ``status="faild"`` or ``timout=20`` before anything runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, TypedDict

from bbre_async._timeout import Timeout

Mode = Literal["passive", "adaptive"]
Sensibility = Literal["low", "medium", "high"]
HTTPMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
SessionStatusName = Literal["active", "closed", "expired"]
TaskStatusName = Literal["completed", "failed", "processing", "timeout"]

#: A JSON value as callers send it (``json=``): dicts, lists, strings, numbers, bools, None.
JSONValue = Mapping[str, "JSONValue"] | Sequence["JSONValue"] | str | int | float | bool | None
QueryValue = str | int | float
QueryParams = Mapping[str, QueryValue] | Sequence[tuple[str, QueryValue]]
FormData = Mapping[str, QueryValue] | str | bytes
#: A proxy for the remote browser: a URL string or the API's proxy object.
Proxy = str | Mapping[str, str | int]


class FetchOptions(TypedDict, total=False):
    """The keywords of ``session.get/post/...`` (the same as ``session.request``).

    ``fetch_timeout`` is the remote browser's limit for the target; ``timeout`` is how long
    this process waits for the API call (retries included); ``idempotent=True`` lets a POST
    be retried like a GET.
    """

    params: QueryParams | None
    headers: Mapping[str, str] | None
    json: JSONValue
    data: FormData | None
    body: str | None
    cookies: Mapping[str, str] | None
    fetch_timeout: float | None
    allow_redirects: bool | None
    verify_ssl: bool | None
    idempotent: bool | None
    timeout: Timeout | float | None
    max_retries: int | None


class TaskOptions(TypedDict, total=False):
    """The keywords of ``client.requests.create/execute/run`` beyond the URL."""

    method: HTTPMethod
    mode: Mode
    sensibility: Sensibility
    fingerprint: Mapping[str, JSONValue] | None
    proxy: Proxy | None
    params: QueryParams | None
    headers: Mapping[str, str] | None
    json: JSONValue
    data: FormData | None
    body: str | None
    cookies: Mapping[str, str] | None
    fetch_timeout: float | None
    allow_redirects: bool | None
    verify_ssl: bool | None
