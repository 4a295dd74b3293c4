"""What to do with idle sessions, decided without side effects: which to renew, which to
retire, when to look again; how long a new session is believed to live; and which renewal
strategy fits (extend in place, replace with headroom, replace at the cap)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

import attrs

from bbre_async._session_backend import RemoteSession
from bbre_async.pool._config import PoolConfig
from bbre_async.pool._holder import Holder

Strategy = Literal["extend", "headroom", "at_cap"]
FAR = 3600.0


@attrs.frozen(kw_only=True)
class LifeReading:
    """The life a session is believed to have, and why it was not taken as given."""

    life: float
    suspect: str | None = None


def believed_life(remote: RemoteSession, config: PoolConfig, max_life: float) -> LifeReading:
    """``expiresAt - createdAt`` by the server's own clock, capped at the documented maximum
    (300 s for BBRE).

    Missing, unparsable, zero or negative values get the safe reading (``fallback_life``,
    the documented minimum), so a bad answer costs a few early renewals, never a storm.
    """
    granted = remote.granted_life
    if granted is None or not math.isfinite(granted):
        return LifeReading(life=config.fallback_life, suspect="the create answer had no expiry")
    if granted <= 0:
        return LifeReading(
            life=config.fallback_life,
            suspect=f"the server granted a life of {granted:.1f}s (expiry not after creation)",
        )
    if granted > max_life:
        return LifeReading(
            life=max_life,
            suspect=f"the server granted {granted:.0f}s, above the documented {max_life:.0f}s",
        )
    return LifeReading(life=granted)


def choose_strategy(*, supports_extend: bool, has_room: bool) -> Strategy:
    if supports_extend:
        return "extend"
    return "headroom" if has_room else "at_cap"


@attrs.frozen(kw_only=True)
class IdlePlan:
    renew: tuple[Holder, ...] = ()
    retire: tuple[tuple[Holder, str], ...] = ()
    wake_at: float = math.inf


def plan_idle(
    idle: Iterable[Holder],
    *,
    now: float,
    generation: int,
    renewing: int,
    max_renewals: int,
    creates_open_at: float,
    demanding_min_ttl: float | None,
    live: int,
    min_size: int,
    idle_timeout: float | None,
) -> IdlePlan:
    """Decide for each idle session: retire it, renew it, or when to look at it again.

    A session is renewed when it enters its renew margin, or when the oldest demanding waiter
    needs more life than any idle session has (one at a time, within ``max_renewals``).
    """
    renew: list[Holder] = []
    retire: list[tuple[Holder, str]] = []
    wake = now + FAR
    starving = demanding_min_ttl is not None
    for holder in idle:
        if holder.retire_reason or holder.generation != generation:
            retire.append((holder, holder.retire_reason or "expired by generation"))
            continue
        if holder.remaining(now) <= 0:
            retire.append((holder, "expired"))
            continue
        if (
            starving
            and demanding_min_ttl is not None
            and holder.serves(demanding_min_ttl, now, generation)
        ):
            starving = False
        due = holder.renew_at()
        if due <= now:
            if renewing + len(renew) < max_renewals and now >= creates_open_at:
                renew.append(holder)
            else:
                wake = min(wake, max(creates_open_at, now + 0.05))
            continue
        wake = min(wake, due)
        if idle_timeout is not None and live - len(retire) > min_size:
            idle_until = holder.idle_since + idle_timeout
            if idle_until <= now:
                retire.append((holder, "idle timeout"))
                continue
            wake = min(wake, idle_until)
    if starving and demanding_min_ttl is not None:
        spare = [h for h in idle if h not in renew and all(h is not r for r, _ in retire)]
        if spare and renewing + len(renew) < max_renewals and now >= creates_open_at:
            renew.append(min(spare, key=lambda h: h.expires_at))
        elif spare:
            wake = min(wake, max(creates_open_at, now + 0.05))
    return IdlePlan(renew=tuple(renew), retire=tuple(retire), wake_at=wake)
