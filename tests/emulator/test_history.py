"""/account/history: rows, order, filters on status and createdAt, paging."""

from __future__ import annotations

import pytest

from bbre_async.emulator import Emulator, ManualClock
from tests.emulator._helpers import Api, make_settings


async def test_session_requests_become_history_rows(api: Api, clock: ManualClock) -> None:
    session = await api.create(mode="adaptive")
    task = await api.fetch(session["id"], "https://example.com/login", method="post")
    payload = await api.ok("/account/history")
    [row] = payload["tasks"]
    assert row == {
        "id": task["id"],
        "type": "BBRE_SESSION_REQUEST",
        "mode": "adaptive",
        "status": "completed",
        "url": "https://example.com/login",
        "method": "POST",
        "priceCharged": 0.012,
        "processingTime": 0,
        "createdAt": "2024-06-15T10:30:00.000Z",
        "completedAt": "2024-06-15T10:30:00.000Z",
    }
    assert payload["pagination"] == {"total": 1, "limit": 50, "offset": 0}


async def test_newest_first_default_limit_50_and_paging(api: Api, clock: ManualClock) -> None:
    session = await api.create(timeout=300)
    ids = []
    for i in range(55):
        ids.append((await api.fetch(session["id"], f"https://a.test/{i}"))["id"])
        clock.advance(0.1)
    first = await api.ok("/account/history")
    assert [t["id"] for t in first["tasks"]] == ids[::-1][:50]
    assert first["pagination"] == {"total": 55, "limit": 50, "offset": 0}
    rest = await api.ok("/account/history", {"limit": 50, "offset": 50})
    assert [t["id"] for t in rest["tasks"]] == ids[::-1][50:]


async def test_status_and_date_filters(api: Api, clock: ManualClock) -> None:
    ok_task = (await api.ok("/request/create", {"url": "https://a.test/ok"}))["taskId"]
    clock.advance(3600)  # 11:30
    await api.ok("/request/create", {"url": "https://b.test/later"})
    clock.advance(3600)  # 12:30: both tasks are due
    all_rows = (await api.ok("/account/history"))["tasks"]
    assert {t["status"] for t in all_rows} == {"completed"}
    window = await api.ok(
        "/account/history",
        {"startDate": "2024-06-15T10:00:00.000Z", "endDate": "2024-06-15T11:00:00Z"},
    )
    assert [t["id"] for t in window["tasks"]] == [ok_task]
    since = await api.ok("/account/history", {"startDate": "2024-06-15T11:00:00+00:00"})
    assert len(since["tasks"]) == 1 and since["tasks"][0]["id"] != ok_task
    exact = await api.ok("/account/history", {"endDate": "2024-06-15T10:30:00.000Z"})
    assert [t["id"] for t in exact["tasks"]] == [ok_task]  # inclusive bounds
    assert (await api.ok("/account/history", {"status": "failed"}))["tasks"] == []
    assert (await api.ok("/account/history", {"status": "bogus"}))["pagination"]["total"] == 0


async def test_failed_and_timed_out_tasks_are_filtered_and_refunded(
    api: Api, emu: Emulator, clock: ManualClock
) -> None:
    emu.script("https://fail.test/*", outcome="failed")
    emu.script("https://slow.test/*", outcome="timeout")
    await api.ok("/request/create", {"url": "https://fail.test/x"})
    await api.ok("/request/create", {"url": "https://slow.test/x", "timeout": 10})
    processing = await api.ok("/account/history", {"status": "processing"})
    assert processing["pagination"]["total"] == 2
    clock.advance(30)
    failed = (await api.ok("/account/history", {"status": "failed"}))["tasks"]
    timed_out = (await api.ok("/account/history", {"status": "timeout"}))["tasks"]
    assert [t["url"] for t in failed] == ["https://fail.test/x"]
    assert [t["url"] for t in timed_out] == ["https://slow.test/x"]
    assert failed[0]["priceCharged"] == 0.0 and timed_out[0]["priceCharged"] == 0.0
    assert timed_out[0]["processingTime"] == 10_000
    assert failed[0]["processingTime"] == 2_000


@pytest.mark.parametrize(
    ("body", "limit", "offset"),
    [
        ({"startDate": "yesterday"}, 50, 0),
        ({"endDate": []}, 50, 0),
        ({"startDate": True, "endDate": {}}, 50, 0),
        ({"limit": -1}, 1, 0),
        ({"limit": "x", "offset": None}, 50, 0),
        ({"offset": "1"}, 50, 1),
        ({"offset": -3, "limit": 2.9}, 2, 0),
    ],
)
async def test_invalid_history_values_are_ignored_or_clamped(
    api: Api, body: dict[str, object], limit: int, offset: int
) -> None:
    """The page says the endpoint handles invalid values gracefully: no 400, no filter."""
    for n in range(2):
        await api.ok("/request/create", {"url": f"https://a.test/{n}"})
    payload = await api.ok("/account/history", body)
    assert payload["pagination"] == {"total": 2, "limit": limit, "offset": offset}
    assert len(payload["tasks"]) == min(limit, 2 - offset)


@pytest.mark.parametrize("settings", [make_settings(history_limit=5)])
async def test_history_is_bounded(api: Api) -> None:
    session = await api.create()
    for i in range(12):
        await api.fetch(session["id"], f"https://a.test/{i}")
    total = (await api.ok("/account/history"))["pagination"]["total"]
    assert 5 <= total <= 10
