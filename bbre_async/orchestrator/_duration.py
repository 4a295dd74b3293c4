"""OrchestratorHQ's duration strings ("30m", "2h", "1h30m") and the seconds they stand for.

The vendor documents hours and minutes only ("30m", "1h", "2h30m", "45m", "1h30m") and a range
of 1 minute to 24 hours. This module accepts exactly that grammar, so nothing the client sends
depends on an undocumented form (seconds, fractions, spaces, upper case): a bad value fails
here, before any request, instead of as a ``400 INVALID_DURATION`` after one.
"""

from __future__ import annotations

import math
import re

MIN_SECONDS = 60
MAX_SECONDS = 24 * 3600
DEFAULT_DURATION = "2h"

_GRAMMAR = re.compile(r"(?:(?P<h>\d{1,5})h)?(?:(?P<m>\d{1,5})m)?")


def parse_duration(text: str) -> int:
    """Seconds in a duration string such as ``"30m"``, ``"2h"`` or ``"1h30m"``.

    Raises ``ValueError`` naming the problem: a form outside ``[<hours>h][<minutes>m]``, or a
    total outside 1 minute to 24 hours (both limits included).
    """
    if not isinstance(text, str):
        raise ValueError(f"duration must be a string such as '30m' or '1h30m', got {text!r}")
    cleaned = text.strip()
    match = _GRAMMAR.fullmatch(cleaned)
    if not cleaned or match is None:
        raise ValueError(
            f"duration {text!r} is not in the form '<hours>h<minutes>m' "
            "(e.g. '30m', '2h', '1h30m'); seconds are not a documented unit"
        )
    seconds = int(match["h"] or 0) * 3600 + int(match["m"] or 0) * 60
    _check_range(seconds, f"duration {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """The canonical duration string for ``seconds``, rounded to the nearest whole minute.

    Minutes are the finest unit the vendor documents, so 89 s becomes ``"1m"`` and 5400 s
    ``"1h30m"``. Raises ``ValueError`` when the rounded value is outside 1 minute to 24 hours.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError(f"seconds must be a number, got {seconds!r}")
    if not math.isfinite(seconds):
        raise ValueError(f"seconds must be finite, got {seconds!r}")
    minutes = math.floor(seconds / 60 + 0.5)
    _check_range(minutes * 60, f"{seconds:g} s (rounded to {minutes} min)")
    hours, rest = divmod(minutes, 60)
    if not rest:
        return f"{hours}h"
    if not hours:
        return f"{rest}m"
    return f"{hours}h{rest}m"


def normalize_duration(text: str) -> str:
    """``text`` validated and rewritten in canonical form (``"90m"`` -> ``"1h30m"``)."""
    return format_duration(parse_duration(text))


def _check_range(seconds: int, what: str) -> None:
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise ValueError(f"{what} is out of range: it must be between 1 minute and 24 hours")
