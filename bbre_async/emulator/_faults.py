"""Fault injection: which call, if any, misbehaves, and how.

Two sources: random rates from ``Faults`` (drawn from the emulator's seeded RNG, so a run can be
replayed) and scripts ("the next 2 creates lose their answer"), which win over the rates. Failing
closes are a state rather than a draw: on, for a window of clock seconds or until lifted.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Literal

import attrs

from bbre_async.emulator._fault_settings import (
    ENDPOINTS,
    FAULT_KINDS,
    CloseFailure,
    FaultKind,
    Faults,
)

#: A fault kind, or ``"create_bad_gateway"`` (drawn from ``Faults.create_bad_gateway``).
Picked = FaultKind | Literal["create_bad_gateway"]


@attrs.define(slots=True)
class _Scripted:
    kind: FaultKind
    endpoint: str | None
    remaining: int


class FaultInjector:
    """Decides the fault of each call; ``pick`` is O(1) when nothing is configured."""

    __slots__ = ("_closes_until_ms", "_faults", "_lifted", "_rng", "_scripts", "active")

    def __init__(self, faults: Faults, rng: random.Random) -> None:
        self._rng = rng
        self._scripts: list[_Scripted] = []
        self._faults = faults
        self._closes_until_ms: int | None = None
        self._lifted = asyncio.Event()
        self.active = False
        self._refresh()

    @property
    def faults(self) -> Faults:
        return self._faults

    def set(self, faults: Faults) -> None:
        """New fault settings; a close failure they set lasts until lifted (no window)."""
        self._faults = faults
        self._closes_until_ms = None
        if faults.failing_closes is None:
            self._lift_closes()
        self._refresh()

    def _refresh(self) -> None:
        faults = self._faults
        self.active = faults.total_rate > 0 or faults.create_bad_gateway > 0 or bool(self._scripts)

    # -- failing closes ----------------------------------------------------------------------

    def fail_closes(self, kind: CloseFailure | None, until_ms: int | None) -> None:
        """Make closes fail as ``kind`` until the clock reaches ``until_ms`` (``None``: until
        lifted); ``kind=None`` lifts the failure now."""
        self._faults = attrs.evolve(self._faults, failing_closes=kind)
        self._closes_until_ms = None if kind is None else until_ms
        if kind is None:
            self._lift_closes()

    def close_failure(self, now_ms: int) -> CloseFailure | None:
        """The failure a close meets now; a window that has passed is lifted here."""
        kind = self._faults.failing_closes
        until = self._closes_until_ms
        if kind is not None and until is not None and now_ms >= until:
            self.fail_closes(None, None)
            return None
        return kind

    def closes_remaining_ms(self, now_ms: int) -> int | None:
        """Clock milliseconds left in the close-failure window (``None``: until lifted)."""
        if self._closes_until_ms is None:
            return None
        return max(0, self._closes_until_ms - now_ms)

    async def hold_close(self, real_seconds: float | None) -> None:
        """Wait until the close failure is lifted, or ``real_seconds`` at most."""
        lifted = self._lifted
        if real_seconds is None:
            await lifted.wait()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(lifted.wait(), real_seconds)

    def _lift_closes(self) -> None:
        self._lifted.set()  # releases every close held by "timeout"
        self._lifted = asyncio.Event()

    def release_all(self) -> None:
        """Release held closes (at shutdown) without changing the settings."""
        self._lift_closes()

    def script(self, kind: FaultKind, endpoint: str | None = None, count: int = 1) -> None:
        """Make the next ``count`` calls (to ``endpoint``, or to any endpoint) fail as ``kind``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {FAULT_KINDS}")
        if endpoint is not None and endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; known: {ENDPOINTS}")
        if count < 1:
            raise ValueError("count must be >= 1")
        self._scripts.append(_Scripted(kind, endpoint, count))
        self.active = True

    def clear_scripts(self) -> None:
        self._scripts.clear()
        self._refresh()

    def pick(self, endpoint: str) -> Picked | None:
        for entry in self._scripts:
            if entry.endpoint is None or entry.endpoint == endpoint:
                entry.remaining -= 1
                if entry.remaining <= 0:
                    self._scripts.remove(entry)
                    self._refresh()
                return entry.kind
        faults = self._faults
        gateway = faults.create_bad_gateway
        if gateway > 0 and endpoint == "session/create" and self._rng.random() < gateway:
            return "create_bad_gateway"
        if faults.total_rate <= 0:
            return None
        if faults.endpoints is not None and endpoint not in faults.endpoints:
            return None
        draw = self._rng.random()
        for kind in FAULT_KINDS:
            rate: float = getattr(faults, kind)
            if draw < rate:
                return kind
            draw -= rate
        return None
