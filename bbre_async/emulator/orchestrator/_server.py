"""Running the OrchestratorHQ emulator on its own: ``running_orchestrator_emulator()``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from bbre_async.emulator._clock import Clock
from bbre_async.emulator.orchestrator._app import ORCHESTRATOR_ENGINE, create_orchestrator_app
from bbre_async.emulator.orchestrator._engine import OrchestratorEngine
from bbre_async.emulator.orchestrator._faults import OrchFaultKind
from bbre_async.emulator.orchestrator._settings import OrchestratorSettings
from bbre_async.emulator.orchestrator._state import OrchestratorState

API_PREFIX = "/api"


class OrchestratorEmulator:
    """A running OrchestratorHQ emulator: ``base_url`` (ending in ``/api``), ``state``, and
    the knobs a test steers at runtime. Call it from the event loop that serves it."""

    def __init__(self, app: web.Application, base_url: str) -> None:
        self.app = app
        self.base_url = base_url
        self.engine: OrchestratorEngine = app[ORCHESTRATOR_ENGINE]

    @property
    def settings(self) -> OrchestratorSettings:
        return self.engine.settings

    @property
    def api_key(self) -> str:
        """The first organisation's API key (``orch_test_key`` by default)."""
        return self.engine.settings.orgs[0].api_key

    @property
    def state(self) -> OrchestratorState:
        """A fresh snapshot of the counters (the in-process ``/api/_emulator/state``)."""
        return self.engine.snapshot()

    def inject(
        self, kind: OrchFaultKind, *, endpoint: str | None = None, count: int | None = 1
    ) -> None:
        """Make the next ``count`` calls to ``endpoint`` (``"sessions/extend"``...; any when
        None) fail as ``kind``; ``count=None`` until ``clear_faults()``."""
        self.engine.faults.script(kind, endpoint, count)

    def clear_faults(self) -> None:
        self.engine.faults.clear()

    def set_credits(self, credits: float | None, org: str = "default") -> None:
        """Set an organisation's credits (``None``: unlimited)."""
        for candidate in self.engine.orgs:
            if candidate.name == org:
                candidate.credits = credits
                return
        raise KeyError(f"no organisation named {org!r}")

    def reset(self) -> None:
        """Forget sessions, counters and faults."""
        self.engine.reset()

    def __repr__(self) -> str:
        return f"<OrchestratorEmulator {self.base_url} time_scale={self.settings.time_scale:g}>"


@contextlib.asynccontextmanager
async def running_orchestrator_emulator(
    settings: OrchestratorSettings | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Clock | None = None,
) -> AsyncIterator[OrchestratorEmulator]:
    """Serve the emulator under ``/api`` on ``host:port`` (``0``: a free port) for the block.

    ``async with running_orchestrator_emulator(OrchestratorSettings(time_scale=60)) as emu:``
    then point ``OrchestratorClient(emu.api_key, emu.base_url)`` at it.
    """
    sub = create_orchestrator_app(settings, clock)
    root = web.Application()
    root.add_subapp(API_PREFIX, sub)
    runner = web.AppRunner(root, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        yield OrchestratorEmulator(sub, f"http://{shown}:{bound_port}{API_PREFIX}")
    finally:
        await runner.cleanup()
