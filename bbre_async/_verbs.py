"""``get``/``post``/... shortcuts over one ``request`` method, shared by every session-like
object (a session handle, a pooled lease) so they cannot drift apart."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bbre_async._models import Response


class VerbsMixin:
    """Adds the HTTP verbs to a class that defines ``request(method, url, **kwargs)``."""

    __slots__ = ()

    request: Callable[..., Awaitable[Response]]

    async def get(self, url: str, **kwargs: Any) -> Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> Response:
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> Response:
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> Response:
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> Response:
        return await self.request("DELETE", url, **kwargs)

    async def head(self, url: str, **kwargs: Any) -> Response:
        return await self.request("HEAD", url, **kwargs)

    async def options(self, url: str, **kwargs: Any) -> Response:
        return await self.request("OPTIONS", url, **kwargs)
