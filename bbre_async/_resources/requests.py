"""``client.requests``: stateless requests, each in a fresh browser context."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bbre_async._errors import APITimeoutError, InvalidResponseError, TaskFailedError
from bbre_async._fields import nested
from bbre_async._models import Response, TaskResult, TaskStatus
from bbre_async._request_body import MODES, SENSIBILITIES, check_choice, target_request
from bbre_async._retry import Replay
from bbre_async._transport import Timeouts, Transport

# The server holds /request/execute open for up to 120 s by default.
SERVER_EXECUTE_LIMIT = 120.0


class RequestsResource:
    """Calls on ``/request/*``. ``run`` is create + poll; ``execute`` is one blocking call."""

    def __init__(self, transport: Transport, *, sleep: Callable[[float], Awaitable[None]]) -> None:
        self._transport = transport
        self._sleep = sleep

    def _body(
        self,
        url: str,
        method: str,
        mode: str,
        sensibility: str,
        fingerprint: Mapping[str, Any] | None,
        proxy: str | Mapping[str, Any] | None,
        options: dict[str, Any],
    ) -> dict[str, Any]:
        check_choice("mode", mode, MODES)
        check_choice("sensibility", sensibility, SENSIBILITIES)
        body = target_request(method, url, **options)
        body["mode"] = mode
        body["sensibility"] = sensibility
        if fingerprint:
            body["fingerprint"] = dict(fingerprint)
        if proxy:
            body["proxy"] = proxy if isinstance(proxy, str) else dict(proxy)
        return body

    async def execute(
        self,
        url: str,
        *,
        method: str = "GET",
        mode: str = "passive",
        sensibility: str = "medium",
        fingerprint: Mapping[str, Any] | None = None,
        proxy: str | Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Response:
        """Run one request and wait for its result in a single call (can block ~2 minutes)."""
        body = self._body(url, method, mode, sensibility, fingerprint, proxy, options)
        server_limit = float(options.get("timeout") or SERVER_EXECUTE_LIMIT)
        base = self._transport.timeouts
        timeouts = Timeouts(
            connect=base.connect,
            read=max(base.read, server_limit + 30.0),
            total=max(base.total, server_limit + 60.0),
        )
        payload = await self._transport.call(
            "POST", "/request/execute", json=body, replay=Replay.UNSAFE, timeouts=timeouts
        )
        result = TaskResult.from_json(payload, task_id=_task_id_or_empty(payload))
        return _completed(result)

    async def create(
        self,
        url: str,
        *,
        method: str = "GET",
        mode: str = "passive",
        sensibility: str = "medium",
        fingerprint: Mapping[str, Any] | None = None,
        proxy: str | Mapping[str, Any] | None = None,
        **options: Any,
    ) -> str:
        """Queue a request (charged) and return its task id."""
        body = self._body(url, method, mode, sensibility, fingerprint, proxy, options)
        payload = await self._transport.call(
            "POST", "/request/create", json=body, replay=Replay.UNSAFE
        )
        task_id = _task_id_or_empty(payload)
        if not task_id:
            raise InvalidResponseError("the answer to /request/create carries no task id")
        return task_id

    async def result(self, task_id: str) -> TaskResult:
        """The task's current status, and its response once completed."""
        payload = await self._transport.call("POST", "/request/result", json={"taskId": task_id})
        return TaskResult.from_json(payload, task_id=task_id)

    async def run(
        self,
        url: str,
        *,
        poll_interval: float = 2.0,
        max_poll_interval: float = 10.0,
        wait_timeout: float = 180.0,
        **create_options: Any,
    ) -> Response:
        """Create a task and poll it (with growing intervals) until it ends or time runs out."""
        task_id = await self.create(url, **create_options)
        return await self.wait(
            task_id,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            wait_timeout=wait_timeout,
        )

    async def wait(
        self,
        task_id: str,
        *,
        poll_interval: float = 2.0,
        max_poll_interval: float = 10.0,
        wait_timeout: float = 180.0,
    ) -> Response:
        """Poll ``task_id`` until it is terminal; ``APITimeoutError`` after ``wait_timeout``."""
        give_up_at = time.monotonic() + wait_timeout
        interval = poll_interval
        while True:
            result = await self.result(task_id)
            if result.status.is_terminal:
                return _completed(result)
            if time.monotonic() + interval > give_up_at:
                raise APITimeoutError(
                    f"task {task_id} still processing after {wait_timeout:.0f}s",
                    details={"task_id": task_id},
                )
            await self._sleep(interval)
            interval = min(max_poll_interval, interval * 1.5)


def _task_id_or_empty(payload: Mapping[str, Any]) -> str:
    for key in ("taskId", "task_id"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    task = nested(payload, ("data", "task"), ("task",), ("data",))
    if task is not None:
        for key in ("id", "taskId"):
            value = task.get(key)
            if isinstance(value, str) and value:
                return value
    return ""


def _completed(result: TaskResult) -> Response:
    if result.status is TaskStatus.COMPLETED and result.response is not None:
        return result.response
    raise TaskFailedError(
        f"task {result.task_id} ended {result.status.value}"
        + (f": {result.error}" if result.error else ""),
        code=f"TASK_{result.status.value.upper()}",
        details={"task_id": result.task_id, "status": result.status.value},
    )
