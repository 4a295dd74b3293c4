"""The OrchestratorHQ API inside the BBRE emulator: one server, one clock, one time scale.

``Emulator`` (``bbre_async.emulator``) serves the BBRE API at its root and, unless
``EmulatorSettings.orchestrator`` is ``None``, this API under ``/api``, so
``emu.base_url + "/api"`` is an OrchestratorHQ base URL. The two share the emulator's clock
and ``time_scale``; their accounts, keys, caps and counters stay apart.

``MountedEngine`` is the BBRE engine plus the mounted one: its snapshot (``emu.state``,
``GET /_emulator/state``) carries the OrchestratorHQ counters under ``orchestrator``, and its
reset (``emu.reset()``, ``POST /_emulator/reset``) resets both APIs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
from aiohttp import web

from bbre_async.emulator._clock import Clock
from bbre_async.emulator._engine import Engine
from bbre_async.emulator._settings import EmulatorSettings
from bbre_async.emulator._state import EmulatorState
from bbre_async.emulator.orchestrator._engine import OrchestratorEngine
from bbre_async.emulator.orchestrator._state import OrchestratorState

if TYPE_CHECKING:
    from bbre_async.emulator.orchestrator._server import OrchestratorEmulator

#: Where the OrchestratorHQ API is mounted, as the vendor serves it (``.../api/sessions``).
MOUNT_PREFIX = "/api"


@attrs.frozen(kw_only=True)
class CombinedState(EmulatorState):
    """``EmulatorState`` plus ``orchestrator``: the mounted API's snapshot (``None`` when the
    emulator serves BBRE alone). JSON carries it under the ``"orchestrator"`` key."""

    orchestrator: OrchestratorState | None = None

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        if self.orchestrator is not None:
            out["orchestrator"] = self.orchestrator.to_json()
        return out


class MountedEngine(Engine):
    """The BBRE engine that also answers for the OrchestratorHQ engine mounted beside it."""

    def __init__(
        self,
        settings: EmulatorSettings,
        clock: Clock,
        orchestrator: OrchestratorEngine | None = None,
    ) -> None:
        self.orchestrator = orchestrator  # before the base class initialises (and resets)
        super().__init__(settings, clock)
        if orchestrator is not None:  # one server clock for both APIs
            orchestrator.offset = self._offset
            orchestrator.date = self._date

    def _offset(self) -> float:
        return self.time.offset

    def _date(self) -> str | None:
        time = self.time  # replaced on reset: read it per call
        return time.date_header() if time.sends_date else None

    def snapshot(self) -> CombinedState:
        base = super().snapshot()
        fields = {f.name: getattr(base, f.name) for f in attrs.fields(EmulatorState)}
        orchestrator = self.orchestrator.snapshot() if self.orchestrator is not None else None
        return CombinedState(**fields, orchestrator=orchestrator)

    def reset(self) -> None:
        super().reset()
        if self.orchestrator is not None:
            self.orchestrator.reset()


def orchestrator_app(
    settings: EmulatorSettings, clock: Clock
) -> tuple[web.Application, OrchestratorEngine] | None:
    """The OrchestratorHQ sub-application for ``settings`` and its engine, or ``None`` when
    ``settings.orchestrator`` is ``None``. It runs on ``clock`` and the emulator's
    ``time_scale``, and guards its admin route with the emulator's ``admin_token``."""
    if settings.orchestrator is None:
        return None
    # Imported here, not at the top: ``orchestrator._app`` imports the BBRE emulator package,
    # which imports this module, so a module-level import would be circular whenever the
    # orchestrator package is imported first.
    from bbre_async.emulator.orchestrator._app import ORCHESTRATOR_ENGINE, create_orchestrator_app

    mounted = settings.orchestrator.evolve(time_scale=settings.time_scale)
    app = create_orchestrator_app(mounted, clock, admin_token=settings.admin_token)
    return app, app[ORCHESTRATOR_ENGINE]


def orchestrator_handle(app: web.Application, base_url: str) -> OrchestratorEmulator:
    """The steering handle (state, faults, credits, reset) of a mounted sub-application."""
    from bbre_async.emulator.orchestrator._server import OrchestratorEmulator  # see above

    return OrchestratorEmulator(app, base_url)
