"""``get``/``post``/... shortcuts over one ``request`` method, shared by every session-like
object (a session handle, a pooled lease) so they cannot drift apart. The keywords are typed
(``FetchOptions``): a misspelt one is a type error, not a silent no-op."""

from __future__ import annotations

from typing import Protocol, Unpack

from bbre_async._response import Response
from bbre_async._types import FetchOptions, HTTPMethod


class _Requester(Protocol):
    async def request(
        self, method: HTTPMethod, url: str, **options: Unpack[FetchOptions]
    ) -> Response: ...


class VerbsMixin:
    """Adds the HTTP verbs to a class that defines ``request(method, url, **options)``."""

    __slots__ = ()

    async def get(self: _Requester, url: str, **options: Unpack[FetchOptions]) -> Response:
        return await self.request("GET", url, **options)

    async def post(self: _Requester, url: str, **options: Unpack[FetchOptions]) -> Response:
        return await self.request("POST", url, **options)

    async def put(self: _Requester, url: str, **options: Unpack[FetchOptions]) -> Response:
        return await self.request("PUT", url, **options)

    async def patch(self: _Requester, url: str, **options: Unpack[FetchOptions]) -> Response:
        return await self.request("PATCH", url, **options)

    async def delete(self: _Requester, url: str, **options: Unpack[FetchOptions]) -> Response:
        return await self.request("DELETE", url, **options)

    async def head(self: _Requester, url: str, **options: Unpack[FetchOptions]) -> Response:
        return await self.request("HEAD", url, **options)

    async def options(self: _Requester, url: str, **options: Unpack[FetchOptions]) -> Response:
        return await self.request("OPTIONS", url, **options)
