"""``Timeout``: how long the SDK waits, and the per-endpoint defaults.

One word, one meaning: ``timeout`` is always how long this process waits for an answer. The
remote session's life is ``lifetime``; the remote browser's limit for one fetch is
``fetch_timeout``.
"""

from __future__ import annotations

import math

import attrs


def _positive(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{attribute.name} must be a number of seconds, got {value!r}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be a finite number > 0, got {value!r}")


@attrs.frozen(kw_only=True)
class Timeout:
    """Limits for one API call, in seconds (like aiohttp's ``ClientTimeout``).

    ``connect``: to open a new connection (a connection never made is safe to retry).
    ``read``: for one attempt, from sending to the last byte of the answer.
    ``total``: the whole call, retries and their back-off waits included; nothing the call
    does outlives it.
    """

    connect: float = attrs.field(default=10.0, validator=_positive)
    read: float = attrs.field(default=30.0, validator=_positive)
    total: float = attrs.field(default=30.0, validator=_positive)

    @classmethod
    def of(cls, value: Timeout | float) -> Timeout:
        """``Timeout`` from seconds (the whole call's budget) or a ``Timeout``."""
        if isinstance(value, Timeout):
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"timeout must be seconds or a Timeout, got {type(value).__name__}")
        seconds = float(value)
        if not (seconds > 0 and math.isfinite(seconds)):
            raise ValueError(f"timeout must be a finite number of seconds > 0, got {value!r}")
        return cls(connect=min(10.0, seconds), read=seconds, total=seconds)


TimeoutLike = Timeout | float
#: The earlier name of ``Timeout`` (importable, not advertised).
Timeouts = Timeout

#: Reads, status, listings, closes, balance: a silent server fails them in tens of seconds.
READ_TIMEOUT = Timeout(connect=10.0, read=15.0, total=30.0)
#: A session or task create: charged and never replayed once sent, so one long attempt.
CREATE_TIMEOUT = Timeout(connect=10.0, read=60.0, total=60.0)
#: A target fetch through a session; grows with ``fetch_timeout`` (see ``fetch_timeout_for``).
FETCH_TIMEOUT = Timeout(connect=10.0, read=90.0, total=90.0)
#: ``/request/execute`` blocks on the server for up to 120 s.
EXECUTE_TIMEOUT = Timeout(connect=10.0, read=150.0, total=180.0)
#: What the server waits for a target when the caller names no ``fetch_timeout``.
SERVER_FETCH_LIMIT = 30.0
SERVER_EXECUTE_LIMIT = 120.0


def fetch_timeout_for(
    default: Timeout, fetch_timeout: float | None, server_limit: float
) -> Timeout:
    """The default wait for a call on which the remote browser itself waits ``fetch_timeout``:
    this side must wait longer than the server, or it would give up on answers still coming."""
    remote = fetch_timeout if fetch_timeout is not None else server_limit
    if remote + 30.0 <= default.read:
        return default
    return Timeout(connect=default.connect, read=remote + 30.0, total=remote + 60.0)
