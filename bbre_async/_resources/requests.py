"""``client.requests``: stateless requests, each in a fresh browser context."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Unpack

from bbre_async._caller import APICaller
from bbre_async._errors import APITimeoutError, InvalidResponseError, TaskFailedError
from bbre_async._fields import nested
from bbre_async._models import TaskResult, TaskStatus
from bbre_async._request_body import MODES, SENSIBILITIES, check_choice, fetch_request
from bbre_async._response import Response
from bbre_async._retry import Replay
from bbre_async._timeout import (
    CREATE_TIMEOUT,
    EXECUTE_TIMEOUT,
    READ_TIMEOUT,
    SERVER_EXECUTE_LIMIT,
    Timeout,
    TimeoutLike,
    fetch_timeout_for,
)
from bbre_async._types import TaskOptions

#: How long ``run``/``wait`` wait for a task to end unless told otherwise.
DEFAULT_WAIT = 180.0


class RequestsResource:
    """Calls on ``/request/*``. ``run`` is create + poll; ``execute`` is one blocking call."""

    def __init__(self, caller: APICaller, *, sleep: Callable[[float], Awaitable[None]]) -> None:
        self._caller = caller
        self._sleep = sleep

    @staticmethod
    def _body(url: str, options: TaskOptions) -> dict[str, Any]:
        mode = options.get("mode", "passive")
        sensibility = options.get("sensibility", "medium")
        check_choice("mode", mode, MODES)
        check_choice("sensibility", sensibility, SENSIBILITIES)
        body = fetch_request(options.get("method", "GET"), url, options)
        body["mode"] = mode
        body["sensibility"] = sensibility
        fingerprint = options.get("fingerprint")
        if fingerprint:
            body["fingerprint"] = dict(fingerprint)
        proxy = options.get("proxy")
        if proxy:
            body["proxy"] = proxy if isinstance(proxy, str) else dict(proxy)
        return body

    async def execute(
        self, url: str, *, timeout: TimeoutLike | None = None, **options: Unpack[TaskOptions]
    ) -> Response:
        """Run one request and wait for its result in a single call (the server holds it up
        to 120 s, so the default ``timeout`` is 180 s; never replayed once sent)."""
        body = self._body(url, options)
        default = fetch_timeout_for(
            EXECUTE_TIMEOUT, options.get("fetch_timeout"), SERVER_EXECUTE_LIMIT
        )
        answer = await self._caller.call(
            "POST",
            "/request/execute",
            json=body,
            replay=Replay.UNSAFE,
            timeout=timeout,
            default_timeout=default,
        )
        payload = answer.json()
        result = TaskResult.from_json(payload, task_id=_task_id_or_empty(payload))
        response = _completed(result)
        response.api_response = answer
        if not response.url:
            response.url = body["url"]
        return response

    async def create(
        self, url: str, *, timeout: TimeoutLike | None = None, **options: Unpack[TaskOptions]
    ) -> str:
        """Queue a request (charged) and return its task id."""
        body = self._body(url, options)
        answer = await self._caller.call(
            "POST",
            "/request/create",
            json=body,
            replay=Replay.UNSAFE,
            timeout=timeout,
            default_timeout=CREATE_TIMEOUT,
        )
        task_id = _task_id_or_empty(answer.json())
        if not task_id:
            raise InvalidResponseError("the answer to /request/create carries no task id")
        return task_id

    async def result(self, task_id: str, *, timeout: TimeoutLike | None = None) -> TaskResult:
        """The task's current status, and its response once completed."""
        answer = await self._caller.call(
            "POST", "/request/result", json={"taskId": task_id}, timeout=timeout
        )
        return TaskResult.from_json(answer.json(), task_id=task_id)

    async def run(
        self,
        url: str,
        *,
        poll_interval: float = 2.0,
        max_poll_interval: float = 10.0,
        timeout: float = DEFAULT_WAIT,
        **options: Unpack[TaskOptions],
    ) -> Response:
        """Create a task and poll it (with growing intervals) until it ends; ``timeout``
        bounds the whole run, the create and every poll included."""
        budget = _Budget(timeout)
        task_id = await self.create(url, timeout=budget.call_timeout(CREATE_TIMEOUT), **options)
        return await self._poll(task_id, poll_interval, max_poll_interval, budget)

    async def wait(
        self,
        task_id: str,
        *,
        poll_interval: float = 2.0,
        max_poll_interval: float = 10.0,
        timeout: float = DEFAULT_WAIT,
    ) -> Response:
        """Poll ``task_id`` until it is terminal; ``APITimeoutError`` after ``timeout``."""
        return await self._poll(task_id, poll_interval, max_poll_interval, _Budget(timeout))

    async def _poll(
        self, task_id: str, poll_interval: float, max_poll_interval: float, budget: _Budget
    ) -> Response:
        if not poll_interval > 0 or not max_poll_interval > 0:
            raise ValueError("poll_interval and max_poll_interval must be > 0")
        interval = poll_interval
        while True:
            result = await self.result(task_id, timeout=budget.call_timeout(READ_TIMEOUT))
            if result.status.is_terminal:
                return _completed(result)
            if budget.left() <= interval:
                raise APITimeoutError(
                    f"task {task_id} still processing: gave up after "
                    f"{budget.waited():.1f}s (timeout {budget.total:g}s)",
                    code="TIMEOUT",
                    details={"task_id": task_id, "waited": round(budget.waited(), 3)},
                )
            await self._sleep(interval)
            budget.slept += interval
            interval = min(max_poll_interval, interval * 1.5)


class _Budget:
    """One time budget for a run of calls and waits. Time counts as spent when the loop's
    clock says so or when the (possibly injected) sleep says so, whichever is more, so the
    budget is honoured under a real clock and under a test's instant sleep alike."""

    def __init__(self, total: float) -> None:
        Timeout.of(total)  # validates
        self.total = float(total)
        self.slept = 0.0
        self._loop = asyncio.get_running_loop()
        self._started = self._loop.time()

    def waited(self) -> float:
        return max(self._loop.time() - self._started, self.slept)

    def left(self) -> float:
        return self.total - self.waited()

    def call_timeout(self, default: Timeout) -> Timeout:
        left = self.left()
        if left <= 0:
            raise APITimeoutError(
                f"gave up after {self.waited():.1f}s (timeout {self.total:g}s)", code="TIMEOUT"
            )
        if left >= default.total:
            return default
        return Timeout(connect=min(default.connect, left), read=min(default.read, left), total=left)


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
