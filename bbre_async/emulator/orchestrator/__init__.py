"""A local OrchestratorHQ server for tests, demos and benchmarks.

It serves the vendor's session API under ``/api`` with the documented shapes and errors:
Bearer keys, durations of 1 minute to 24 hours, the organisation cap, credits, extend, stop,
``/status`` and ``/health``, with expiry on an injectable clock and a ``time_scale`` that
compresses durations. Like the BBRE emulator it imports nothing from the client side.

    async with running_orchestrator_emulator(OrchestratorSettings(time_scale=60)) as emu:
        ...  # OrchestratorClient(api_key=emu.api_key, base_url=emu.base_url)

Mounted into another aiohttp app: ``root.add_subapp("/api", create_orchestrator_app(...))``.
The BBRE emulator does exactly that by default (``EmulatorSettings.orchestrator``), so one
``running_emulator()`` serves both APIs on one clock and time scale: ``emu.orchestrator_url``,
``emu.orchestrator_key``, ``emu.orchestrator`` (this module's ``OrchestratorEmulator``
handle) and ``"orchestrator"`` in ``GET /_emulator/state``.
"""

from bbre_async.emulator.orchestrator._app import ORCHESTRATOR_ENGINE, create_orchestrator_app
from bbre_async.emulator.orchestrator._engine import OrchestratorEngine
from bbre_async.emulator.orchestrator._faults import ORCH_ENDPOINTS, ORCH_FAULT_KINDS
from bbre_async.emulator.orchestrator._server import (
    API_PREFIX,
    OrchestratorEmulator,
    running_orchestrator_emulator,
)
from bbre_async.emulator.orchestrator._settings import OrchestratorSettings, OrgSpec
from bbre_async.emulator.orchestrator._state import OrchestratorState, OrgState

__all__ = [
    "API_PREFIX",
    "ORCHESTRATOR_ENGINE",
    "ORCH_ENDPOINTS",
    "ORCH_FAULT_KINDS",
    "OrchestratorEmulator",
    "OrchestratorEngine",
    "OrchestratorSettings",
    "OrchestratorState",
    "OrgSpec",
    "OrgState",
    "create_orchestrator_app",
    "running_orchestrator_emulator",
]
