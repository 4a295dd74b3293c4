"""Clocks for the emulator.

Every timestamp the emulator hands out (``createdAt``, ``expiresAt``, history times) and every
expiry decision reads one injectable clock, so tests can move time by hand instead of sleeping.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Anything with ``time() -> float`` (epoch seconds) can drive the emulator."""

    def time(self) -> float:
        """The current time, in seconds since the Unix epoch."""
        ...


class SystemClock:
    """Wall time. Clients in other processes agree with it without sharing an object."""

    __slots__ = ()

    #: ``time.time`` itself: read twice a request, and a method around it costs a Python call.
    time = staticmethod(time.time)

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that only moves when told to, for tests that must not sleep.

    ``start`` defaults to a fixed instant (2023-11-14T22:13:20Z) so runs are reproducible.
    """

    __slots__ = ("_now",)

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (never backward) and return the new time."""
        if seconds < 0:
            raise ValueError("a ManualClock only moves forward")
        self._now += seconds
        return self._now

    def __repr__(self) -> str:
        return f"ManualClock({self._now!r})"
