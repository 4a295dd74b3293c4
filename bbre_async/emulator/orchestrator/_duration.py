"""The server side of OrchestratorHQ durations: ``[<hours>h][<minutes>m]``, 1 min to 24 h.

This is the emulator's own reading of the vendor page, written apart from the client's so the
two check each other: a client that sends another form gets ``400 INVALID_DURATION`` here.
"""

from __future__ import annotations

import re
from typing import Any

from bbre_async.emulator.orchestrator._errors import OrchError

MIN_SECONDS = 60
MAX_SECONDS = 24 * 3600
DEFAULT_DURATION = "2h"

_FORM = re.compile(r"(?:(\d{1,5})h)?(?:(\d{1,5})m)?")


def duration_seconds(value: Any) -> int:
    """Emulated seconds in ``value``, or ``400 INVALID_DURATION`` naming it in ``context``."""
    match = _FORM.fullmatch(value) if isinstance(value, str) and value else None
    if match is None:
        raise OrchError(
            400,
            "INVALID_DURATION",
            "Invalid duration format; use hours and minutes such as 30m, 1h or 1h30m",
            {"duration": value},
        )
    seconds = int(match[1] or 0) * 3600 + int(match[2] or 0) * 60
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise OrchError(400, "INVALID_DURATION", context={"duration": value})
    return seconds


def describe(seconds: int) -> str:
    """``"30 minutes"``, ``"1 hour"``, ``"2 hours 30 minutes"``: the extend message's words."""
    hours, rest = divmod(seconds // 60, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if rest or not hours:
        parts.append(f"{rest} minute{'s' if rest != 1 else ''}")
    return " ".join(parts)
