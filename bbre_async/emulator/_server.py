"""Running the emulator: the ``Emulator`` object and ``running_emulator()``.

``Emulator`` owns the engine, the aiohttp runner and the background expiry sweep; everything a
test wants to steer at runtime (faults, latency, scripted targets, accounts) is a method here.
The same server serves OrchestratorHQ's session API under ``/api`` (see
``EmulatorSettings.orchestrator``); ``emu.orchestrator`` steers and observes that one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import attrs
from aiohttp import web

from bbre_async.emulator._app import build_app
from bbre_async.emulator._clock import Clock, SystemClock
from bbre_async.emulator._settings import (
    AccountSpec,
    CloseFailure,
    EmulatorSettings,
    ExpiryForm,
    FaultKind,
    Faults,
    Latency,
)
from bbre_async.emulator._targets import ScriptHandle, TargetRule
from bbre_async.emulator.orchestrator._engine import OrchestratorEngine
from bbre_async.emulator.orchestrator._mount import (
    MOUNT_PREFIX,
    CombinedState,
    MountedEngine,
    orchestrator_app,
    orchestrator_handle,
)
from bbre_async.emulator.orchestrator._state import OrchestratorState

if TYPE_CHECKING:
    from bbre_async.emulator.orchestrator._server import OrchestratorEmulator

log = logging.getLogger("bbre_async.emulator")


class Emulator:
    """A BBRE emulator: build it, ``await start()``, point a client at ``base_url``.

    Most code uses ``running_emulator()`` instead, which starts and stops it. The emulator is
    single-threaded asyncio: call its methods from the event loop that runs it.

    Unless ``settings.orchestrator`` is ``None`` it also serves OrchestratorHQ's API at
    ``orchestrator_url`` (``base_url + "/api"``, Bearer key ``orchestrator_key``), on the
    same clock and time scale: ``emu.orchestrator`` is its handle (state, faults, credits).
    """

    def __init__(
        self, settings: EmulatorSettings | None = None, *, clock: Clock | None = None
    ) -> None:
        self.settings = settings if settings is not None else EmulatorSettings()
        self.clock: Clock = clock if clock is not None else SystemClock()
        mounted = orchestrator_app(self.settings, self.clock)
        self.orchestrator_app: web.Application | None = None
        self.orchestrator_engine: OrchestratorEngine | None = None
        if mounted is not None:
            self.orchestrator_app, self.orchestrator_engine = mounted
        self.engine = MountedEngine(self.settings, self.clock, self.orchestrator_engine)
        mounts = None
        if self.orchestrator_app is not None:
            mounts = {MOUNT_PREFIX: self.orchestrator_app}
        self.app = build_app(self.engine, mounts=mounts)
        self._runner: web.AppRunner | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._base_url: str | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, *, shutdown_timeout: float = 1.0
    ) -> str:
        """Listen on ``host:port`` (``port=0`` picks a free one) and return the base URL."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self._base_url = f"http://{shown}:{bound_port}"
        if self.settings.sweep_interval is not None:
            self._sweeper = asyncio.create_task(
                self._sweep_forever(self.settings.sweep_interval), name="bbre-emulator-sweep"
            )
        return self._base_url

    async def stop(self) -> None:
        """Stop the sweep and the server; requests still running get ``shutdown_timeout``."""
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        self.engine.faults.release_all()  # closes held by a "timeout" failure end now
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _sweep_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                self.engine.sweep()
            except Exception:  # never let one bad sweep end the loop
                log.exception("emulator: sweep failed")

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` once started."""
        if self._base_url is None:
            raise RuntimeError("the emulator has not been started")
        return self._base_url

    @property
    def api_key(self) -> str:
        """The first account's API key (``test-key`` by default)."""
        return self.settings.accounts[0].api_key

    # -- the mounted OrchestratorHQ API --------------------------------------------------------

    def _orchestrator_engine(self) -> OrchestratorEngine:
        if self.orchestrator_engine is None:
            raise RuntimeError(
                "this emulator serves no OrchestratorHQ API (EmulatorSettings.orchestrator is None)"
            )
        return self.orchestrator_engine

    @property
    def orchestrator_url(self) -> str:
        """The OrchestratorHQ base URL once started: ``base_url + "/api"``."""
        self._orchestrator_engine()
        return self.base_url + MOUNT_PREFIX

    @property
    def orchestrator_key(self) -> str:
        """The first organisation's OrchestratorHQ key (``orch_test_key`` by default)."""
        return self._orchestrator_engine().settings.orgs[0].api_key

    @property
    def orchestrator(self) -> OrchestratorEmulator:
        """The OrchestratorHQ API's handle once started: ``base_url``, ``api_key``,
        ``state``, ``inject()``, ``set_credits()``, ``reset()``..."""
        url = self.orchestrator_url  # raises when nothing is mounted or not started
        assert self.orchestrator_app is not None
        return orchestrator_handle(self.orchestrator_app, url)

    @property
    def orchestrator_state(self) -> OrchestratorState:
        """A fresh snapshot of the OrchestratorHQ counters (also ``state.orchestrator``)."""
        return self._orchestrator_engine().snapshot()

    # -- observation -----------------------------------------------------------------------

    @property
    def state(self) -> CombinedState:
        """A fresh snapshot of the counters (the in-process ``/_emulator/state``), with the
        OrchestratorHQ API's under ``orchestrator``."""
        return self.engine.snapshot()

    def sweep(self) -> int:
        """Run the expiry sweep now (instead of waiting for the background one)."""
        return self.engine.sweep()

    def reset(self) -> None:
        """Forget sessions, tasks and counters; faults, latency, scripts back to the settings.
        The OrchestratorHQ API is reset too."""
        self.engine.reset()

    # -- steering --------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        return self.engine.faults.faults

    def set_faults(self, faults: Faults | None = None, **changes: Any) -> Faults:
        """Replace the fault rates (``set_faults(Faults(...))``) or change some fields
        (``set_faults(service_error=0.1)``). Takes effect on the next call."""
        base = faults if faults is not None else self.engine.faults.faults
        updated = attrs.evolve(base, **changes) if changes else base
        self.engine.set_faults(updated)
        return updated

    def inject(self, kind: FaultKind, *, endpoint: str | None = None, count: int = 1) -> None:
        """Make the next ``count`` calls (to ``endpoint``, e.g. ``"session/create"``, or to any
        endpoint) fail as ``kind``: ``drop``, ``bad_gateway``, ``service_error``,
        ``rate_limit``, ``lost_answer`` or ``garbled_answer``."""
        self.engine.faults.script(kind, endpoint, count)

    def clear_faults(self) -> None:
        """No fault rates, no scripted faults."""
        self.engine.faults.clear_scripts()
        self.engine.set_faults(Faults())

    def fail_closes(
        self, kind: CloseFailure | None = "error", *, duration: float | None = None
    ) -> None:
        """Fail every ``/session/close`` for ``duration`` clock seconds (``None``: until
        ``fail_closes(None)``); the sessions stay active. ``"error"`` answers ``500
        SERVICE_ERROR``; ``"timeout"`` holds each close unanswered until the failure ends,
        then drops the connection. ``state.account().closes_failed`` counts them."""
        self.engine.fail_closes(kind, duration)

    @property
    def clock_offset(self) -> float:
        """Seconds the server's clock is ahead of the emulator's (negative: behind)."""
        return self.engine.time.offset

    def set_clock_offset(self, seconds: float) -> None:
        """Skew the server's clock: every timestamp it sends and its ``Date`` header move by
        ``seconds``; lives and expiry do not (see ``EmulatorSettings.clock_offset``)."""
        self.engine.time.set_offset(seconds)

    @property
    def expiry_form(self) -> ExpiryForm:
        return self.engine.time.expiry_form

    def set_expiry_form(self, form: ExpiryForm) -> None:
        """What ``expiresAt`` says from now on in create and status answers: ``"normal"``,
        ``"missing"``, ``"past"``, ``"equal_created"``, ``"day_too_far"``, ``"unparsable"``."""
        self.engine.time.set_expiry_form(form)

    @property
    def latency(self) -> Latency:
        return self.engine.latency

    def set_latency(self, latency: Latency | None = None, **changes: Any) -> Latency:
        """Replace the latency settings or change some fields (real seconds)."""
        base = latency if latency is not None else self.engine.latency
        updated = attrs.evolve(base, **changes) if changes else base
        self.engine.set_latency(updated)
        return updated

    def script(self, pattern: str | TargetRule, **fields: Any) -> ScriptHandle:
        """Script what URLs matching ``pattern`` answer (see ``TargetRule``); newest wins.

        ``emu.script("https://shop.test/*", blocked=True, times=2)``
        """
        rule = pattern if isinstance(pattern, TargetRule) else TargetRule(pattern=pattern, **fields)
        return self.engine.targets.add(rule)

    def clear_scripts(self) -> None:
        self.engine.targets.clear()

    def add_account(self, spec: AccountSpec | None = None, **fields: Any) -> AccountSpec:
        """Add an account at runtime: ``add_account(api_key="k2", name="other")``."""
        spec = spec if spec is not None else AccountSpec(**fields)
        self.engine.add_account(spec)
        return spec

    def update_account(
        self, name: str = "default", *, status: str | None = None, balance: float | None = None
    ) -> None:
        """Suspend or deactivate an account, or set its balance, at runtime."""
        self.engine.update_account(name, status=status, balance=balance)

    def __repr__(self) -> str:
        where = self._base_url if self._runner is not None else "stopped"
        return f"<Emulator {where} time_scale={self.settings.time_scale:g}>"


@contextlib.asynccontextmanager
async def running_emulator(
    settings: EmulatorSettings | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Clock | None = None,
) -> AsyncIterator[Emulator]:
    """Run an emulator for the duration of the block; fully stopped on exit.

    ``async with running_emulator(EmulatorSettings(time_scale=100)) as emu: ...emu.base_url``
    """
    emulator = Emulator(settings, clock=clock)
    await emulator.start(host, port)
    try:
        yield emulator
    finally:
        await emulator.stop()
