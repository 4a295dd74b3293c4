"""When a failed call may be sent again, and how long to wait first."""

from __future__ import annotations

import enum
import random

import attrs

from bbre_async._errors import (
    APIConnectionError,
    BBREError,
    RateLimitError,
    ServiceError,
    SessionLimitError,
)

#: Server faults that say "try again": a 501 or a 404 HTML page says no such thing.
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
_NOT_WORTH_RETRYING = frozenset({"TLS_ERROR", "CLIENT_CLOSED"})


class Replay(enum.Enum):
    """How safe it is to send a call again after a failure.

    ``SAFE`` calls (reads, status, listings, close, an idempotent target fetch) change nothing
    or are idempotent: any transient failure is retried. ``UNSAFE`` calls (session create,
    stateless task create and execute, a POST through a session) are charged or change state:
    they are retried only when the server provably did not act (the connection was never
    made, or the server refused with a rate limit); any other failure after sending raises
    with ``outcome_unknown=True`` and is never replayed.
    """

    SAFE = "safe"
    UNSAFE = "unsafe"


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter, honouring the server's ``Retry-After``.

    Full jitter (a uniform draw below the exponential ceiling) spreads the retries of many
    clients that failed together, so they do not return together. Every wait stays inside
    the call's ``timeout``: a wait that would overrun it raises the last error at once.
    """

    max_retries: int = attrs.field(default=2, validator=attrs.validators.ge(0))
    initial_delay: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    max_delay: float = attrs.field(default=8.0, validator=attrs.validators.ge(0))
    max_retry_after: float = attrs.field(default=60.0, validator=attrs.validators.ge(0))

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay before retry number ``attempt`` (0-based), without a server hint."""
        ceiling = min(self.max_delay, self.initial_delay * (2**attempt))
        return (rng or random).uniform(0.0, ceiling)

    def delay_for(self, error: BBREError, attempt: int, rng: random.Random | None = None) -> float:
        """The wait before retrying after ``error``: the server's hint, else backoff."""
        if error.retry_after is not None:
            return error.retry_after
        return self.backoff(attempt, rng)


def is_transient(error: BBREError) -> bool:
    """A fault that may pass by itself: a lost or refused connection, a 500/502/503/504."""
    if isinstance(error, APIConnectionError):
        return error.code not in _NOT_WORTH_RETRYING
    if isinstance(error, ServiceError):
        return error.status is None or error.status in TRANSIENT_STATUSES
    return False


def is_retryable(error: BBREError, replay: Replay) -> bool:
    """Whether ``error`` may be retried for a call of kind ``replay``."""
    if isinstance(error, SessionLimitError):
        return False  # backpressure: only a freed slot helps, not a retry
    if isinstance(error, RateLimitError):
        return True  # the server refused before acting
    if replay is Replay.UNSAFE:
        return (
            isinstance(error, APIConnectionError)
            and not error.request_sent
            and error.code not in _NOT_WORTH_RETRYING
        )
    return is_transient(error)
