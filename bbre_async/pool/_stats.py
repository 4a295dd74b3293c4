"""What the pool reports about itself: a snapshot value and a bounded latency reservoir."""

from __future__ import annotations

from collections import deque

import attrs


class WaitSamples:
    """The most recent acquire waits, for percentiles in constant memory."""

    def __init__(self, size: int = 2048) -> None:
        self._samples: deque[float] = deque(maxlen=size)

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)

    def percentile(self, fraction: float) -> float:
        if not self._samples:
            return 0.0
        ordered = sorted(self._samples)
        index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
        return ordered[index]


@attrs.frozen(kw_only=True)
class PoolStats:
    """A snapshot of the pool. Counters are totals since the pool opened."""

    max_size: int
    capacity: int  # usable now: below max_size while others hold slots of the account
    size: int  # remote sessions held: idle + leased + renewing + creating + closing
    idle: int
    leased: int
    creating: int
    unresolved: int  # lost creates whose session may exist: their slots stay reserved
    closing: int
    waiters: int
    created: int
    renewed: int
    retired: int
    closed: int
    failed_creates: int
    adopted: int
    requests: int
    failed_requests: int
    acquire_wait_p50: float
    acquire_wait_p99: float
    cost: float | None
    generation: int
    foreign: int = 0  # active sessions of the account no ledger knows
    held_until_expiry: int = 0  # failed closes: their slots come back at the session's expiry
    create_paused: str | None = None  # why creating is paused now (backoff, ceiling), if it is


@attrs.frozen(kw_only=True)
class ShutdownSummary:
    """What ``aclose`` did."""

    closed: int  # sessions this shutdown closed
    already_gone: int  # sessions that were closed or expired on the server already
    failed: list[str]  # ids whose close failed; the ledger keeps them for the next start
    forced: bool  # held leases were cut off at the deadline
    seconds: float


@attrs.frozen(kw_only=True)
class CostModel:
    """Prices to estimate spend from the pool's own counts (the API reports spend per
    session only through extra calls). Pass your plan's prices; the emulator's are defaults."""

    per_session: float = 0.0
    per_request: float = 0.0
