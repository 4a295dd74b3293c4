"""The typed error tree: every failure a caller can see is a ``BBREError``.

Errors are chosen from the server's string code first (it is the most specific fact) and the
HTTP status second, so an unknown code still lands on a sensible parent class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bbre_async._response import Response

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AuthenticationError",
    "BBREError",
    "BadRequestError",
    "CoordinationError",
    "GatewayError",
    "HTTPStatusError",
    "InsufficientBalanceError",
    "InvalidResponseError",
    "LeaseReleasedError",
    "NotFoundError",
    "PermissionDeniedError",
    "PoolClosedError",
    "PoolError",
    "PoolTimeoutError",
    "RateLimitError",
    "ResponseTooLargeError",
    "ServiceError",
    "SessionClosedError",
    "SessionExpiredError",
    "SessionGoneError",
    "SessionLimitError",
    "SessionNotFoundError",
    "TaskFailedError",
    "TaskNotFoundError",
    "error_from_response",
]


class BBREError(Exception):
    """Base of every error bbre_async raises on purpose.

    Attributes:
        message: a human sentence, never containing a secret.
        status: the HTTP status, when a response arrived.
        code: the server's string code (``SESSION_LIMIT_REACHED``), when it sent one.
        details: the server's ``details`` (or ``context``) object.
        request_id: the server's request id when it sent one, else this client's call id.
        headers: the answer's headers (case-insensitive), when a response arrived.
        retry_after: seconds the server asked us to wait, when it said.
        outcome_unknown: True when a non-idempotent call (a create) may have reached the
            server and taken effect although no answer arrived; such a call is never replayed.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details or {}
        self.request_id = request_id
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown
        self.headers: Mapping[str, str] = headers if headers is not None else {}

    def __str__(self) -> str:
        parts = [self.message]
        if self.code:
            parts.append(f"code={self.code}")
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        if self.outcome_unknown:
            parts.append("outcome unknown: the server may have acted on it")
        return " | ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status={self.status!r}, code={self.code!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructor arguments do not survive the default Exception pickling.
        return (_rebuild, (type(self), self.message, self._state()))

    def _state(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "code": self.code,
            "details": self.details,
            "request_id": self.request_id,
            "retry_after": self.retry_after,
            "outcome_unknown": self.outcome_unknown,
            "headers": {k: v for k, v in self.headers.items()},
        }


def _rebuild(cls: type[BBREError], message: str, state: dict[str, Any]) -> BBREError:
    error = cls.__new__(cls)
    extra = {k: state.pop(k) for k in _EXTRA_STATE if k in state}
    BBREError.__init__(error, message, **state)
    for key, value in extra.items():
        setattr(error, key, value)
    return error


_EXTRA_STATE = ("request_sent", "response")


class BadRequestError(BBREError):
    """The server rejected the request body (400): fix the call, do not retry it."""


class AuthenticationError(BBREError):
    """No API key, or a key the server does not know (401, 403 ``INVALID_API_KEY``)."""


class PermissionDeniedError(BBREError):
    """The key is known but the account may not act (suspended, inactive)."""


class InsufficientBalanceError(BBREError):
    """A charged call with too little balance (402)."""


class NotFoundError(BBREError):
    """The thing named does not exist for this account (404)."""


class SessionGoneError(BBREError):
    """The session is not active any more; cleanup treats this as "already closed"."""


class SessionNotFoundError(NotFoundError, SessionGoneError):
    """Unknown session id, another account's id, or a session cleaned up after expiry."""


class SessionClosedError(SessionGoneError):
    """The session was closed already."""


class SessionExpiredError(SessionGoneError):
    """The session outlived its ``expiresAt``; it cannot be renewed, only replaced."""


class TaskNotFoundError(NotFoundError):
    """Unknown stateless task id."""


class TaskFailedError(BBREError):
    """A stateless task ended ``failed`` or ``timeout`` (the server refunds those)."""


class SessionLimitError(BBREError):
    """The account holds its maximum of active sessions (429 ``SESSION_LIMIT_REACHED``).

    This is backpressure, not a rate limit: waiting helps only when a slot frees.
    """


class RateLimitError(BBREError):
    """Too many requests (429); ``retry_after`` says how long to wait when the server said."""


class ServiceError(BBREError):
    """A transient server fault (5xx, ``SERVICE_ERROR``)."""


