from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bbre_async.emulator.orchestrator import (
    OrchestratorEmulator,
    OrchestratorSettings,
    running_orchestrator_emulator,
)
from bbre_async.orchestrator import OrchestratorClient
from tests.conftest import SleepRecorder
from tests.mock_api import MockAPI

BASE = "https://orch.test/api"
SECRET_KEY = "orch_live_SECRET_1234567890abcdef"
VNC_SECRET = "vnc-SECRET-pw-987654"


@pytest.fixture
async def client(sleeps: SleepRecorder, mocked: MockAPI) -> AsyncIterator[OrchestratorClient]:
    async with OrchestratorClient(
        api_key=SECRET_KEY, base_url=BASE, sleep=sleeps, transport=mocked.transport
    ) as c:
        yield c


@pytest.fixture
def emulator_settings() -> OrchestratorSettings:
    return OrchestratorSettings()


@pytest.fixture
async def emu(emulator_settings: OrchestratorSettings) -> AsyncIterator[OrchestratorEmulator]:
    async with running_orchestrator_emulator(emulator_settings) as emulator:
        yield emulator


@pytest.fixture
async def live(emu: OrchestratorEmulator) -> AsyncIterator[OrchestratorClient]:
    async with OrchestratorClient(api_key=emu.api_key, base_url=emu.base_url) as c:
        yield c


def session_json(session_id: str = "sess_abc123def456", **extra: object) -> dict[str, object]:
    """The vendor's ``GET /sessions/{id}`` sample, with a password tests can look for."""
    body: dict[str, object] = {
        "id": session_id,
        "session_name": "My Test Session",
        "description": "Session for testing automation scripts",
        "status": "active",
        "user_id": "user_123",
        "organization_id": "org_456",
        "organization_role": "member",
        "created_at": "2025-01-15T10:30:00Z",
        "started_at": "2025-01-15T10:31:00Z",
        "last_accessed_at": "2025-01-15T11:15:00Z",
        "expires_at": "2025-01-15T12:30:00Z",
        "vnc_url": "wss://browser-node-1.orchestratorhq.com:6080/websockify",
        "cdp_url": "ws://browser-node-1.orchestratorhq.com:9222/devtools/browser/abc123",
        "vnc_password": VNC_SECRET,
        "autoscaler_workload_id": "workload_789",
        "autoscaler_server_id": "server_101",
        "autoscaler_server_ip": "10.0.1.50",
    }
    body.update(extra)
    return body


def orch_error(
    code: str, status: int, message: str = "nope", **context: object
) -> dict[str, object]:
    body: dict[str, object] = {"error": code, "message": message, "code": status}
    if context:
        body["context"] = context
    return body
