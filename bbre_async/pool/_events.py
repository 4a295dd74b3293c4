"""Pool events for metrics and logs: one small value per thing that happened."""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

import attrs

logger = logging.getLogger("bbre_async.pool")


class EventKind(enum.StrEnum):
    CREATED = "created"
    ACQUIRED = "acquired"
    RELEASED = "released"
    RENEWED = "renewed"
    EXTENDED = "extended"
    RETIRED = "retired"
    CLOSED = "closed"
    CLOSE_FAILED = "close_failed"  # every close attempt failed: the slot waits for the expiry
    ADOPTED = "adopted"
    ERROR = "error"
    CAPACITY = "capacity"
    THROTTLED = "throttled"  # creating stopped for a while; ``detail`` says why
    WARNING = "warning"  # something suspect the pool worked around (e.g. an odd expiry)


@attrs.frozen(kw_only=True)
class PoolEvent:
    kind: EventKind
    session_id: str | None = None
    detail: str = ""
    error: BaseException | None = None
    waited: float | None = None  # ACQUIRED: seconds the caller waited for the session


Listener = Callable[[PoolEvent], None]


class EventBus:
    """Calls listeners synchronously; a listener that raises is logged, never propagated."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        #: Whether anyone listens: the lease path skips building an event nobody reads (an
        #: attribute, not a property: it is read on every lease and release).
        self.listening = False

    def add(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        self.listening = True

        def remove() -> None:
            self._listeners.remove(listener)
            self.listening = bool(self._listeners)

        return remove

    def emit(
        self,
        kind: EventKind,
        session_id: str | None = None,
        detail: str = "",
        error: BaseException | None = None,
        waited: float | None = None,
    ) -> None:
        if not self._listeners:
            return
        event = PoolEvent(
            kind=kind, session_id=session_id, detail=detail, error=error, waited=waited
        )
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("pool event listener %r failed", listener)
