"""bbre_async: an asyncio SDK for remote browser-session APIs.

Start with ``BBREClient`` for the API and ``SessionPool`` to share an account's capped,
short-lived sessions among many tasks.
"""

import importlib
import logging
from typing import TYPE_CHECKING

from bbre_async._version import __version__

if TYPE_CHECKING:
    from bbre_async._client import BBREClient
    from bbre_async._errors import (
        APIConnectionError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        BBREError,
        CoordinationError,
        InsufficientBalanceError,
        InvalidResponseError,
        LeaseReleasedError,
        NotFoundError,
        PermissionDeniedError,
        PoolClosedError,
        PoolError,
        PoolTimeoutError,
        RateLimitError,
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
        Response,
        SessionInfo,
        Task,
        TaskResult,
        TaskStatus,
    )
    from bbre_async._retry import RetryPolicy
    from bbre_async._session import Session
    from bbre_async._transport import Timeouts
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
    "APITimeoutError",
    "AccountInfo",
    "AccountStatistics",
    "AuthenticationError",
    "BBREClient",
    "BBREError",
    "BadRequestError",
    "CoordinationError",
    "CostModel",
    "EventKind",
    "InsufficientBalanceError",
    "InvalidResponseError",
    "LeaseReleasedError",
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
    "RetryPolicy",
    "ServiceError",
    "Session",
    "SessionClosedError",
    "SessionExpiredError",
    "SessionGoneError",
    "SessionInfo",
    "SessionLimitError",
    "SessionNotFoundError",
    "SessionPool",
    "ShutdownSummary",
    "Task",
    "TaskFailedError",
    "TaskNotFoundError",
    "TaskResult",
    "TaskStatus",
    "Timeouts",
    "__version__",
]

#: Where each public name lives. ``import bbre_async`` loads none of them (so ``bbre-async
#: --help`` and a script that only needs the emulator do not pay for aiohttp's client or the
#: pool); the first use of a name imports its module, once.
_EXPORTS: dict[str, str] = {
    "APIConnectionError": "bbre_async._errors",
    "APITimeoutError": "bbre_async._errors",
    "AccountInfo": "bbre_async._models",
    "AccountStatistics": "bbre_async._models",
    "AuthenticationError": "bbre_async._errors",
    "BBREClient": "bbre_async._client",
    "BBREError": "bbre_async._errors",
    "BadRequestError": "bbre_async._errors",
    "CoordinationError": "bbre_async._errors",
    "CostModel": "bbre_async.pool",
    "EventKind": "bbre_async.pool",
    "InsufficientBalanceError": "bbre_async._errors",
    "InvalidResponseError": "bbre_async._errors",
    "LeaseReleasedError": "bbre_async._errors",
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
    "Response": "bbre_async._models",
    "RetryPolicy": "bbre_async._retry",
    "ServiceError": "bbre_async._errors",
    "Session": "bbre_async._session",
    "SessionClosedError": "bbre_async._errors",
    "SessionExpiredError": "bbre_async._errors",
    "SessionGoneError": "bbre_async._errors",
    "SessionInfo": "bbre_async._models",
    "SessionLimitError": "bbre_async._errors",
    "SessionNotFoundError": "bbre_async._errors",
    "SessionPool": "bbre_async.pool",
    "ShutdownSummary": "bbre_async.pool",
    "Task": "bbre_async._models",
    "TaskFailedError": "bbre_async._errors",
    "TaskNotFoundError": "bbre_async._errors",
    "TaskResult": "bbre_async._models",
    "TaskStatus": "bbre_async._models",
    "Timeouts": "bbre_async._transport",
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
