"""SIGINT/SIGTERM handlers that close the pool before the process goes.

On by default in the main thread, for each of the two signals the process does not ignore
(a job started in the background with ``&`` ignores SIGINT, and keeps doing so). The first
signal starts a graceful close; a second one stops waiting for held leases. A handler the
application (or another pool, or a framework) installed before is chained: a loop handler is
called at once, and a plain Python handler (the default, which ends the process) gets the
signal again once every pool that caught it has closed, so the program exits as it would
have without the pool.
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

# Pools of this process closing because of a signal: the signal is handed on to the
# process's own handler only when all of them are closed.
_closing: set[SignalHandlers] = set()
_owed: dict[int, Any] = {}


def _loop_handler(loop: asyncio.AbstractEventLoop, signum: int) -> asyncio.Handle | None:
    # asyncio offers no public way to read a loop's signal handler; chaining needs it.
    handlers = getattr(loop, "_signal_handlers", None)
    handle = handlers.get(signum) if isinstance(handlers, dict) else None
    return handle if isinstance(handle, asyncio.Handle) else None


def _callback_of(handle: asyncio.Handle) -> tuple[Callable[..., Any], tuple[Any, ...]] | None:
    callback = getattr(handle, "_callback", None)
    args = getattr(handle, "_args", ())
    return (callback, tuple(args)) if callable(callback) else None


def _redeliver_when_all_closed() -> None:
    if _closing:
        return
    owed = dict(_owed)
    _owed.clear()
    for signum, handler in owed.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        if handler not in (signal.SIG_IGN, None):
            signal.raise_signal(signum)


class SignalHandlers:
    """One pool's handlers. The pool calls :meth:`pool_closed` as the last step of its close,
    before anyone awaiting the close resumes: the process's own handler (asyncio's, which
    cancels the main task) then runs while the program still waits for the close, never
    after the program has moved on."""

    def __init__(self, on_signal: Callable[[int, bool], object]) -> None:
        self._on_signal = on_signal
        self._previous: dict[int, tuple[asyncio.Handle | None, Any]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._received: int | None = None

    @property
    def installed(self) -> bool:
        return bool(self._previous)

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            logger.warning("signal handlers need the main thread; the pool runs without them")
            return
        loop = asyncio.get_running_loop()
        for signum in SIGNALS:
            previous = (_loop_handler(loop, signum), signal.getsignal(signum))
            if previous == (None, signal.SIG_IGN):
                continue  # the process ignores it (a background job, nohup): so does the pool
            try:
                loop.add_signal_handler(signum, self._handle, signum)
            except (NotImplementedError, RuntimeError, ValueError) as error:
                logger.warning("cannot handle %s: %s", signal.Signals(signum).name, error)
                continue
            self._previous[signum] = previous
        self._loop = loop

    def _handle(self, signum: int) -> None:
        first = self._received is None
        name = signal.Signals(signum).name
        if first:
            self._received = signum
            logger.warning("%s received: closing the session pool", name)
        else:
            logger.warning("%s again: closing now without waiting for held leases", name)
        if first:
            _closing.add(self)
        self._on_signal(signum, first)
        loop_handler, python_handler = self._previous.get(signum, (None, None))
        chained = _callback_of(loop_handler) if loop_handler is not None else None
        if chained is not None and self._loop is not None:
            callback, args = chained
            self._loop.call_soon(callback, *args)  # the application's handler runs too
        elif first:
            _owed.setdefault(signum, python_handler)

    def pool_closed(self) -> None:
        """The pool is closed: put the handlers back and, once every pool that caught the
        signal is closed, hand the signal on."""
        self.restore()
        if self in _closing:
            _closing.discard(self)
            _redeliver_when_all_closed()

    def restore(self) -> None:
        """Put back what was there, unless someone installed another handler over ours."""
        loop, self._loop = self._loop, None
        previous, self._previous = self._previous, {}
        if loop is None or loop.is_closed():
            return
        for signum, (loop_handler, python_handler) in previous.items():
            current = _loop_handler(loop, signum)
            mine = current is not None and getattr(current, "_callback", None) == self._handle
            if not mine:
                continue
            chained = _callback_of(loop_handler) if loop_handler is not None else None
            if chained is not None:
                callback, args = chained
                loop.add_signal_handler(signum, callback, *args)
            else:
                loop.remove_signal_handler(signum)
                if signum not in _owed:
                    signal.signal(
                        signum, python_handler if python_handler is not None else signal.SIG_DFL
                    )
