"""``/request/*``: stateless requests, each in a fresh browser context.

A task's outcome and result are decided when it is created (scripts are consumed then) and
revealed once its processing time has passed on the clock: ``/request/result`` answers
``processing`` until then. Processing takes ``task_processing`` emulated seconds (plus a rule's
``delay``), scaled by ``time_scale``; longer than the call's ``timeout`` means ``timeout``.
Failed and timed-out tasks are refunded.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bbre_async.emulator._billing import charge
from bbre_async.emulator._engine import Engine, browser_profile
from bbre_async.emulator._envelope import ApiError
from bbre_async.emulator._settings import MODES, SENSIBILITIES
from bbre_async.emulator._state import Account, TaskRecord
from bbre_async.emulator._validate import choice, optional_object, proxy, target_call


def _start(engine: Engine, account: Account, body: dict[str, Any]) -> TaskRecord:
    call = target_call(body)
    mode = choice(body, "mode", MODES, "passive")
    choice(body, "sensibility", SENSIBILITIES, "medium")
    optional_object(body, "fingerprint")
    proxy(body)
    settings = engine.settings
    timeout = call.timeout or settings.request_timeout_default

    price = engine.price_task[mode]
    charge(account, price)
    now = engine.now_ms()
    task = TaskRecord(
        id=engine.new_task_id(),
        type="BBRE_REQUEST",
        mode=mode,
        url=call.url,
        method=call.method,
        created_ms=now,
        price_micros=price,
    )
    jar = dict(call.cookies or {})
    fetched = engine.targets.fetch(call.method, call.url, jar, allow_redirects=call.allow_redirects)
    processing = settings.task_processing + fetched.delay
    outcome = fetched.outcome
    if outcome == "timeout" or processing > timeout:
        outcome, processing = "timeout", timeout
    task.outcome = outcome
    task.due_ms = now + engine.scaled_ms(processing)
    if outcome == "completed":
        task.result = {
            "statusCode": fetched.status,
            "headers": fetched.headers,
            "body": fetched.body,
            "cookies": jar,
            "profile": browser_profile(task.id),
        }
    engine.record_task(account, task)
    account.tasks[task.id] = task
    account.pending[task.id] = task
    return task


def _task_json(task: TaskRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"id": task.id, "status": task.status, "result": None}
    if task.status == "completed":
        out["result"] = task.result
    elif task.status in ("failed", "timeout"):
        message = (
            "The task exceeded its timeout."
            if task.status == "timeout"
            else "The request to the target failed."
        )
        out["error"] = {"code": f"TASK_{task.status.upper()}", "message": message}
    return out


async def create(engine: Engine, account: Account, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /request/create``: charged now, answered with the new ``taskId``."""
    task = _start(engine, account, body)
    await engine.pause("request/create", task.mode)
    return {"taskId": task.id, "status": "processing"}


def result(engine: Engine, account: Account, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /request/result``: ``status`` and ``result`` at the top level (plus ``error``)."""
    task_id = body.get("taskId")
    if not task_id:
        raise ApiError(400, "TASK_ID_REQUIRED")
    task = account.tasks.get(task_id) if isinstance(task_id, str) else None
    if task is None:
        raise ApiError(404, "TASK_NOT_FOUND")
    if task.status == "processing" and task.due_ms <= engine.now_ms():
        engine.finish_task(account, task, task.outcome, task.due_ms)
    out = _task_json(task)
    out["taskId"] = out.pop("id")
    return out


async def execute(engine: Engine, account: Account, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /request/execute`` (and ``/request/sync``): one blocking call.

    Waits the task's processing time (capped by ``execute_limit``, beyond which it times out) in
    real seconds after scaling, then answers ``{"data": {"task": {...}}}`` with HTTP 200 whatever
    the outcome, as the session request does.
    """
    task = _start(engine, account, body)
    settings = engine.settings
    limit_ms = engine.scaled_ms(settings.execute_limit)
    duration_ms = task.due_ms - task.created_ms
    if duration_ms > limit_ms:
        task.outcome, duration_ms = "timeout", limit_ms
        task.due_ms = task.created_ms + limit_ms
        task.result = None
    try:
        await engine.pause("request/execute", task.mode, duration_ms / 1000)
    except asyncio.CancelledError:
        if task.status == "processing":
            engine.finish_task(account, task, "failed", engine.now_ms())
        raise
    if task.status == "processing":
        engine.finish_task(account, task, task.outcome, max(engine.now_ms(), task.created_ms))
    return {"data": {"task": _task_json(task)}}
