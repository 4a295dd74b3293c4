"""A scriptable in-memory session backend and a manual clock for pool unit tests."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from bbre_async import Response, SessionExpiredError, SessionLimitError, SessionNotFoundError
from bbre_async.pool import ActiveSession, RemoteSession, SessionPool

T = TypeVar("T")


class ManualClock:
    """Wall time that moves only when a test says so; sleepers wake as it passes them."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []
        self._tests_own: set[asyncio.Future[None]] = set()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float, *, by_test: bool = False) -> None:
        """Sleep until the clock has moved ``seconds`` on; ``by_test`` marks a wait of the
        test's own tasks (simulated users), which :meth:`next_pool_wake` leaves out."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._now + max(0.0, seconds), future))
        if by_test:
            self._tests_own.add(future)
        try:
            await future
        finally:
            self._sleepers = [(t, f) for t, f in self._sleepers if f is not future]
            self._tests_own.discard(future)

    def sleepers(self) -> int:
        """How many waits are pending on this clock."""
        return sum(not f.done() for _, f in self._sleepers)

    async def advance_to_rest(self, seconds: float) -> None:
        """Advance, then wait until every wait the jump ended has gone back to sleep: the
        background work it woke (maintenance, backoffs) has finished its pass."""
        before = self.sleepers()
        self.advance(seconds)
        await until(lambda: self.sleepers() >= before)

    def next_pool_wake(self) -> float:
        """The earliest moment one of the pool's pending waits ends (infinity when none
        does): what its soonest sleeper planned for. The test's own waits are left out."""
        pending = (t for t, f in self._sleepers if not f.done() and f not in self._tests_own)
        return min(pending, default=math.inf)

    def sleeping_until(self, deadline: float) -> bool:
        """True when someone sleeps until ``deadline`` (a wait the test is about to end), to
        the microsecond: sums of seconds at epoch magnitudes round in the last bits."""
        return any(abs(t - deadline) < 1e-6 for t, f in self._sleepers if not f.done())

    async def autojump(self, work: Awaitable[T], *, limit: float = 3600.0) -> T:
        """Await ``work`` while jumping the clock to the next sleeper's deadline whenever
        every task is blocked, as trio's autojump clock does: for waits the test need not
        pace itself."""
        task = asyncio.ensure_future(work)
        stop_at = self._now + limit
        while not task.done():
            await idle()
            pending = [t for t, f in self._sleepers if not f.done()]
            if pending and not task.done():
                if min(pending) > stop_at:
                    task.cancel()
                    raise AssertionError(f"the work was still waiting after {limit}s")
                self.advance(max(0.0, min(pending) - self._now))
        return task.result()

    def advance(self, seconds: float) -> None:
        self._now += seconds
        for deadline, future in list(self._sleepers):
            if deadline <= self._now and not future.done():
                future.set_result(None)


async def idle() -> None:
    """Yield until no other callback is ready to run: every task waits on something (the
    clock, a gate). On loops that do not show their ready queue (uvloop), a fixed number of
    turns, enough for the pool's longest chain of hand-offs."""
    loop = asyncio.get_running_loop()
    ready = getattr(loop, "_ready", None)
    for _ in range(10_000 if ready is not None else 50):
        await asyncio.sleep(0)
        if ready is not None and not ready:
            return
    if ready is not None:
        raise AssertionError("the loop never went idle: something spins")


async def until(condition: Callable[[], bool], rounds: int = 2000) -> None:
    """Yield to the loop until ``condition`` holds; fail loudly if it never does."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


async def leave_mid_request(pool: SessionPool, backend: FakeBackend, url: str) -> str:
    """Lease a session, start a request the gated backend holds, cancel its caller (as a
    timeout around the call would), release the lease; the session's id."""
    assert backend.request_gate is not None, "the request must be held to be left mid-way"
    lease = await pool.acquire()
    sid = lease.id
    call = asyncio.ensure_future(lease.get(url))
    await until(lambda: backend.in_flight.get(sid) == 1)
    call.cancel()
    try:
        await call
    except asyncio.CancelledError:
        pass
    else:
        raise AssertionError("the call finished although its caller was cancelled")
    await lease.release()
    return sid


