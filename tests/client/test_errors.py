from __future__ import annotations

import pickle

import pytest

import bbre_async as b
from bbre_async._errors import error_class_for, error_from_response

DOCUMENTED = {
    "SESSION_ID_REQUIRED": (400, b.BadRequestError),
    "SESSION_CLOSED": (400, b.SessionClosedError),
    "SESSION_EXPIRED": (400, b.SessionExpiredError),
    "INVALID_REQUEST": (400, b.BadRequestError),
    "API_KEY_REQUIRED": (401, b.AuthenticationError),
    "INSUFFICIENT_BALANCE": (402, b.InsufficientBalanceError),
    "INVALID_API_KEY": (403, b.AuthenticationError),
    "ACCOUNT_SUSPENDED": (403, b.PermissionDeniedError),
    "ACCOUNT_INACTIVE": (403, b.PermissionDeniedError),
    "SESSION_NOT_FOUND": (404, b.SessionNotFoundError),
    "SESSION_LIMIT_REACHED": (429, b.SessionLimitError),
    "RATE_LIMIT_EXCEEDED": (429, b.RateLimitError),
    "SERVICE_ERROR": (500, b.ServiceError),
    # OrchestratorHQ
    "INVALID_DURATION": (400, b.BadRequestError),
    "UNAUTHORIZED": (401, b.AuthenticationError),
    "INSUFFICIENT_CREDITS": (402, b.InsufficientBalanceError),
    "SESSION_LIMIT_EXCEEDED": (429, b.SessionLimitError),
    "NO_SERVERS_AVAILABLE": (503, b.ServiceError),
}


@pytest.mark.parametrize(("code", "expected"), DOCUMENTED.items())
def test_every_documented_code_has_its_class(code: str, expected: tuple[int, type]) -> None:
    status, cls = expected
    error = error_from_response(status, code, "m")
    assert type(error) is cls
    assert error.status == status and error.code == code


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, b.BadRequestError),
        (401, b.AuthenticationError),
        (402, b.InsufficientBalanceError),
        (403, b.PermissionDeniedError),
        (404, b.NotFoundError),
        (418, b.BadRequestError),
        (429, b.RateLimitError),
        (500, b.ServiceError),
        (502, b.ServiceError),
        (503, b.ServiceError),
    ],
)
def test_unknown_codes_fall_back_to_the_status(status: int, cls: type) -> None:
    assert error_class_for(status, "SOMETHING_NEW") is cls


def test_session_gone_family_is_one_parent() -> None:
    for cls in (b.SessionClosedError, b.SessionExpiredError, b.SessionNotFoundError):
        assert issubclass(cls, b.SessionGoneError)
    assert issubclass(b.SessionNotFoundError, b.NotFoundError)
    assert issubclass(b.APITimeoutError, b.APIConnectionError)
    assert issubclass(b.PoolTimeoutError, b.BBREError)


def test_errors_pickle_with_every_field() -> None:
    error = b.RateLimitError(
        "slow down",
        status=429,
        code="RATE_LIMIT_EXCEEDED",
        details={"retryAfter": 3},
        request_id="req_1",
        retry_after=3.0,
        outcome_unknown=True,
    )
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is b.RateLimitError
    assert (clone.message, clone.status, clone.code, clone.details) == (
        "slow down",
        429,
        "RATE_LIMIT_EXCEEDED",
        {"retryAfter": 3},
    )
    assert (clone.request_id, clone.retry_after, clone.outcome_unknown) == ("req_1", 3.0, True)
    assert "request_id=req_1" in str(clone)
