"""``bbre-async history``: a streaming export of the account's usage history.

Rows are written as pages arrive and never gathered in a list, so an export of hundreds of
thousands of tasks runs in constant memory: the listing is read lazily, duplicates (rows a
shifting total pushes onto the next page) are dropped by id within a bounded window, the
statistics of ``--summary`` are streaming (see ``_summary``), and a table is printed a page at
a time. The end of the range is frozen when the export starts, so tasks created meanwhile do
not shift the pages. A file given with ``--output`` is written beside its final name and moved
into place only when the export is complete, so an interrupted export never leaves a file that
looks whole.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from bbre_async._models import Page, Task
from bbre_async._paging import paginate
from bbre_async.cli._common import (
    EXIT_USAGE,
    CliError,
    CliState,
    PageCounter,
    WhenType,
    counting,
    err_console,
    iso,
    out_console,
    pass_state,
    reports_errors,
    run,
    timeout_option,
)
from bbre_async.cli._history_formats import FIELDS, FORMATS, infer_format, make_writer
from bbre_async.cli._summary import UsageSummary

__all__ = ["FIELDS", "history_command"]


@contextlib.contextmanager
def _open_output(path: Path | None) -> Iterator[IO[str]]:
    """stdout, or ``path`` written through a temporary file renamed into place on success."""
    if path is None or str(path) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        stream = open(partial, "w", encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}", EXIT_USAGE) from None
    try:
        with stream:
            yield stream
        os.replace(partial, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


@click.command("history")
@click.option(
    "--status",
    type=click.Choice(["completed", "failed", "processing", "timeout"]),
    help="Only tasks in this state.",
)
@click.option(
    "--since",
    type=WhenType(),
    help="Tasks created at or after: 2024-06-01, 2024-06-01T10:00:00Z, or an age (7d, 24h).",
)
@click.option(
    "--until",
    type=WhenType(end_of_day=True),
    help="Tasks created at or before (a bare date means the end of that day). Default: now.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="Output format [default: from the --output suffix (.csv, .jsonl), else table].",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
    help="Write to FILE instead of stdout (replaced only once the export is complete).",
)
@click.option(
    "--summary",
    is_flag=True,
    help="At the end: count, cost, success rate, p50/p95 processing time, by mode and type.",
)
@click.option(
    "--page-size",
    type=click.IntRange(1, 1000),
    default=100,
    show_default=True,
    help="Rows per API call.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    metavar="N",
    help="Stop after the N newest tasks [default: all of them].",
)
@timeout_option
@pass_state
@reports_errors("exporting history")
def history_command(
    state: CliState,
    status: str | None,
    since: datetime | None,
    until: datetime | None,
    fmt: str | None,
    output: Path | None,
    summary: bool,
    page_size: int,
    limit: int | None,
) -> None:
    """Export usage history (tasks) as a table, CSV or JSON lines, newest first.

    Rows stream out as pages arrive, with a progress bar on stderr (stdout carries only
    data). Dates are UTC unless they carry an offset. Percentiles in --summary are exact up
    to 10,000 tasks and within 1 % beyond (a DDSketch-style log histogram).
    """
    end = until or datetime.now(UTC)
    if since is not None and since > end:
        raise click.BadParameter(
            f"--since ({iso(since)}) is after --until ({iso(end)})", param_hint="--since"
        )
    if output is not None and str(output) == "-":
        output = None
    fmt_chosen = infer_format(fmt, output)
    run(
        _export(
            state,
            status=status,
            since=since,
            end=end,
            fmt=fmt_chosen,
            output=output,
            summary=summary,
            page_size=min(page_size, limit) if limit else page_size,
            limit=limit,
        )
    )


def _progress(*, data_on_terminal: bool) -> Progress:
    """A progress bar on stderr; off when stderr is not a terminal, and off when the rows
    themselves scroll by on the same terminal (they show progress, and a live bar redrawn
    between them would garble both)."""
    console = err_console()
    return Progress(
        SpinnerColumn(),
        TextColumn("history"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows, {task.fields[pages]} pages"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
        disable=not console.is_terminal or data_on_terminal,
    )


async def _export(
    state: CliState,
    *,
    status: str | None,
    since: datetime | None,
    end: datetime,
    fmt: str,
    output: Path | None,
    summary: bool,
    page_size: int,
    limit: int | None,
) -> None:
    stats = UsageSummary() if summary else None
    counter = PageCounter()
    to_stdout = output is None
    rows = 0
    progress = _progress(data_on_terminal=to_stdout and sys.stdout.isatty())
    with _open_output(output) as stream, progress:
        bar = progress.add_task("history", total=None, pages=0)
        writer = make_writer(fmt, stream, to_stdout=to_stdout)

        def on_page(seen: PageCounter) -> None:
            writer.page_done()
            progress.update(bar, total=max(seen.total or 0, rows) or None, pages=seen.pages)

        counter.on_page = on_page
        async with state.client() as client:

            async def fetch(limit: int, offset: int) -> Page[Task]:
                return await client.account.history_page(
                    status=status, start=since, end=end, limit=limit, offset=offset
                )

            async for task in paginate(counting(fetch, counter), page_size=page_size):
                writer.write(task)
                if stats is not None:
                    stats.add(task)
                rows += 1
                progress.advance(bar)
                if limit is not None and rows >= limit:
                    break  # before the iterator asks for a page nobody will see
        writer.close()
    notes = err_console()
    where = f" to {output}" if output is not None else ""
    notes.print(f"Exported {rows} row(s) in {counter.pages} page(s){where}.")
    if stats is not None:
        # With data on stdout, the summary goes to stderr so the data stays machine-readable.
        data_on_stdout = to_stdout and fmt != "table"
        stats.render(notes if data_on_stdout else out_console())
