"""When a process sharing the account cap should hand a slot back: the fair-share rule.

Redis serves waiting processes fewest-slots-first, but a slot only frees when its holder lets
it go, and a busy pool never does on its own (its sessions live 300 s and are renewed in
place). So each holder learns, from every heartbeat, how few slots the neediest *other* waiting
holder has, and gives one back at a lease boundary while it holds at least two more, or one
more for a whole ``rotation`` (so the remainder of an uneven split goes round and every process
gets an equal share over time). Kept apart from Redis so the rule is testable on its own.
"""

from __future__ import annotations

from collections.abc import Callable


class FairShare:
    """The rule for one holder. Not thread-safe; one event loop."""

    def __init__(self, *, rotation: float, promise_ttl: float, clock: Callable[[], float]) -> None:
        if rotation <= 0 or promise_ttl <= 0:
            raise ValueError("rotation and promise_ttl must be positive")
        self._rotation = rotation
        self._promise_ttl = promise_ttl
        self._clock = clock
        self._neediest = -1  # fewest slots of another waiting holder; -1: nobody else waits
        self._promises: list[float] = []  # slots promised back, not yet released
        self._promised_since_update = 0  # promises the neediest figure does not reflect
        self._surplus_since: float | None = None  # since when this holder has one more

    def update(self, neediest: int) -> None:
        """A fresh figure from Redis (-1 when no other holder waits)."""
        self._neediest = neediest
        self._drop_lapsed(self._clock())
        self._promised_since_update = len(self._promises)  # still on their way

    def released(self) -> None:
        """A slot went back: it keeps the oldest promise, if any."""
        if self._promises:
            self._promises.pop(0)

    def should_yield(self, held: int) -> bool:
        """True when one of the ``held`` slots should go back now; True counts as a promise."""
        now = self._clock()
        self._drop_lapsed(now)
        if self._neediest < 0:
            self._surplus_since = None
            return False
        gap = held - len(self._promises) - (self._neediest + self._promised_since_update)
        if gap < 1:
            self._surplus_since = None
            return False
        if gap == 1:
            if self._surplus_since is None:
                self._surplus_since = now
            if now - self._surplus_since < self._rotation:
                return False
        self._promises.append(now)
        self._promised_since_update += 1
        self._surplus_since = now if gap == 1 else None
        return True

    def _drop_lapsed(self, now: float) -> None:
        """Forget promises the pool did not keep within ``promise_ttl`` (the session stayed
        in use): they no longer count as slots on their way."""
        kept = [at for at in self._promises if now - at < self._promise_ttl]
        self._promised_since_update = max(
            0, self._promised_since_update - (len(self._promises) - len(kept))
        )
        self._promises = kept
