"""``APIResponse``: the raw facts of one API call (status, headers, request id), kept on every
result that asks for them and on every ``BBREError``."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from bbre_async._envelope import CallNamer, server_request_id


class APIResponse:
    """The HTTP answer to one API call, after its retries.

    ``attempts`` counts the tries sent (each try of a charged call is billed); ``elapsed`` is
    the whole call in seconds, retries and waits included.
    """

    __slots__ = ("_namer", "_number", "_payload", "attempts", "elapsed", "headers", "status_code")

    def __init__(
        self,
        *,
        status_code: int,
        headers: Mapping[str, str],
        payload: dict[str, Any],
        call_id: CallNamer,
        call_number: int,
        attempts: int,
        elapsed: float,
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self._payload = payload
        self._namer = call_id
        self._number = call_number
        self.attempts = attempts
        self.elapsed = elapsed

    @property
    def request_id(self) -> str:
        """The server's request id when it sent one, else this client's id for the call."""
        return server_request_id(self.headers) or self._namer.call_id(self._number)

    def json(self) -> dict[str, Any]:
        """The decoded JSON object of the answer."""
        return self._payload

    def __repr__(self) -> str:
        return f"<APIResponse [{self.status_code}] attempts={self.attempts}>"


_LAST: ContextVar[APIResponse | None] = ContextVar("bbre_async_last_api_response", default=None)


def last_api_response() -> APIResponse | None:
    """The raw answer (status, headers, request id) to the last successful API call made by
    the current task, whatever the call returned::

        balance = await client.account.balance()
        print(last_api_response().request_id)

    Per task (a context variable): concurrent tasks never see each other's answers.
    """
    return _LAST.get()


def remember(response: APIResponse) -> None:
    _LAST.set(response)
