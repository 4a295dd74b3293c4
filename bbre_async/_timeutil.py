"""Timestamps arrive as epoch milliseconds (``/session/status``) or ISO-8601 strings
(``/account/*``); both become timezone-aware UTC datetimes here, and nowhere else."""

from __future__ import annotations

import math
from datetime import UTC, datetime

# Epoch values below this are taken as seconds, above as milliseconds: 1e11 s is the year
# 5138, 1e11 ms is 1973, so no real timestamp of either kind sits on the wrong side.
_SECONDS_CEILING = 1e11


def parse_timestamp(value: object) -> datetime:
    """Parse epoch ms, epoch s, a numeric string or an ISO-8601 string into an aware datetime.

    Raises ``ValueError`` (or ``TypeError`` for a wrong type) on anything else, so callers
    can turn it into their own typed error.
    """
    if isinstance(value, bool):
        raise TypeError("a boolean is not a timestamp")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError as exc:
            raise ValueError(f"timestamp out of range: {value!r}") from exc
        return _from_epoch(number)
    if isinstance(value, str):
        text = value.strip()
        try:
            return _from_epoch(float(text))
        except ValueError:
            pass
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)  # the API speaks UTC
        try:
            return parsed.astimezone(UTC)
        except OverflowError as exc:  # year 1 or 9999 shifted past the calendar's edge
            raise ValueError(f"timestamp out of range: {value!r}") from exc
    raise TypeError(f"a {type(value).__name__} is not a timestamp")


def _from_epoch(number: float) -> datetime:
    if not math.isfinite(number):
        raise ValueError("timestamp is not finite")
    seconds = number if abs(number) < _SECONDS_CEILING else number / 1000.0
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"timestamp out of range: {number!r}") from exc


def to_iso(moment: datetime) -> str:
    """Format an aware datetime the way the API writes them (``2024-06-15T10:30:00.000Z``)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; pass a timezone-aware datetime")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
