"""The throughput probe runs end to end (the number itself is measured out of process)."""

from __future__ import annotations

from bbre_async.emulator import AccountSpec, EmulatorSettings, running_emulator
from bbre_async.emulator._loadcheck import measure


async def test_measure_reports_completed_requests() -> None:
    settings = EmulatorSettings(accounts=[AccountSpec(api_key="load", balance=1e6)])
    async with running_emulator(settings) as emu:
        result = await measure(emu.base_url, "load", concurrency=4, duration=0.2, sessions=2)
        state = emu.state.account()
    assert result.requests > 0 and result.errors == 0
    assert result.rate > 0 and result.p99_ms >= result.p50_ms
    assert state.requests_total == result.requests
    assert state.sessions_closed == 2 and state.concurrent_request_violations == 0
