"""A local BBRE server for tests, demos and benchmarks: ``bbre_async.emulator``.

It serves every BBRE endpoint with the vendor's documented shapes and quirks, keeps accounts,
balances, the 10-session cap and the 10-300 s life clamp, and injects the faults real networks
produce. It imports nothing from the client side of ``bbre_async``, so the two check each other.

    async with running_emulator(EmulatorSettings(time_scale=100)) as emu:
        ...  # point a client at emu.base_url with API key "test-key"
        assert emu.state.account().peak_active_sessions <= 10

Knobs that reproduce real servers' misbehaviour (see ``EmulatorSettings`` and ``Faults``): a
server clock offset, odd ``expiresAt`` forms, a proxy 502 before a create, lost and garbled
answers, failing closes; each settable in the settings, on the running ``Emulator``
(``set_clock_offset``, ``set_expiry_form``, ``set_faults``, ``inject``, ``fail_closes``) and
over HTTP under ``/_emulator/``.

From a shell: ``bbre-async emulator --port 8787`` (or ``python -m bbre_async.emulator``).
"""

from bbre_async.emulator._clock import Clock, ManualClock, SystemClock
from bbre_async.emulator._server import Emulator, running_emulator
from bbre_async.emulator._settings import (
    CLOSE_FAILURES,
    ENDPOINTS,
    EXPIRY_FORMS,
    FAULT_KINDS,
    AccountSpec,
    CloseFailure,
    EmulatorSettings,
    ExpiryForm,
    FaultKind,
    Faults,
    Latency,
    Prices,
)
from bbre_async.emulator._state import AccountState, EmulatorState
from bbre_async.emulator._targets import ScriptHandle, TargetRule

__all__ = [
    "CLOSE_FAILURES",
    "ENDPOINTS",
    "EXPIRY_FORMS",
    "FAULT_KINDS",
    "AccountSpec",
    "AccountState",
    "Clock",
    "CloseFailure",
    "Emulator",
    "EmulatorSettings",
    "EmulatorState",
    "ExpiryForm",
    "FaultKind",
    "Faults",
    "Latency",
    "ManualClock",
    "Prices",
    "ScriptHandle",
    "SystemClock",
    "TargetRule",
    "running_emulator",
]
