"""What the server SAYS about time: its clock offset, its ``Date`` header, its ``expiresAt``.

Real servers' clocks disagree with their clients', and real answers carry odd expiries. These
knobs change only what is said: lives, expiry and the sweep keep running on the emulator's own
clock, so a test can skew the server without changing what it judges by.
"""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

from bbre_async.emulator._clock import Clock, SystemClock
from bbre_async.emulator._settings import EXPIRY_FORMS, ExpiryForm

DAY_MS = 86_400_000
#: How far before ``createdAt`` the ``"past"`` form puts ``expiresAt``.
PAST_MS = 60_000
#: The ``"unparsable"`` form's ``expiresAt``.
UNPARSABLE = "not-a-timestamp"


class ServerTime:
    """The server's clock offset and expiry form, both settable while the emulator runs."""

    __slots__ = ("_clock", "_date", "_date_second", "expiry_form", "offset_ms", "sends_date")

    def __init__(self, clock: Clock, offset: float, expiry_form: ExpiryForm) -> None:
        self._clock = clock
        self._date_second = -1
        self._date = ""
        self.expiry_form: ExpiryForm = expiry_form
        self.offset_ms = 0
        self.sends_date = False
        self.set_offset(offset)

    @property
    def offset(self) -> float:
        """Seconds the server's clock is ahead of the emulator's (negative: behind)."""
        return self.offset_ms / 1000

    def set_offset(self, seconds: float) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise TypeError("the clock offset is a number of seconds")
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            raise ValueError("the clock offset must be finite")
        self.offset_ms = round(seconds * 1000)
        # aiohttp's own Date header reads the wall clock: replace it only when it would lie.
        self.sends_date = self.offset_ms != 0 or not isinstance(self._clock, SystemClock)

    def set_expiry_form(self, form: ExpiryForm) -> None:
        if form not in EXPIRY_FORMS:
            raise ValueError(f"unknown expiry form {form!r}; known: {list(EXPIRY_FORMS)}")
        self.expiry_form = form

    def said_ms(self, clock_ms: int) -> int:
        """A clock instant as the server states it."""
        return clock_ms + self.offset_ms

    def date_header(self) -> str:
        """The RFC 9110 ``Date`` of the server's clock (formatted once per second)."""
        now = int(self._clock.time() + self.offset_ms / 1000)
        if now != self._date_second:
            self._date_second = now
            self._date = formatdate(now, usegmt=True)
        return self._date

    def put_expiry(self, answer: dict[str, Any], created_ms: int, expires_ms: int) -> None:
        """Write ``expiresAt`` into ``answer`` as the expiry form says (times as said)."""
        form = self.expiry_form
        if form == "normal":
            answer["expiresAt"] = expires_ms
        elif form == "missing":
            answer.pop("expiresAt", None)
        elif form == "past":
            answer["expiresAt"] = created_ms - PAST_MS
        elif form == "equal_created":
            answer["expiresAt"] = created_ms
        elif form == "day_too_far":
            answer["expiresAt"] = expires_ms + DAY_MS
        else:
            answer["expiresAt"] = UNPARSABLE
