"""bbre_async: an asyncio SDK for remote browser-session APIs.

Start with ``BBREClient`` for the API and ``SessionPool`` to share an account's capped,
short-lived sessions among many tasks.
"""

import logging

from bbre_async._aiohttp_transport import AiohttpTransport
from bbre_async._api_response import APIResponse
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
]

# A library stays quiet unless the application configures logging.
logging.getLogger("bbre_async").addHandler(logging.NullHandler())
