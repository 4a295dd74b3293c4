"""The emulator's core: accounts, the session table, expiry, latency, and state snapshots.

Operations (``_sessions``, ``_tasks``, ``_account``) and the HTTP layer (``_app``) all go
through one ``Engine``; it holds no aiohttp objects, so it can be driven in-process too.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import math
import random
import secrets
from typing import Any

import orjson

from bbre_async.emulator._billing import refund
from bbre_async.emulator._clock import Clock
from bbre_async.emulator._envelope import ApiError, rendered
from bbre_async.emulator._faults import FaultInjector
from bbre_async.emulator._server_time import ServerTime
from bbre_async.emulator._settings import (
    ACCOUNT_STATUSES,
    MODES,
    AccountSpec,
    CloseFailure,
    EmulatorSettings,
    Faults,
    Latency,
)
from bbre_async.emulator._state import (
    Account,
    AccountState,
    EmulatorState,
    SessionRecord,
    TaskRecord,
    to_micros,
)
from bbre_async.emulator._targets import Targets

_REJECTED_STATUS = {"suspended": "ACCOUNT_SUSPENDED", "inactive": "ACCOUNT_INACTIVE"}

_USER_AGENTS = (
    (
        "Win32",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
    ),
    (
        "MacIntel",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Chrome/124.0.0.0 Safari/537.36",
    ),
    (
        "Linux x86_64",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/123.0.0.0 Safari/537.36",
    ),
    ("Win32", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0"),
)
_SCREENS = ((1920, 1080), (1366, 768), (1536, 864), (2560, 1440), (1440, 900))
_TIMEZONES = ("America/New_York", "Europe/London", "Europe/Berlin", "Asia/Tokyo")


def browser_profile(seed: str) -> dict[str, Any]:
    """A plausible browser profile, stable for a given ``seed`` (a session or task id)."""
    digest = hashlib.blake2b(seed.encode(), digest_size=8).digest()
    platform, agent = _USER_AGENTS[digest[0] % len(_USER_AGENTS)]
    width, height = _SCREENS[digest[1] % len(_SCREENS)]
    return {
        "userAgent": agent,
        "platform": platform,
        "language": "en-US",
        "timezone": _TIMEZONES[digest[2] % len(_TIMEZONES)],
        "screen": {"width": width, "height": height, "colorDepth": 24},
        "hardwareConcurrency": (4, 8, 12, 16)[digest[3] % 4],
        "deviceMemory": (4, 8)[digest[4] % 2],
    }


#: Task counters start here: 16 ** 12, so ``hex()`` of one is ``0x1`` and 12 hex digits.
_TASK_ID_BASE = 1 << 48


class Engine:
    """Mutable emulator state plus the rules every endpoint shares (auth, expiry, latency)."""

    def __init__(self, settings: EmulatorSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._initialize()

    def reset(self) -> None:
        """Forget every session, task and counter; accounts, faults, latency, scripts, the
        clock offset and the expiry form go back to what the settings say. The clock is kept."""
        self.faults.release_all()
        self._initialize()

    def _initialize(self) -> None:
        settings = self.settings
        self.rng = random.Random(settings.seed)
        self.targets = Targets(settings.targets)
        self.faults = FaultInjector(settings.faults, self.rng)
        self.time = ServerTime(self.clock, settings.clock_offset, settings.expiry_form)
        retention = settings.session_retention
        self.retention_ms: int | None = (
            self.scaled_ms(retention) if math.isfinite(retention) else None
        )
        self._task_ids = itertools.count(_TASK_ID_BASE + 1)
        run = f"{secrets.randbits(80):020x}"  # 8-4-4-4 hex of the UUID shape, per run
        self._task_prefix = f"{run[:8]}-{run[8:12]}-{run[12:16]}-{run[16:20]}-"
        self.latency = settings.latency
        self.latency_on = settings.latency.enabled
        self.accounts: dict[str, Account] = {}
        self.by_key: dict[str, Account] = {}
        self.sessions: dict[str, SessionRecord] = {}
        self.fault_totals: dict[str, int] = {}
        self.lost_totals: dict[str, int] = {}
        self.internal_errors = 0
        self._reprice()
        for spec in settings.accounts:
            self.add_account(spec)

    # -- configuration ---------------------------------------------------------------------

    def _reprice(self) -> None:
        prices = self.settings.prices
        self.price_create = to_micros(prices.session_create)
        self.price_session = {m: to_micros(prices.session_request(m)) for m in MODES}
        self.price_task = {m: to_micros(prices.request(m)) for m in MODES}

    def set_latency(self, latency: Latency) -> None:
        self.latency = latency
        self.latency_on = latency.enabled

    def set_faults(self, faults: Faults) -> None:
        self.faults.set(faults)

    def fail_closes(self, kind: CloseFailure | None, duration: float | None = None) -> None:
        """Fail every close as ``kind`` for ``duration`` clock seconds (``None``: until lifted);
        ``kind=None`` lifts a failure now (held ``"timeout"`` closes are then dropped)."""
        if duration is not None and (
            isinstance(duration, bool)
            or not isinstance(duration, int | float)
            or not duration >= 0
            or not math.isfinite(duration)
        ):
            raise ValueError("duration must be a finite number of seconds >= 0, or None")
        until = None if duration is None else self.now_ms() + round(duration * 1000)
        self.faults.fail_closes(kind, until)

    def add_account(self, spec: AccountSpec) -> Account:
        if spec.api_key in self.by_key or spec.name in self.accounts:
            raise ValueError(f"an account with this key or the name {spec.name!r} exists")
        account = Account.from_spec(spec, cap=self.settings.session_cap, now_ms=self.now_ms())
        self.accounts[account.name] = account
        self.by_key[account.api_key] = account
        return account

    def update_account(
        self, name: str, *, status: str | None = None, balance: float | None = None
    ) -> Account:
        """Change an account's status (``active``/``suspended``/``inactive``) or balance."""
        account = self.account(name)
        if status is not None:
            if status not in ACCOUNT_STATUSES:
                raise ValueError(f"status must be one of {ACCOUNT_STATUSES}")
            account.status = status
        if balance is not None:
            account.balance_micros = to_micros(float(balance))
        return account

    def account(self, name: str) -> Account:
        try:
            return self.accounts[name]
        except KeyError:
            raise KeyError(f"no account named {name!r}; known: {sorted(self.accounts)}") from None

    # -- time ------------------------------------------------------------------------------

    def now_ms(self) -> int:
        return round(self.clock.time() * 1000)

    def scaled_ms(self, emulated_seconds: float) -> int:
        """Clock milliseconds that ``emulated_seconds`` of API time take."""
        return round(emulated_seconds * 1000 / self.settings.time_scale)

    async def pause(self, endpoint: str, mode: str | None = None, extra: float = 0.0) -> None:
        """Sleep the configured real-time latency (plus ``extra`` real seconds)."""
        delay = extra
        if self.latency_on:
            delay += self.latency.delay(endpoint, mode, self.rng)
        if delay > 0:
            await asyncio.sleep(delay)

    # -- identity --------------------------------------------------------------------------

    def authenticate(self, key: str | None) -> Account:
        """The account behind ``key``, or the documented 401/403 answer."""
        if not key:
            raise ApiError(401, "API_KEY_REQUIRED")
        account = self.by_key.get(key)
        if account is None:
            raise ApiError(403, "INVALID_API_KEY")
        if account.status != "active":
            raise ApiError(403, _REJECTED_STATUS[account.status])
        return account

    @staticmethod
    def new_session_id() -> str:
        return "session_" + secrets.token_hex(12)

    def new_task_id(self) -> str:
        """A UUID-shaped id, unique in this emulator: a random run prefix and a counter
        (a ``uuid4`` per task cost 5 % of the emulator's CPU). The counter starts at
        ``_TASK_ID_BASE``, so ``hex()`` gives ``0x1`` and the 12 digits wanted, with no
        formatting to parse."""
        return self._task_prefix + hex(next(self._task_ids))[3:]

    # -- sessions --------------------------------------------------------------------------

    def find_session(self, account: Account, session_id: Any) -> SessionRecord:
        """The caller's session, or ``400 SESSION_ID_REQUIRED`` / ``404 SESSION_NOT_FOUND``."""
        if session_id is None or session_id == "":
            raise ApiError(
                400,
                "SESSION_ID_REQUIRED",
                details={"hint": "Session ID is returned when you create a session"},
            )
        if not isinstance(session_id, str):
            raise ApiError(
                400, "INVALID_REQUEST", "sessionId must be a string.", {"field": "sessionId"}
            )
        session = self.sessions.get(session_id)
        if session is None or session.account is not account:
            raise ApiError(404, "SESSION_NOT_FOUND")
        return session

    def add_session(self, session: SessionRecord, now_ms: int) -> None:
        """Store a new, active session (and forget what the retention lets go)."""
        account = session.account
        self.sessions[session.id] = session
        account.sessions[session.id] = session
        account.live[session.id] = session
        self.prune(account, now_ms)

    def end_session(self, session: SessionRecord, status: str, now_ms: int) -> None:
        """Move an active session to ``closed`` or ``expired`` (its slot is free)."""
        session.status = status
        if session.ended_ms is None:
            session.ended_ms = now_ms
            account = session.account
            account.live.pop(session.id, None)
            account.ended.append(session)

    def prune(self, account: Account, now_ms: int) -> int:
        """Forget sessions that ended longer than the retention ago; returns how many.
        A listing lag keeps them at least as long as it looks back."""
        if self.retention_ms is None:
            return 0
        lag = self.faults.faults.listing_lag
        keep_ms = max(self.retention_ms, self.scaled_ms(lag) if lag else 0)
        horizon = now_ms - keep_ms
        ended = account.ended
        forgotten = 0
        while ended and (ended[0].ended_ms or 0) < horizon:
            gone = ended.popleft()
            account.sessions.pop(gone.id, None)
            self.sessions.pop(gone.id, None)
            forgotten += 1
        return forgotten

    def expire(self, session: SessionRecord, now_ms: int) -> None:
        """Store the expiry of a past-due session (what the vendor calls processing it)."""
        self.end_session(session, "expired", now_ms)
        session.account.counters.sessions_expired += 1

    def reconcile(self, session: SessionRecord, now_ms: int) -> None:
        """Lazy expiry, as ``/session/status``, ``/session/request`` and close do it."""
        if session.status == "active" and session.expires_ms <= now_ms:
            self.expire(session, now_ms)

    def held(self, account: Account, now_ms: int) -> int:
        """Sessions that count against the cap (see ``cap_counts_unswept``)."""
        if self.settings.cap_counts_unswept:
            return len(account.live)
        return sum(1 for s in account.live.values() if s.expires_ms > now_ms)

    def sweep(self) -> int:
        """Expire every past-due session in storage (the listing only learns expiry here),
        then forget what the retention lets go. Returns how many sessions expired."""
        now = self.now_ms()
        count = 0
        for account in self.accounts.values():
            due = [s for s in account.live.values() if s.expires_ms <= now]
            for session in due:
                self.expire(session, now)
            count += len(due)
            self.prune(account, now)
        return count

    def profile_of(self, session: SessionRecord) -> orjson.Fragment:
        """The session's browser profile, rendered once (``_envelope.rendered``)."""
        if session.profile is None:
            session.profile = rendered(browser_profile(session.id))
        return session.profile

    # -- tasks -----------------------------------------------------------------------------

    def record_task(self, account: Account, task: TaskRecord) -> None:
        """Append a history row, keeping at most ``history_limit`` rows per account."""
        history = account.history
        history.append(task)
        account.counters.tasks_created += 1
        limit = self.settings.history_limit
        if len(history) > 2 * limit:
            dropped = history[: len(history) - limit]
            del history[: len(history) - limit]
            for row in dropped:
                account.tasks.pop(row.id, None)
                account.pending.pop(row.id, None)

    def finish_task(self, account: Account, task: TaskRecord, status: str, at_ms: int) -> None:
        """End a task; failed and timed-out tasks are refunded in full."""
        task.status = status
        task.completed_ms = at_ms
        account.pending.pop(task.id, None)
        if status == "completed":
            account.counters.tasks_completed += 1
            return
        account.counters.tasks_failed += 1
        if task.price_micros:
            refund(account, task.price_micros)
            task.price_micros = 0

    def settle_due_tasks(self, account: Account, now_ms: int) -> None:
        """Finish the stateless tasks whose processing time has passed (lazily, on read)."""
        if not account.pending:
            return
        for task in [t for t in account.pending.values() if t.due_ms <= now_ms]:
            self.finish_task(account, task, task.outcome, task.due_ms)

    # -- observation -----------------------------------------------------------------------

    def count_fault(self, kind: str, account: Account | None) -> None:
        self.fault_totals[kind] = self.fault_totals.get(kind, 0) + 1
        if account is not None:
            faults = account.counters.faults
            faults[kind] = faults.get(kind, 0) + 1

    def count_lost(self, endpoint: str, account: Account | None) -> None:
        self.lost_totals[endpoint] = self.lost_totals.get(endpoint, 0) + 1
        if account is not None:
            lost = account.counters.lost_answers
            lost[endpoint] = lost.get(endpoint, 0) + 1

    def snapshot(self) -> EmulatorState:
        now = self.now_ms()
        return EmulatorState(
            now=now / 1000,
            time_scale=self.settings.time_scale,
            clock_offset=self.time.offset,
            expiry_form=self.time.expiry_form,
            failing_closes=self.faults.close_failure(now),
            stored_sessions=len(self.sessions),
            accounts={name: AccountState.of(a, now) for name, a in self.accounts.items()},
            faults=self.fault_totals,
            lost_answers=self.lost_totals,
            internal_errors=self.internal_errors,
        )
