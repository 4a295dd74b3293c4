"""bbre_async: an asyncio SDK for remote browser-session APIs.

Start with ``BBREClient`` for the API and ``SessionPool`` to share an account's capped,
short-lived sessions among many tasks.
"""

import logging

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
from bbre_async._version import __version__
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

# A library stays quiet unless the application configures logging.
logging.getLogger("bbre_async").addHandler(logging.NullHandler())
