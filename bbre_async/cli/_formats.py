"""Durations, money, dates: how the commands print values and parse the ones users type."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import click


def human_duration(seconds: float) -> str:
    """``45s``, ``2m 13s``, ``1h 02m``, ``3d 4h``: short enough for a table cell."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def expires_in(status: str, expires_at: datetime | None, now: datetime) -> str:
    """Time left on an active session; ``expired`` past its end (the listing can lag behind
    the clock, so an ``active`` row may already be over), ``-`` for closed ones."""
    if status == "closed":
        return "-"
    if status == "expired" or expires_at is None:
        return "expired" if status == "expired" else "?"
    left = (expires_at - now).total_seconds()
    return human_duration(left) if left > 0 else "expired"


def usd(amount: float) -> str:
    """Dollars with cents, and more digits only when the amount has them (prices are often
    fractions of a cent): ``$12.50``, ``$0.005``."""
    text = f"{amount:.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}${int(whole.lstrip('-') or 0):,}.{frac.ljust(2, '0')}"


def iso(moment: datetime | None) -> str:
    """An aware datetime as ISO-8601 in UTC with a ``Z`` (empty when unknown)."""
    if moment is None:
        return ""
    utc = moment.astimezone(UTC)
    spec = "milliseconds" if utc.microsecond % 1000 == 0 else "microseconds"
    return utc.isoformat(timespec=spec).replace("+00:00", "Z")


def short_time(moment: datetime | None) -> str:
    """A table cell: ``2024-06-15 10:30:00`` in UTC."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


_RELATIVE = re.compile(r"(\d+)\s*([wdhms])", re.IGNORECASE)
_RELATIVE_FULL = re.compile(r"(?:\d+\s*[wdhms]\s*)+", re.IGNORECASE)
_UNIT_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_relative(text: str) -> timedelta | None:
    """``7d``, ``24h``, ``1h30m``, ``2w`` as a duration; None when ``text`` is not one."""
    compact = text.strip()
    if not compact or not _RELATIVE_FULL.fullmatch(compact):
        return None
    seconds = sum(int(n) * _UNIT_SECONDS[u.lower()] for n, u in _RELATIVE.findall(compact))
    return timedelta(seconds=seconds)


def parse_when(text: str, *, now: datetime, end_of_day: bool = False) -> datetime:
    """A point in time from the command line, timezone-aware.

    Accepts ``now``, a relative age (``7d``, ``24h``, ``90m``: that long before ``now``), an
    ISO date (``2024-06-01``: midnight UTC, or the last millisecond of that day with
    ``end_of_day``, so ``--since D --until D`` covers the day D), or an ISO datetime
    (``2024-06-01T10:00``, ``...Z``, ``...+02:00``; a naive one is UTC).
    Raises ``ValueError`` with a message fit for the user.
    """
    raw = text.strip()
    if raw.lower() == "now":
        return now
    delta = parse_relative(raw)
    if delta is not None:
        return now - delta
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            start = datetime.combine(date.fromisoformat(raw), time(0), tzinfo=UTC)
            return start + timedelta(days=1, milliseconds=-1) if end_of_day else start
        candidate = raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw
        moment = datetime.fromisoformat(candidate)
    except ValueError as exc:
        raise ValueError(
            f"{text!r} is not a date ({exc}): use an ISO date or datetime (2024-06-01, "
            "2024-06-01T10:00:00Z) or an age such as 7d, 24h, 30m"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


if TYPE_CHECKING:
    _DateParam = click.ParamType[datetime, Any]
else:  # click < 8.3 has no generic ParamType
    _DateParam = click.ParamType


class WhenType(_DateParam):
    """A click parameter for `parse_when`; ``end_of_day`` for ``--until``."""

    name = "date"

    def __init__(self, *, end_of_day: bool = False) -> None:
        self.end_of_day = end_of_day

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_when(str(value), now=datetime.now(UTC), end_of_day=self.end_of_day)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
