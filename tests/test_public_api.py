"""The public surface is a promise: adding or removing a name must be a visible change."""

import bbre_async

EXPECTED = {
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
}


def test_all_is_locked_and_sorted() -> None:
    assert set(bbre_async.__all__) == EXPECTED
    assert list(bbre_async.__all__) == sorted(bbre_async.__all__)
    for name in bbre_async.__all__:
        assert hasattr(bbre_async, name), name
