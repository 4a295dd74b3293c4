"""Fixtures for the CLI tests: an emulator on its own thread and event loop, and a runner.

A CLI command calls ``asyncio.run`` itself, which cannot run inside pytest-asyncio's loop; so
the tests are plain functions, the emulator serves from a background thread, and the test
talks to it through `EmulatorThread.run` (a coroutine on the emulator's loop) or
`EmulatorThread.call` (a function there, e.g. to seed history rows).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest
from click.testing import CliRunner, Result

from bbre_async import BBREClient
from bbre_async.cli._app import cli
from bbre_async.emulator import (
    AccountSpec,
    Emulator,
    EmulatorSettings,
    running_emulator,
)
from bbre_async.emulator._state import TaskRecord, to_micros

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]

#: A distinctive key, so a test can assert it never shows up in any output.
SECRET_KEY = "bbre-live-9f8e7d6c5b4a3f2e1d"
ACCOUNT = "owner"


class EmulatorThread:
    """A running emulator served by a background thread's event loop."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self._settings = settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.emulator: Emulator | None = None
        self._thread = threading.Thread(target=self._main, name="cli-test-emulator", daemon=True)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with running_emulator(self._settings) as emulator:
            self.emulator = emulator
            self._ready.set()
            await self._stop.wait()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise RuntimeError(f"the emulator did not start: {self._error!r}")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    @property
    def emu(self) -> Emulator:
        assert self.emulator is not None
        return self.emulator

    @property
    def base_url(self) -> str:
        return self.emu.base_url

    def run(self, coro: Awaitable[T], timeout: float = 15.0) -> T:
        """Run ``coro`` on the emulator's loop and return its result."""
        assert self._loop is not None

        async def wrap() -> T:
            return await coro

        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(wrap(), self._loop)
        return future.result(timeout)

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the emulator's loop (its state is not thread-safe)."""

        async def invoke() -> T:
            return fn()

        return self.run(invoke())

    # -- conveniences ----------------------------------------------------------------------

    def client(self) -> BBREClient:
        return BBREClient(api_key=SECRET_KEY, base_url=self.base_url)

    def create_sessions(self, count: int, *, requests: int = 0, close: int = 0) -> list[str]:
        """Create ``count`` sessions (each with ``requests`` requests); close the first
        ``close`` of them. Returns their ids, oldest first."""

        async def go() -> list[str]:
            async with self.client() as client:
                ids = []
                for _ in range(count):
                    session = await client.sessions.create()
                    for n in range(requests):
                        await session.get(f"https://shop.test/{n}")
                    ids.append(session.id)
                for session_id in ids[:close]:
                    await client.sessions.close(session_id)
                return ids

        return self.run(go())

    def active_ids(self) -> set[str]:
        return set(self.call(lambda: self.emu.state.accounts[ACCOUNT].active_session_ids))

    def seed_history(self, rows: Sequence[SeedTask]) -> None:
        """Put history rows with exact times, prices and outcomes into the account."""

        def seed() -> None:
            engine = self.emu.engine
            account = engine.account(ACCOUNT)
            for row in sorted(rows, key=lambda r: r.created_ms):
                engine.record_task(
                    account,
                    TaskRecord(
                        id=row.id,
                        type=row.type,
                        mode=row.mode,
                        url=row.url,
                        method="GET",
                        created_ms=row.created_ms,
                        status=row.status,
                        price_micros=to_micros(row.price),
                        completed_ms=None
                        if row.status == "processing"
                        else row.created_ms + row.processing_ms,
                    ),
                )

        self.call(seed)


@attrs.frozen(kw_only=True)
class SeedTask:
    id: str
    created_ms: int
    mode: str = "passive"
    type: str = "BBRE_SESSION_REQUEST"
    status: str = "completed"
    price: float = 0.005
    processing_ms: int = 100
    url: str = "https://shop.test/item"


def make_settings(**changes: Any) -> EmulatorSettings:
    return EmulatorSettings(
        accounts=(AccountSpec(api_key=SECRET_KEY, name=ACCOUNT, balance=100.0),),
        **changes,
    )


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    return make_settings()


@pytest.fixture
def server(emulator_settings: EmulatorSettings) -> Iterator[EmulatorThread]:
    thread = EmulatorThread(emulator_settings)
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


# Environment the CLI must not pick up from the machine running the tests.
_CLEAN_ENV = {
    "BBRE_API_KEY": None,
    "BBRE_BASE_URL": None,
    "BBRE_LEDGER_PATH": None,
    "FORCE_COLOR": None,
    "TTY_COMPATIBLE": None,
    "COLUMNS": None,
}


Invoke = Callable[..., Result]


def check_no_secret(result: Result) -> None:
    """The key never appears in any output, whatever the command did."""
    for text in (result.stdout, result.stderr):
        assert SECRET_KEY not in text
        assert SECRET_KEY[-12:] not in text


@pytest.fixture
def invoke(server: EmulatorThread) -> Invoke:
    """Run ``bbre-async --base-url URL --api-key KEY ARGS...`` in-process."""

    def run(
        *args: str,
        input: str | None = None,
        env: dict[str, str | None] | None = None,
        key: str | None = SECRET_KEY,
        base_url: str | None = None,
    ) -> Result:
        head = ["--base-url", base_url or server.base_url]
        if key is not None:
            head += ["--api-key", key]
        runner = CliRunner(env={**_CLEAN_ENV, **(env or {})})
        result = runner.invoke(cli, [*head, *args], input=input, catch_exceptions=True)
        check_no_secret(result)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return run


def no_escape_codes(text: str) -> bool:
    return "\x1b" not in text


@pytest.fixture
def python_env() -> dict[str, str]:
    """Environment for running ``python -m bbre_async`` as a subprocess."""
    env = {k: v for k, v in os.environ.items() if k not in _CLEAN_ENV}
    env["PYTHONPATH"] = str(ROOT)
    return env
