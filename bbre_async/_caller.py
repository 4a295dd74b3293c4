"""One API call: build the request, send it through the transport within one time budget,
retry what is safe to retry, and decode the envelope into a payload or a typed error.

The budget is ``Timeout.total`` from the first byte to the last retry; each attempt is also
bounded by ``read``. Each attempt's deadline is enforced on this side whatever the transport
does (``Deadlines``: one loop timer for all of a client's attempts), and a timeout's message
states the time really waited.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from multidict import CIMultiDict, CIMultiDictProxy

from bbre_async import _json
from bbre_async._api_response import APIResponse, remember
from bbre_async._deadlines import Deadlines
from bbre_async._envelope import decode
from bbre_async._errors import APIConnectionError, APITimeoutError, BBREError
from bbre_async._retry import Replay, RetryPolicy, is_retryable
from bbre_async._secrets import Redactor
from bbre_async._stats import CallCounters
from bbre_async._timeout import READ_TIMEOUT, Timeout, TimeoutLike
from bbre_async._transport import AsyncTransport, TransportRequest
from bbre_async._version import __version__

logger = logging.getLogger("bbre_async.transport")

Sleep = Callable[[float], Awaitable[None]]
DEFAULT_MAX_RESPONSE_SIZE = 32 * 1024 * 1024


class APICaller:
    """Sends API calls for one client (and its ``with_options`` copies, which share the
    transport and the counters)."""

    def __init__(
        self,
        *,
        transport: AsyncTransport,
        base_url: str,
        auth_headers: Mapping[str, str],
        redact: Redactor,
        retry: RetryPolicy,
        timeout: Timeout | None,
        max_response_size: int | None,
        sleep: Sleep,
        counters: CallCounters | None = None,
        rng: random.Random | None = None,
        deadlines: Deadlines | None = None,
    ) -> None:
        self.transport = transport
        self.base_url = base_url.rstrip("/")
        self.redact = redact
        self.retry = retry
        self.timeout = timeout
        self.max_response_size = max_response_size
        self.counters = counters or CallCounters()
        self.deadlines = deadlines or Deadlines()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._auth_headers = dict(auth_headers)
        base = {**auth_headers, "Accept": "application/json", "User-Agent": _USER_AGENT}
        # Built once: the transport gets the same immutable headers on every call.
        self._plain_headers = CIMultiDictProxy(CIMultiDict(base))
        self._json_headers = CIMultiDictProxy(
            CIMultiDict({**base, "Content-Type": "application/json"})
        )
        self._call_prefix = f"call_{uuid.uuid4().hex[:12]}_"
        self._call_ids = itertools.count(1)

    def with_options(
        self, *, timeout: Timeout | None, retry: RetryPolicy, max_response_size: int | None
    ) -> APICaller:
        """A caller with other defaults over the same transport and counters."""
        return APICaller(
            transport=self.transport,
            base_url=self.base_url,
            auth_headers=self._auth_headers,
            redact=self.redact,
            retry=retry,
            timeout=timeout,
            max_response_size=max_response_size,
            sleep=self._sleep,
            counters=self.counters,
            rng=self._rng,
            deadlines=self.deadlines,
        )

    def effective_timeout(self, timeout: TimeoutLike | None, default: Timeout) -> Timeout:
        """Per call beats per client (``with_options`` or the constructor) beats the
        endpoint's own default."""
        if timeout is not None:
            return Timeout.of(timeout)
        return self.timeout if self.timeout is not None else default

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        replay: Replay = Replay.SAFE,
        timeout: TimeoutLike | None = None,
        default_timeout: Timeout = READ_TIMEOUT,
        max_retries: int | None = None,
        billed: bool = False,
    ) -> APIResponse:
        """Send one API call, retrying what ``replay`` allows, and return its answer.

        ``billed`` marks calls whose every try is charged, so their retries are counted apart.
        """
        limits = self.effective_timeout(timeout, default_timeout)
        url = self.base_url + path
        if params:
            url += "?" + urlencode(params)
        request = TransportRequest(
            method,
            url,
            headers=self._json_headers if json is not None else self._plain_headers,
            content=_json.dumps(json) if json is not None else None,
            timeout=limits,
            max_response_size=self.max_response_size,
        )
        counters = self.counters
        counters.calls += 1
        call_number = next(self._call_ids)
        loop = asyncio.get_running_loop()
        task = _current_task(loop)
        started = loop.time()
        give_up_at = started + limits.total
        read = limits.read
        transport = self.transport
        deadlines = self.deadlines
        attempts = 0
        while True:
            attempts += 1
            counters.attempts += 1
            attempt_started = loop.time()
            try:
                timer = deadlines.watch(loop, task, min(give_up_at, attempt_started + read))
                try:
                    response = await transport.handle_async_request(request)
                except (asyncio.CancelledError, TimeoutError) as exc:
                    if not timer.stop() and isinstance(exc, asyncio.CancelledError):
                        raise  # a cancellation from outside this call
                    waited = loop.time() - started
                    raise APITimeoutError(
                        f"{method} {path} got no answer: gave up after {waited:.1f}s "
                        f"({attempts} attempt{'s' if attempts > 1 else ''}; timeout "
                        f"total={limits.total:g}s read={read:g}s)",
                        code="TIMEOUT",
                        request_id=self.call_id(call_number),
                        details={"waited": round(waited, 3), "attempts": attempts},
                    ) from (exc if isinstance(exc, TimeoutError) else TimeoutError())
                except APIConnectionError as error:
                    if error.request_id is None:
                        error.request_id = self.call_id(call_number)
                    raise
                finally:
                    timer.stop()
                status = response.status_code
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug(
                        "%s %s -> %d in %.1f ms [%s]",
                        method,
                        path,
                        status,
                        (loop.time() - attempt_started) * 1000,
                        self.call_id(call_number),
                    )
                if 300 <= status < 400:
                    raise BBREError(
                        f"{method} {path} was redirected (HTTP {status}); redirects are not "
                        "followed so that the API key stays on the configured host",
                        status=status,
                        request_id=self.call_id(call_number),
                        headers=response.headers,
                    )
                payload = decode(
                    status, response.headers, response.content, self, call_number, self.redact
                )
            except BBREError as error:
                if replay is Replay.UNSAFE and _may_have_acted(error):
                    error.outcome_unknown = True
                limit = self.retry.max_retries if max_retries is None else max_retries
                wait = self._retry_wait(error, replay, attempts, limit, give_up_at, loop)
                if wait is None:
                    await asyncio.sleep(0)  # a failing call yields to the loop before it raises
                    raise
                logger.debug(
                    "retrying %s %s in %.2fs after %s (attempt %d)",
                    method,
                    path,
                    wait,
                    type(error).__name__,
                    attempts + 1,
                )
                counters.retries += 1
                if billed:
                    counters.billed_retries += 1
                await self._sleep(wait)
                continue
            answer = APIResponse(
                status_code=status,
                headers=response.headers,
                payload=payload,
                call_id=self,
                call_number=call_number,
                attempts=attempts,
                elapsed=loop.time() - started,
            )
            remember(answer)
            return answer

    def call_id(self, number: int) -> str:
        """This client's id for its ``number``-th call (made only when shown)."""
        return f"{self._call_prefix}{number:x}"

    def _retry_wait(
        self,
        error: BBREError,
        replay: Replay,
        attempts: int,
        retries_left: int,
        give_up_at: float,
        loop: asyncio.AbstractEventLoop,
    ) -> float | None:
        """The wait before the next try, or None when the error must be raised now."""
        if attempts > retries_left or not is_retryable(error, replay):
            return None
        wait = self.retry.delay_for(error, attempts - 1, self._rng)
        if error.retry_after is not None and wait > self.retry.max_retry_after:
            return None
        if loop.time() + wait >= give_up_at:
            return None
        return wait


_USER_AGENT = f"bbre-async/{__version__}"


def _current_task(loop: asyncio.AbstractEventLoop) -> asyncio.Task[object]:
    task = asyncio.current_task(loop)
    if task is None:
        raise RuntimeError("an API call must run inside an asyncio task")
    return task


def _may_have_acted(error: BBREError) -> bool:
    """After a request may have been sent, could the server have acted although we saw a
    failure?"""
    if isinstance(error, APIConnectionError):
        return error.request_sent
    status = error.status or 0
    # A JSON error with a 4xx status is a definite refusal; 5xx or a garbled answer is not.
    return status >= 500 or (error.code is None and status < 400)
