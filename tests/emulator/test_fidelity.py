"""Issue 18's fidelity items: the vendor pages' own examples, run against the emulator."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest

from bbre_async.emulator import Emulator, ManualClock
from tests.emulator._helpers import Api

WHOLE_SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")  # 2025-01-15T10:30:00Z


async def test_create_answers_both_session_id_forms(api: Api) -> None:
    """The status and close pages read ``session.id``; the account-sessions page's example
    reads ``data.sessionId`` where ``data`` is the parsed body."""
    payload = await api.ok("/session/create", {"mode": "adaptive"})
    assert payload["sessionId"] == payload["session"]["id"]
    assert payload["session"]["id"].startswith("session_")
    await api.ok("/session/status", {"sessionId": payload["sessionId"]})


async def _orch(
    http: aiohttp.ClientSession, emu: Emulator, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {emu.orchestrator_key}"}
    async with http.request(
        method, emu.orchestrator_url + path, json=body, headers=headers
    ) as response:
        return response.status, await response.json()


async def test_orchestrator_timestamps_are_whole_seconds_as_on_the_pages(
    emu: Emulator, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    clock.advance(0.628)  # the emulator's clock is not on a whole second
    _, created = await _orch(http, emu, "POST", "/sessions", {"session_name": "a"})
    _, listing = await _orch(http, emu, "GET", "/sessions")
    _, details = await _orch(http, emu, "GET", f"/sessions/{created['id']}")
    _, extended = await _orch(
        http, emu, "POST", f"/sessions/{created['id']}/extend", {"duration": "30m"}
    )
    _, status = await _orch(http, emu, "GET", "/status")
    _, health = await _orch(http, emu, "GET", "/health")
    stamps = [
        *(created[k] for k in ("created_at", "started_at", "last_accessed_at", "expires_at")),
        *(listing["sessions"][0][k] for k in ("created_at", "expires_at", "last_accessed_at")),
        *(details[k] for k in ("created_at", "started_at", "last_accessed_at", "expires_at")),
        extended["expires_at"],
        status["timestamp"],
        health["timestamp"],
    ]
    assert all(WHOLE_SECONDS.fullmatch(s) for s in stamps), stamps
    assert created["created_at"] == "2024-06-15T10:30:00Z"
    assert extended["expires_at"] == "2024-06-15T13:00:00Z"  # 2 h default + 30 m


@pytest.mark.parametrize(
    ("query", "limit", "offset"),
    [
        ("limit=0", 1, 0),
        ("limit=500", 100, 0),
        ("limit=many", 25, 0),
        ("offset=-4", 25, 0),
        ("offset=x&limit=2", 2, 0),
        ("limit=2&offset=1", 2, 1),
        ("offset=99999999999999999999999", 25, 1_000_000_000),
    ],
)
async def test_orchestrator_listing_is_lenient_about_paging(
    emu: Emulator, http: aiohttp.ClientSession, query: str, limit: int, offset: int
) -> None:
    for name in ("a", "b", "c"):
        await _orch(http, emu, "POST", "/sessions", {"session_name": name})
    status, page = await _orch(http, emu, "GET", f"/sessions?{query}")
    assert status == 200
    assert page["pagination"] == {"limit": limit, "offset": offset}
    assert page["total"] == 3
    assert len(page["sessions"]) == max(0, min(limit, 3 - offset))


async def test_history_accepts_the_pages_date_examples(api: Api) -> None:
    await api.ok("/request/create", {"url": "https://a.test/"})
    body = {
        "status": "processing",
        "startDate": "2024-06-01T00:00:00.000Z",
        "endDate": "2024-06-30T23:59:59.999Z",
        "limit": 50,
    }
    payload = await api.ok("/account/history", body)
    assert payload["pagination"]["total"] == 1