def busy(pool: SessionPool) -> int:
    """Sessions the pool is working on (being created, renewed, placed or closed): what is
    neither idle, leased, nor parked on purpose (a lost create, a failed close)."""
    s = pool.stats()
    return s.size - s.idle - s.leased - s.unresolved - s.held_until_expiry


async def caught_up(pool: SessionPool, clock: ManualClock) -> None:
    """After a clock jump, wait until the pool has caught up with it, so that the next jump
    cannot land in the middle of the work this one started: nothing is in flight, and the
    pool sleeps on the clock again with a wake-up due within a heartbeat (maintenance, which
    the jump woke, never sleeps longer than that)."""
    horizon = pool.config.heartbeat_interval
    await until(lambda: busy(pool) == 0 and clock.next_pool_wake() <= clock.now() + horizon)


def call_after_turns(turns: int, callback: Callable[[], object]) -> Callable[[], None]:
    """Call ``callback`` where a task that yielded ``turns`` times would be (at once for 0);
    returns a canceller. For a test that picks a scheduling point to strike at (a
    cancellation), never for a wait."""
    if turns <= 0:
        callback()
        return lambda: None
    loop = asyncio.get_running_loop()
    left = turns
    handle: asyncio.Handle

    def tick() -> None:
        nonlocal left, handle
        left -= 1
        if left <= 0:
            callback()
        else:
            handle = loop.call_soon(tick)

    handle = loop.call_soon(tick)
    return lambda: handle.cancel()


class FakeHandle:
    """A session handle whose requests check the server-side state like BBRE does."""

    def __init__(self, backend: FakeBackend, session_id: str) -> None:
        self.backend = backend
        self.id = session_id
        self.cookies: dict[str, str] = {}
        self.cdp_url = f"ws://fake/{session_id}"

    async def request(
        self, method: str, url: str, *, cookies: Mapping[str, str] | None = None, **_: Any
    ) -> Response:
        backend = self.backend
        backend.sent_cookies.append((self.id, dict(cookies or {})))
        if self.id not in backend.active:
            backend.requests_on_dead += 1
            raise SessionNotFoundError("gone", code="SESSION_NOT_FOUND", status=404)
        if backend.active[self.id] <= backend.clock.now():
            backend.requests_on_dead += 1
            raise SessionExpiredError("expired", code="SESSION_EXPIRED", status=400)
        backend.in_flight[self.id] = backend.in_flight.get(self.id, 0) + 1
        if backend.in_flight[self.id] > 1:
            backend.overlaps += 1
        try:
            if backend.request_gate is not None:
                await backend.request_gate.wait()
            else:
                await asyncio.sleep(0)
        finally:
            backend.in_flight[self.id] -= 1
        if backend.request_failures:
            raise backend.request_failures.popleft()
        backend.requests += 1
        self.cookies.update({f"c-{url.rsplit('/', 1)[-1]}": "1"})
        status = backend.status_for(url)
        return Response(status_code=status, body=url, cookies=dict(self.cookies))


