"""bbre_async: an asyncio SDK for remote browser-session APIs.

Start with ``BBREClient`` for the API and ``SessionPool`` to share an account's capped,
short-lived sessions among many tasks.
"""

import importlib
import logging
from typing import TYPE_CHECKING

from bbre_async._version import __version__

if TYPE_CHECKING:
    from bbre_async._aiohttp_transport import AiohttpTransport
    from bbre_async._api_response import (
        APIResponse,
        last_api_response,
    )
    from bbre_async._client import BBREClient
    from bbre_async._errors import (
        APIConnectionError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        BBREError,
        CoordinationError,
        GatewayError,
        HTTPStatusError,
        InsufficientBalanceError,
        InvalidResponseError,
        LeaseReleasedError,
        NotFoundError,
        PermissionDeniedError,
        PoolClosedError,
        PoolError,
        PoolTimeoutError,
        RateLimitError,
        ResponseTooLargeError,
        ServiceError,
        SessionClosedError,
        SessionExpiredError,
        SessionGoneError,
        SessionLimitError,
        SessionNotFoundError,
        TaskFailedError,
        TaskNotFoundError,
    )
    from bbre_async._models import (
        AccountInfo,
        AccountStatistics,
        Page,
        SessionInfo,
        Task,
        TaskResult,
        TaskStatus,
    )
    from bbre_async._response import Response
    from bbre_async._retry import RetryPolicy
    from bbre_async._session import Session
    from bbre_async._stats import ClientStats
    from bbre_async._timeout import Timeout
    from bbre_async._timeout import Timeouts as Timeouts
    from bbre_async._transport import (
        AsyncTransport,
        MockTransport,
        TransportRequest,
        TransportResponse,
    )
    from bbre_async._types import (
        FetchOptions,
        HTTPMethod,
        Mode,
        Sensibility,
        SessionStatusName,
        TaskOptions,
        TaskStatusName,
    )
    from bbre_async.pool import (
        CostModel,
        EventKind,
        PooledSession,
        PoolEvent,
        PoolStats,
        SessionPool,
        ShutdownSummary,
    )

__all__ = [
    "APIConnectionError",
    "APIResponse",
    "APITimeoutError",
    "AccountInfo",
    "AccountStatistics",
    "AiohttpTransport",
    "AsyncTransport",
    "AuthenticationError",
    "BBREClient",
    "BBREError",
    "BadRequestError",
    "ClientStats",
    "CoordinationError",
    "CostModel",
    "EventKind",
    "FetchOptions",
    "GatewayError",
    "HTTPMethod",
    "HTTPStatusError",
    "InsufficientBalanceError",
    "InvalidResponseError",
    "LeaseReleasedError",
    "MockTransport",
    "Mode",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "PoolClosedError",
    "PoolError",
    "PoolEvent",
    "PoolStats",
    "PoolTimeoutError",
    "PooledSession",
    "RateLimitError",
    "Response",
    "ResponseTooLargeError",
    "RetryPolicy",
    "Sensibility",
    "ServiceError",
    "Session",
    "SessionClosedError",
    "SessionExpiredError",
    "SessionGoneError",
    "SessionInfo",
    "SessionLimitError",
    "SessionNotFoundError",
    "SessionPool",
    "SessionStatusName",
    "ShutdownSummary",
    "Task",
    "TaskFailedError",
    "TaskNotFoundError",
    "TaskOptions",
    "TaskResult",
    "TaskStatus",
    "TaskStatusName",
    "Timeout",
    "TransportRequest",
    "TransportResponse",
    "__version__",
    "last_api_response",
]

#: Where each public name lives. ``import bbre_async`` loads none of them (so ``bbre-async
#: --help`` and a script that only needs the emulator do not pay for aiohttp's client or the
#: pool); the first use of a name imports its module, once.
_EXPORTS: dict[str, str] = {
    "APIConnectionError": "bbre_async._errors",
    "APIResponse": "bbre_async._api_response",
    "APITimeoutError": "bbre_async._errors",
    "AccountInfo": "bbre_async._models",
    "AccountStatistics": "bbre_async._models",
    "AiohttpTransport": "bbre_async._aiohttp_transport",
    "AsyncTransport": "bbre_async._transport",
    "AuthenticationError": "bbre_async._errors",
    "BBREClient": "bbre_async._client",
    "BBREError": "bbre_async._errors",
    "BadRequestError": "bbre_async._errors",
    "ClientStats": "bbre_async._stats",
    "CoordinationError": "bbre_async._errors",
    "CostModel": "bbre_async.pool",
    "EventKind": "bbre_async.pool",
    "FetchOptions": "bbre_async._types",
    "GatewayError": "bbre_async._errors",
    "HTTPMethod": "bbre_async._types",
    "HTTPStatusError": "bbre_async._errors",
    "InsufficientBalanceError": "bbre_async._errors",
    "InvalidResponseError": "bbre_async._errors",
    "LeaseReleasedError": "bbre_async._errors",
    "MockTransport": "bbre_async._transport",
    "Mode": "bbre_async._types",
    "NotFoundError": "bbre_async._errors",
    "Page": "bbre_async._models",
    "PermissionDeniedError": "bbre_async._errors",
    "PoolClosedError": "bbre_async._errors",
    "PoolError": "bbre_async._errors",
    "PoolEvent": "bbre_async.pool",
    "PoolStats": "bbre_async.pool",
    "PoolTimeoutError": "bbre_async._errors",
    "PooledSession": "bbre_async.pool",
    "RateLimitError": "bbre_async._errors",
    "Response": "bbre_async._response",
    "ResponseTooLargeError": "bbre_async._errors",
    "RetryPolicy": "bbre_async._retry",
    "Sensibility": "bbre_async._types",
    "ServiceError": "bbre_async._errors",
    "Session": "bbre_async._session",
    "SessionClosedError": "bbre_async._errors",
    "SessionExpiredError": "bbre_async._errors",
    "SessionGoneError": "bbre_async._errors",
    "SessionInfo": "bbre_async._models",
    "SessionLimitError": "bbre_async._errors",
    "SessionNotFoundError": "bbre_async._errors",
    "SessionPool": "bbre_async.pool",
    "SessionStatusName": "bbre_async._types",
    "ShutdownSummary": "bbre_async.pool",
    "Task": "bbre_async._models",
    "TaskFailedError": "bbre_async._errors",
    "TaskNotFoundError": "bbre_async._errors",
    "TaskOptions": "bbre_async._types",
    "TaskResult": "bbre_async._models",
    "TaskStatus": "bbre_async._models",
    "TaskStatusName": "bbre_async._types",
    "Timeout": "bbre_async._timeout",
    "TransportRequest": "bbre_async._transport",
    "TransportResponse": "bbre_async._transport",
    "last_api_response": "bbre_async._api_response",
    "Timeouts": "bbre_async._timeout",  # the earlier name of Timeout, not advertised
}


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


# A library stays quiet unless the application configures logging.
logging.getLogger("bbre_async").addHandler(logging.NullHandler())
