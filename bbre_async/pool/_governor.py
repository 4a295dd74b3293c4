"""When the pool may start the next create: a backoff that its own symptom cannot reset, and a
ceiling on creates per minute. It always knows, and says, why creating stopped."""

from __future__ import annotations

import math
import random
from collections import deque

from bbre_async.pool._config import PoolConfig


class CreateGovernor:
    """Consecutive failures (a create error, or a session that died young) back off
    exponentially; only a session that lived past its youth resets them, never a create
    that merely succeeded. Independently, no more than a ceiling of creates start per minute.
    """

    def __init__(self, config: PoolConfig, rng: random.Random) -> None:
        self._config = config
        self._rng = rng
        self.failures = 0
        self._backoff_until = 0.0
        self._starts: deque[float] = deque()
        self._shortest_life: float | None = None
        self.reason: str | None = None

    @property
    def ceiling(self) -> int:
        if self._config.max_creates_per_minute is not None:
            return self._config.max_creates_per_minute
        life = self._shortest_life or 60.0
        # Three full turnovers of the pool per session life, never below 20 a minute.
        return max(20, math.ceil(3 * self._config.max_size * 60.0 / max(life, 1.0)))

    def note_life(self, life: float) -> None:
        if life > 0 and (self._shortest_life is None or life < self._shortest_life):
            self._shortest_life = life

    def open_at(self, now: float) -> float:
        """The earliest moment a create may start (``now`` when it may start now)."""
        while self._starts and self._starts[0] <= now - 60.0:
            self._starts.popleft()
        at = max(now, self._backoff_until)
        if len(self._starts) >= self.ceiling:
            at = max(at, self._starts[0] + 60.0)
        return at

    def allowed(self, now: float) -> bool:
        at = self.open_at(now)
        if at <= now:
            self.reason = None
            return True
        if len(self._starts) >= self.ceiling:
            self.reason = f"ceiling of {self.ceiling} creates per minute reached"
        return False

    def started(self, now: float) -> None:
        self._starts.append(now)

    def failed(self, now: float, why: str) -> float:
        """Back off after a failure; returns the delay chosen."""
        self.failures += 1
        config = self._config
        backoff = min(config.create_backoff_max, config.create_backoff * 2 ** (self.failures - 1))
        delay = self._rng.uniform(backoff / 2, backoff)
        self._backoff_until = max(self._backoff_until, now + delay)
        self.reason = f"backing off {delay:.2f}s after {self.failures} failures in a row: {why}"
        return delay

    def matured(self) -> None:
        """A session lived past its youth: the failures that came before are history."""
        self.failures = 0
