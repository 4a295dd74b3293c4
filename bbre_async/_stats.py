"""Counters of what a client sent: each retry of a charged call is billed, so it is counted."""

from __future__ import annotations

import attrs


class CallCounters:
    """Shared by a client and its ``with_options`` copies; plain ints, one loop only."""

    __slots__ = ("attempts", "billed_retries", "calls", "retries")

    def __init__(self) -> None:
        self.calls = 0
        self.attempts = 0
        self.retries = 0
        self.billed_retries = 0

    def snapshot(self) -> ClientStats:
        return ClientStats(
            calls=self.calls,
            attempts=self.attempts,
            retries=self.retries,
            billed_retries=self.billed_retries,
        )


@attrs.frozen(kw_only=True)
class ClientStats:
    """``client.stats()``: API calls made, HTTP attempts sent, retries among them, and
    retries of charged calls (idempotent target fetches), each of which was billed."""

    calls: int
    attempts: int
    retries: int
    billed_retries: int
