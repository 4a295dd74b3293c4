"""A raw API answer for envelope tests: status, headers and body, as a transport gives them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from multidict import CIMultiDict, CIMultiDictProxy

from bbre_async import _envelope


class Raw(NamedTuple):
    status: int
    headers: Mapping[str, str]
    body: bytes


def raw(status: int, body: bytes, **headers: str) -> Raw:
    return Raw(status, headers, body)


def decode(answer: Raw, *, redact: Callable[[str], str] | None = None) -> dict[str, Any]:
    """Decode as the client does (headers case-insensitive, call id ``req_local``)."""
    headers = CIMultiDictProxy(CIMultiDict(answer.headers))
    local = _envelope.FixedCallId("req_local")
    if redact is None:
        return _envelope.decode(answer.status, headers, answer.body, local)
    return _envelope.decode(answer.status, headers, answer.body, local, redact=redact)
