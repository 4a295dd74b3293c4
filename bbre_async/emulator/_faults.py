"""Fault injection: which call, if any, misbehaves, and how.

Two sources: random rates from ``Faults`` (drawn from the emulator's seeded RNG, so a run can be
replayed) and scripts ("the next 2 creates lose their answer"), which win over the rates.
"""

from __future__ import annotations

import random

import attrs

from bbre_async.emulator._settings import ENDPOINTS, FAULT_KINDS, FaultKind, Faults


@attrs.define(slots=True)
class _Scripted:
    kind: FaultKind
    endpoint: str | None
    remaining: int


class FaultInjector:
    """Decides the fault of each call; ``pick`` is O(1) when nothing is configured."""

    __slots__ = ("_faults", "_rng", "_scripts", "active")

    def __init__(self, faults: Faults, rng: random.Random) -> None:
        self._rng = rng
        self._scripts: list[_Scripted] = []
        self._faults = faults
        self.active = faults.total_rate > 0

    @property
    def faults(self) -> Faults:
        return self._faults

    def set(self, faults: Faults) -> None:
        self._faults = faults
        self._refresh()

    def _refresh(self) -> None:
        self.active = self._faults.total_rate > 0 or bool(self._scripts)

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

    def pick(self, endpoint: str) -> FaultKind | None:
        for entry in self._scripts:
            if entry.endpoint is None or entry.endpoint == endpoint:
                entry.remaining -= 1
                if entry.remaining <= 0:
                    self._scripts.remove(entry)
                    self._refresh()
                return entry.kind
        faults = self._faults
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
