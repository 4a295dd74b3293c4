"""A ready ``rich`` progress display for ``pool.map``: pass it as ``progress=``.

    with RichMapProgress("crawl") as bar:
        async for outcome in pool.map(fetch, urls, progress=bar): ...

It shows done of total, the rate, failures and retries, and optionally a renderable of your
own under the bar (the demo shows the pool's table there). Imported only when used, so a
program that never shows progress never loads ``rich``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import TracebackType

try:
    from rich.console import Console, RenderableType
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TaskID,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text
except ImportError as error:  # pragma: no cover - rich comes with the cli extra
    raise ImportError(
        "RichMapProgress needs rich: pip install 'bbre-async[cli]' (or pip install rich)"
    ) from error

from bbre_async.pool._outcome import MapProgress


class _RateColumn(ProgressColumn):
    """Items per second, as rich estimates it from recent updates."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("   -- /s" if speed is None else f"{speed:7.1f}/s", style="progress.data.speed")


class _Display(Progress):
    """rich's ``Progress`` with an optional renderable of the caller's under the bar."""

    def __init__(
        self,
        *columns: str | ProgressColumn,
        extra: Callable[[], RenderableType] | None,
        console: Console | None,
        transient: bool,
    ) -> None:
        self._extra = extra
        super().__init__(*columns, console=console, transient=transient)

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        if self._extra is not None:
            yield self._extra()


class RichMapProgress:
    """A progress bar for ``pool.map`` (a ``ProgressHook``); a context manager shows it.

    ``total`` defaults to the map's (known when the input has a length). ``extra`` is
    called on every refresh for a renderable shown under the bar. ``console`` defaults to
    rich's (stdout); ``transient`` removes the display when it stops.
    """

    def __init__(
        self,
        description: str = "map",
        *,
        total: int | None = None,
        console: Console | None = None,
        transient: bool = False,
        extra: Callable[[], RenderableType] | None = None,
    ) -> None:
        self.display = _Display(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TextColumn("failed {task.fields[failed]}  retried {task.fields[retried]}"),
            TimeRemainingColumn(),
            extra=extra,
            console=console,
            transient=transient,
        )
        self._task: TaskID = self.display.add_task(description, total=total, failed=0, retried=0)

    def __call__(self, progress: MapProgress) -> None:
        self.display.update(
            self._task,
            completed=progress.finished,
            total=progress.total if progress.total is not None else self._total(),
            failed=progress.failed,
            retried=progress.retried,
        )

    def _total(self) -> float | None:
        return self.display.tasks[0].total

    def __enter__(self) -> RichMapProgress:
        self.display.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.display.refresh()
        self.display.stop()