class FakeBackend:
    """The server side: active sessions with expiry, an account cap, scripted failures."""

    name = "fake"
    max_life = 300.0
    supports_extend = False
    key_fingerprint = "fp-test"
    base_url = "fake://server"

    def __init__(self, clock: ManualClock, *, life: float = 300.0, account_cap: int = 10) -> None:
        self.clock = clock
        self.life = life
        self.account_cap = account_cap
        self.active: dict[str, float] = {}
        self.created_at: dict[str, float] = {}
        self.handles: dict[str, FakeHandle] = {}
        self.ids = (f"s{n}" for n in itertools.count(1))
        self.calls: list[tuple[str, str]] = []
        self.peak_active = 0
        self.create_failures: deque[BaseException] = deque()
        self.close_failures: deque[BaseException] = deque()  # one per close call, in order
        self.lose_next_answers = 0
        self.create_gate: asyncio.Event | None = None
        self.close_gate: asyncio.Event | None = None
        self.request_gate: asyncio.Event | None = None
        self.request_failures: deque[BaseException] = deque()  # one per request, in order
        self.creates_started = 0
        self.requests = 0
        self.requests_on_dead = 0
        self.overlaps = 0
        self.in_flight: dict[str, int] = {}
        self.sent_cookies: list[tuple[str, dict[str, str]]] = []
        self.statuses: dict[str, int] = {}
        self.foreign: set[str] = set()
        self.lost_ids: set[str] = set()  # created, but the answer never reached the pool
        self.garble_next_answers = 0  # created, answered 200 in a form that cannot be read

    def status_for(self, url: str) -> int:
        return next((code for part, code in self.statuses.items() if part in url), 200)

    def _expire(self) -> None:
        now = self.clock.now()
        for sid, expires in list(self.active.items()):
            if expires <= now:
                del self.active[sid]

    def hold_foreign(self, count: int) -> list[str]:
        """Sessions another program holds on the same account."""
        ids = []
        for _ in range(count):
            sid = next(self.ids)
            self.active[sid] = self.clock.now() + self.life
            self.created_at[sid] = self.clock.now()
            self.foreign.add(sid)
            ids.append(sid)
        self.peak_active = max(self.peak_active, len(self.active))
        return ids

    async def create(self, *, deadline: float | None = None) -> RemoteSession:
        self.creates_started += 1
        if self.create_gate is not None:
            await self.create_gate.wait()
        else:
            await asyncio.sleep(0)
        self._expire()
        if self.create_failures:
            raise self.create_failures.popleft()
        if len(self.active) >= self.account_cap:
            raise SessionLimitError("cap", code="SESSION_LIMIT_REACHED", status=429)
        sid = next(self.ids)
        now = self.clock.now()
        self.active[sid] = now + self.life
        self.created_at[sid] = now
        self.handles[sid] = FakeHandle(self, sid)
        self.calls.append(("create", sid))
        self.peak_active = max(self.peak_active, len(self.active))
        if self.garble_next_answers:
            self.garble_next_answers -= 1
            from bbre_async import InvalidResponseError

            raise InvalidResponseError(
                "unexpected response: session.expiresAt is not a number",
                status=200,
                details={"session_id": sid},
                outcome_unknown=True,
            )
        if self.lose_next_answers:
            self.lose_next_answers -= 1
            self.lost_ids.add(sid)
            from bbre_async import APIConnectionError

            raise APIConnectionError("connection lost", outcome_unknown=True)
        return RemoteSession(
            id=sid, created_at=now, expires_at=now + self.life, handle=self.handles[sid]
        )

    async def close(self, session_id: str, *, deadline: float | None = None) -> bool:
        if self.close_gate is not None:
            await self.close_gate.wait()
        else:
            await asyncio.sleep(0)
        if self.close_failures:
            raise self.close_failures.popleft()
        self.calls.append(("close", session_id))
        self._expire()
        return self.active.pop(session_id, None) is not None

    async def status(self, session_id: str) -> tuple[bool, float | None]:
        self._expire()
        expires = self.active.get(session_id)
        return expires is not None, expires

    async def list_active(self) -> list[ActiveSession]:
        self._expire()
        return [
            ActiveSession(id=sid, created_at=self.created_at[sid], expires_at=exp)
            for sid, exp in self.active.items()
        ]

    async def extend(self, session_id: str, seconds: float) -> float:
        raise NotImplementedError

    def adopt(self, active: ActiveSession) -> RemoteSession:
        handle = self.handles.setdefault(active.id, FakeHandle(self, active.id))
        return RemoteSession(
            id=active.id,
            created_at=active.created_at or self.clock.now(),
            expires_at=active.expires_at or self.clock.now() + self.life,
            handle=handle,
        )

    def closes(self) -> list[str]:
        return [sid for kind, sid in self.calls if kind == "close"]

    def creates(self) -> list[str]:
        return [sid for kind, sid in self.calls if kind == "create"]
