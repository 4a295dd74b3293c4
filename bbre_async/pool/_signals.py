"""SIGINT/SIGTERM handlers that close the pool before the process goes.

The first signal starts a graceful close and, once it is done, hands the same signal to
whatever handler was there before (so the program exits as it would have). A second signal
stops waiting for held leases. Only the main thread of a Unix event loop can install them;
elsewhere (Windows, a worker thread) the pool logs a warning and runs without.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("bbre_async.pool")

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalHandlers:
    def __init__(self, on_signal: Callable[[int, bool], None]) -> None:
        self._on_signal = on_signal
        self._previous: dict[int, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._received: int | None = None
        self.close_task: asyncio.Future[Any] | None = None

    @property
    def installed(self) -> bool:
        return bool(self._previous)

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            logger.warning("signal handlers need the main thread; the pool runs without them")
            return
        loop = asyncio.get_running_loop()
        for signum in SIGNALS:
            previous = signal.getsignal(signum)
            try:
                loop.add_signal_handler(signum, self._handle, signum)
            except (NotImplementedError, RuntimeError) as error:
                logger.warning(
                    "cannot install a handler for %s: %s", signal.Signals(signum).name, error
                )
                continue
            self._previous[signum] = previous
        self._loop = loop

    def _handle(self, signum: int) -> None:
        first = self._received is None
        if first:
            self._received = signum
            logger.warning("%s received: closing the session pool", signal.Signals(signum).name)
        else:
            logger.warning("second signal: closing now without waiting for held leases")
        self._on_signal(signum, first)
        if first and self.close_task is not None:
            self.close_task.add_done_callback(lambda _task: self._redeliver(signum))

    def _redeliver(self, signum: int) -> None:
        self.restore()
        handler = signal.getsignal(signum)
        if handler in (signal.SIG_IGN, None):
            return
        signal.raise_signal(signum)

    def restore(self) -> None:
        loop, self._loop = self._loop, None
        previous, self._previous = self._previous, {}
        for signum, handler in previous.items():
            if loop is not None and not loop.is_closed():
                loop.remove_signal_handler(signum)
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
