"""A zero-latency, in-process session backend, so a scenario times the pool and nothing else.

``SessionPool`` accepts any object with the backend protocol (``bbre_async.pool``); this one
answers every call at once, never fails and never shares its cap, so handing sessions to
waiters is the only work left to measure.
"""

from __future__ import annotations

import asyncio
import itertools
import time

from bbre_async.pool import ActiveSession, RemoteSession

LIFE = 300.0


class InstantBackend:
    """Creates, closes and lists sessions without any I/O (one checkpoint per call, as any
    real backend has)."""

    name = "instant"
    account_cap = 10
    max_life = LIFE  # the longest life a session of this backend may be granted
    supports_extend = False
    key_fingerprint = "benchmark-instant-backend"
    base_url = "memory://instant"

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.active: dict[str, float] = {}

    async def create(self, *, deadline: float | None = None, **_: object) -> RemoteSession:
        await asyncio.sleep(0)
        now = time.time()
        session_id = f"instant-{next(self._ids)}"
        self.active[session_id] = now + LIFE
        return RemoteSession(id=session_id, created_at=now, expires_at=now + LIFE, handle=None)

    async def close(self, session_id: str, *, deadline: float | None = None, **_: object) -> bool:
        await asyncio.sleep(0)
        return self.active.pop(session_id, None) is not None

    async def status(self, session_id: str, **_: object) -> tuple[bool, float | None]:
        await asyncio.sleep(0)
        expires = self.active.get(session_id)
        return expires is not None, expires

    async def list_active(self, **_: object) -> list[ActiveSession]:
        await asyncio.sleep(0)
        return [
            ActiveSession(id=sid, created_at=expires - LIFE, expires_at=expires)
            for sid, expires in self.active.items()
        ]

    async def extend(self, session_id: str, seconds: float, **_: object) -> float:
        raise NotImplementedError("the instant backend renews by replacing, like BBRE")

    def adopt(self, active: ActiveSession) -> RemoteSession:
        now = time.time()
        return RemoteSession(
            id=active.id,
            created_at=active.created_at or now,
            expires_at=active.expires_at or now + LIFE,
            handle=None,
        )