class APIConnectionError(BBREError):
    """The server could not be reached, or the connection broke before an answer arrived.

    ``request_sent`` is False only when the request provably never left this process (no
    connection could be made): such a call is safe to send again, even a charged one.
    ``code`` names the client-side fault: ``CONNECT_ERROR``, ``CONNECT_TIMEOUT``,
    ``TLS_ERROR``, ``CONNECTION_LOST``, ``TIMEOUT`` or ``CLIENT_CLOSED``.
    """

    def __init__(
        self,
        message: str,
        *,
        request_sent: bool = True,
        status: int | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            message,
            status=status,
            code=code,
            details=details,
            request_id=request_id,
            retry_after=retry_after,
            outcome_unknown=outcome_unknown,
            headers=headers,
        )
        self.request_sent = request_sent

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "request_sent": self.request_sent}


class APITimeoutError(APIConnectionError):
    """No answer within the call's ``timeout``; the message states the time really waited."""


class InvalidResponseError(BBREError):
    """The server answered with something that is not the documented JSON (an HTML proxy page,
    an empty or truncated body, a wrong type); the first bytes are kept in ``details``."""


class GatewayError(ServiceError, InvalidResponseError):
    """A 5xx answer without the API's JSON (an HTML page from a proxy or load balancer).
    Retried like any transient fault when it is a 500, 502, 503 or 504."""


class ResponseTooLargeError(InvalidResponseError):
    """The answer outgrew the client's ``max_response_size``; reading stopped there."""


class HTTPStatusError(BBREError):
    """``Response.raise_for_status()`` on a target answer of 400 or more; ``response`` is it.

    ``status`` is the target's status code, not the API call's (which succeeded).
    """

    def __init__(self, message: str, *, response: Response) -> None:
        super().__init__(
            message,
            status=response.status_code,
            request_id=response.request_id,
            headers=response.headers,
        )
        self.response = response

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "response": self.response}


class PoolError(BBREError):
    """Base of the errors the session pool raises itself."""


class PoolTimeoutError(PoolError):
    """``acquire`` waited longer than its timeout for a session."""


class PoolClosedError(PoolError):
    """The pool is closing or closed; it hands out no more sessions."""


class CoordinationError(PoolError):
    """The shared cap could not be consulted (Redis unreachable or slow): the pool fails
    closed rather than risk exceeding the account's limit."""


class LeaseReleasedError(PoolError):
    """A leased session was used after it went back to the pool."""


_BY_CODE: dict[str, type[BBREError]] = {
    # BBRE
    "API_KEY_REQUIRED": AuthenticationError,
    "INVALID_API_KEY": AuthenticationError,
    "ACCOUNT_SUSPENDED": PermissionDeniedError,
    "ACCOUNT_INACTIVE": PermissionDeniedError,
    "INSUFFICIENT_BALANCE": InsufficientBalanceError,
    "SESSION_ID_REQUIRED": BadRequestError,
    "INVALID_REQUEST": BadRequestError,
    "VALIDATION_ERROR": BadRequestError,
    "SESSION_NOT_FOUND": SessionNotFoundError,
    "SESSION_CLOSED": SessionClosedError,
    "SESSION_EXPIRED": SessionExpiredError,
    "TASK_NOT_FOUND": TaskNotFoundError,
    "SESSION_LIMIT_REACHED": SessionLimitError,
    "RATE_LIMIT_EXCEEDED": RateLimitError,
    "TOO_MANY_REQUESTS": RateLimitError,
    "SERVICE_ERROR": ServiceError,
    "INTERNAL_ERROR": ServiceError,
    # OrchestratorHQ
    "UNAUTHORIZED": AuthenticationError,
    "FORBIDDEN": PermissionDeniedError,
    "INVALID_DURATION": BadRequestError,
    "INSUFFICIENT_CREDITS": InsufficientBalanceError,
    "SESSION_LIMIT_EXCEEDED": SessionLimitError,
    "NO_SERVERS_AVAILABLE": ServiceError,
}

_BY_STATUS: dict[int, type[BBREError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientBalanceError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: APITimeoutError,
    409: BadRequestError,
    422: BadRequestError,
    429: RateLimitError,
}


def error_class_for(status: int | None, code: str | None) -> type[BBREError]:
    """Pick the most specific class: the string code, then the status, then a generic parent."""
    if code and code in _BY_CODE:
        return _BY_CODE[code]
    if status is None:
        return BBREError
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServiceError
    if 400 <= status < 500:
        return BadRequestError
    return InvalidResponseError


def error_from_response(
    status: int | None,
    code: str | None,
    message: str,
    *,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
    retry_after: float | None = None,
    headers: Mapping[str, str] | None = None,
) -> BBREError:
    """Build the typed error for a server's error answer."""
    cls = error_class_for(status, code)
    return cls(
        message,
        status=status,
        code=code,
        details=details,
        request_id=request_id,
        retry_after=retry_after,
        headers=headers,
    )
