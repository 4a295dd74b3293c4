"""``APIResponse``: the raw facts of one API call (status, headers, request id), kept on every
result that asks for them and on every ``BBREError``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bbre_async._envelope import server_request_id


class APIResponse:
    """The HTTP answer to one API call, after its retries.

    ``attempts`` counts the tries sent (each try of a charged call is billed); ``elapsed`` is
    the whole call in seconds, retries and waits included.
    """

    __slots__ = ("_call_id", "_payload", "attempts", "elapsed", "headers", "status_code")

    def __init__(
        self,
        *,
        status_code: int,
        headers: Mapping[str, str],
        payload: dict[str, Any],
        call_id: str,
        attempts: int,
        elapsed: float,
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self._payload = payload
        self._call_id = call_id
        self.attempts = attempts
        self.elapsed = elapsed

    @property
    def request_id(self) -> str:
        """The server's request id when it sent one, else this client's id for the call."""
        return server_request_id(self.headers) or self._call_id

    def json(self) -> dict[str, Any]:
        """The decoded JSON object of the answer."""
        return self._payload

    def __repr__(self) -> str:
        return f"<APIResponse [{self.status_code}] attempts={self.attempts}>"
