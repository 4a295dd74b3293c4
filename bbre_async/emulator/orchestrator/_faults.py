"""Scripted faults for the OrchestratorHQ emulator: "the next N extends fail", and so on.

Kinds:
- ``drop``: the connection is aborted before anything is processed.
- ``lost_answer``: the call IS processed (a session started, time added), then the connection
  is aborted: the case that makes a blind retry of a create or an extend unsafe.
- ``service_error``: ``500 INTERNAL_ERROR``, nothing processed.
- ``no_servers``: ``503 NO_SERVERS_AVAILABLE``, nothing processed.
- ``bad_gateway``: an HTML ``502`` page from a proxy, nothing processed.
"""

from __future__ import annotations

from typing import Literal

import attrs

OrchFaultKind = Literal["drop", "lost_answer", "service_error", "no_servers", "bad_gateway"]
ORCH_FAULT_KINDS: tuple[OrchFaultKind, ...] = (
    "drop",
    "lost_answer",
    "service_error",
    "no_servers",
    "bad_gateway",
)

#: Endpoint names, as used to aim a fault.
ORCH_ENDPOINTS = (
    "sessions/create",
    "sessions/list",
    "sessions/get",
    "sessions/extend",
    "sessions/stop",
    "status",
    "health",
)


@attrs.define(slots=True)
class _Script:
    kind: OrchFaultKind
    endpoint: str | None
    remaining: int | None  # None: until cleared


class OrchFaults:
    """The scripted faults; ``pick`` is O(1) when none is set."""

    __slots__ = ("_scripts", "counts")

    def __init__(self) -> None:
        self._scripts: list[_Script] = []
        self.counts: dict[str, int] = {}

    def script(
        self, kind: OrchFaultKind, endpoint: str | None = None, count: int | None = 1
    ) -> None:
        """Make the next ``count`` calls (to ``endpoint``, or to any endpoint) fail as
        ``kind``; ``count=None`` keeps failing them until ``clear()``."""
        if kind not in ORCH_FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {ORCH_FAULT_KINDS}")
        if endpoint is not None and endpoint not in ORCH_ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; known: {ORCH_ENDPOINTS}")
        if count is not None and count < 1:
            raise ValueError("count must be >= 1 or None")
        self._scripts.append(_Script(kind, endpoint, count))

    def clear(self) -> None:
        self._scripts.clear()

    def pick(self, endpoint: str) -> OrchFaultKind | None:
        if not self._scripts:
            return None
        for entry in self._scripts:
            if entry.endpoint is None or entry.endpoint == endpoint:
                if entry.remaining is not None:
                    entry.remaining -= 1
                    if entry.remaining <= 0:
                        self._scripts.remove(entry)
                self.counts[entry.kind] = self.counts.get(entry.kind, 0) + 1
                return entry.kind
        return None
