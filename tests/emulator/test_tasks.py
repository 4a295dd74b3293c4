"""/request/create, /request/result, /request/execute and /request/sync."""

from __future__ import annotations

import pytest

from bbre_async.emulator import Emulator, ManualClock
from tests.emulator._helpers import Api, make_settings


async def test_create_then_result_goes_processing_to_completed(
    api: Api, clock: ManualClock
) -> None:
    created = await api.ok("/request/create", {"url": "https://a.test/x", "cookies": {"k": "v"}})
    task_id = created["taskId"]
    assert isinstance(task_id, str) and task_id
    first = await api.ok("/request/result", {"taskId": task_id})
    assert (first["taskId"], first["status"], first["result"]) == (task_id, "processing", None)
    clock.advance(1.999)
    assert (await api.ok("/request/result", {"taskId": task_id}))["status"] == "processing"
    clock.advance(0.001)
    done = await api.ok("/request/result", {"taskId": task_id})
    assert done["status"] == "completed"
    result = done["result"]
    assert result["statusCode"] == 200 and "https://a.test/x" in result["body"]
    assert result["cookies"]["k"] == "v" and len(result["cookies"]) == 2
    assert set(result["profile"]) >= {"userAgent", "platform", "screen"}
    assert (await api.ok("/request/result", {"taskId": task_id})) == done  # cached


@pytest.mark.parametrize("settings", [make_settings(time_scale=100.0)])
async def test_processing_time_is_scaled(api: Api, clock: ManualClock) -> None:
    task_id = (await api.ok("/request/create", {"url": "https://a.test/"}))["taskId"]
    clock.advance(0.02)  # 2 emulated seconds
    assert (await api.ok("/request/result", {"taskId": task_id}))["status"] == "completed"


async def test_failed_outcome(api: Api, emu: Emulator, clock: ManualClock) -> None:
    emu.script("re:^https://flaky\\.test/", outcome="failed")
    task_id = (await api.ok("/request/create", {"url": "https://flaky.test/p"}))["taskId"]
    clock.advance(5)
    answer = await api.ok("/request/result", {"taskId": task_id})
    assert answer["status"] == "failed" and answer["result"] is None
    assert answer["error"]["code"] == "TASK_FAILED"


async def test_processing_longer_than_timeout_times_out(
    api: Api, emu: Emulator, clock: ManualClock
) -> None:
    emu.script("https://slow.test/*", delay=20)
    task_id = (await api.ok("/request/create", {"url": "https://slow.test/", "timeout": 5}))[
        "taskId"
    ]
    clock.advance(4.9)
    assert (await api.ok("/request/result", {"taskId": task_id}))["status"] == "processing"
    clock.advance(0.1)
    answer = await api.ok("/request/result", {"taskId": task_id})
    assert answer["status"] == "timeout" and answer["error"]["code"] == "TASK_TIMEOUT"


async def test_result_errors(api: Api) -> None:
    await api.err("/request/result", {}, 400, "TASK_ID_REQUIRED")
    await api.err("/request/result", {"taskId": "nope"}, 404, "TASK_NOT_FOUND")
    task_id = (await api.ok("/request/create", {"url": "https://a.test/"}))["taskId"]
    await api.as_key("other-key").err("/request/result", {"taskId": task_id}, 404, "TASK_NOT_FOUND")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": "https://a.test/", "mode": "fast"},
        {"url": "https://a.test/", "sensibility": 3},
        {"url": "https://a.test/", "timeout": "30"},
    ],
)
async def test_bad_create_bodies(api: Api, body: dict[str, object]) -> None:
    await api.err("/request/create", body, 400, "INVALID_REQUEST")


@pytest.mark.parametrize("settings", [make_settings(time_scale=1000.0)])
@pytest.mark.parametrize("path", ["/request/execute", "/request/sync"])
async def test_execute_blocks_and_answers_the_completed_task(api: Api, path: str) -> None:
    payload = await api.ok(path, {"url": "https://a.test/e", "mode": "adaptive"})
    task = payload["data"]["task"]
    assert task["status"] == "completed"
    assert task["result"]["statusCode"] == 200
    history = (await api.ok("/account/history"))["tasks"]
    assert [(t["id"], t["type"], t["status"], t["mode"]) for t in history] == [
        (task["id"], "BBRE_REQUEST", "completed", "adaptive")
    ]
    assert (await api.ok("/request/result", {"taskId": task["id"]}))["status"] == "completed"


@pytest.mark.parametrize("settings", [make_settings(time_scale=1000.0)])
async def test_execute_reports_failures_in_the_task(api: Api, emu: Emulator) -> None:
    emu.script("https://fail.test/*", outcome="failed")
    emu.script("https://slow.test/*", outcome="timeout")
    failed = (await api.ok("/request/execute", {"url": "https://fail.test/"}))["data"]["task"]
    assert failed["status"] == "failed" and failed["result"] is None
    slow = await api.ok("/request/execute", {"url": "https://slow.test/", "timeout": 10})
    assert slow["data"]["task"]["status"] == "timeout"
    assert (await api.ok("/account/balance"))["balance"] == 100.0  # both refunded


@pytest.mark.parametrize("settings", [make_settings(time_scale=1000.0, execute_limit=60.0)])
async def test_execute_gives_up_at_its_limit(api: Api, emu: Emulator) -> None:
    emu.script("https://slow.test/*", delay=100)
    task = await api.ok("/request/execute", {"url": "https://slow.test/", "timeout": 300})
    assert task["data"]["task"]["status"] == "timeout"
