"""The formats of ``bbre-async history``: one flat record per task (the CSV columns and the
JSON-lines keys), a writer per format, and the choice of format from ``--format`` or the output
file's extension."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import IO, Protocol

import click

from bbre_async._models import Task
from bbre_async.cli._formats import iso, short_time, usd
from bbre_async.cli._output import out_console

FIELDS = (
    "id",
    "type",
    "mode",
    "status",
    "url",
    "method",
    "price_charged",
    "processing_time_ms",
    "created_at",
    "completed_at",
)
FORMATS = ("table", "csv", "jsonl")
_SUFFIX_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".txt": "table"}
_URL_CELL = 60


def task_record(task: Task) -> dict[str, object]:
    """One history row as a flat record (the CSV columns and the JSON-lines keys)."""
    ms = task.processing_time_ms
    return {
        "id": task.id,
        "type": task.type,
        "mode": task.mode,
        "status": task.status,
        "url": task.url,
        "method": task.method,
        "price_charged": task.price_charged,
        "processing_time_ms": int(ms) if ms is not None and ms.is_integer() else ms,
        "created_at": iso(task.created_at) or None,
        "completed_at": iso(task.completed_at) or None,
    }


class RowWriter(Protocol):
    def write(self, task: Task) -> None: ...

    def page_done(self) -> None: ...

    def close(self) -> None: ...


class CsvWriter:
    def __init__(self, stream: IO[str]) -> None:
        self._writer = csv.writer(stream, lineterminator="\n")
        self._writer.writerow(FIELDS)

    def write(self, task: Task) -> None:
        record = task_record(task)
        self._writer.writerow(["" if record[f] is None else record[f] for f in FIELDS])

    def page_done(self) -> None:
        pass

    def close(self) -> None:
        pass


class JsonlWriter:
    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, task: Task) -> None:
        self._stream.write(json.dumps(task_record(task), ensure_ascii=False) + "\n")

    def page_done(self) -> None:
        pass

    def close(self) -> None:
        pass


class TableWriter:
    """A table written one page at a time as plain text (constant memory, one table to the
    eye). The first page fixes the column widths; on a terminal the URL column is narrowed so
    rows fit its width. Formatting it by hand rather than through rich keeps a large export in
    this format about as fast as CSV."""

    HEADERS = ("created (UTC)", "id", "type", "mode", "status", "cost", "time", "url")
    _RIGHT = frozenset({"cost", "time"})
    _GAP = "   "

    def __init__(self, stream: IO[str], *, width: int | None = None) -> None:
        self._stream = stream
        self._width = width
        self._rows: list[tuple[str, ...]] = []
        self._widths: list[int] | None = None

    def write(self, task: Task) -> None:
        ms = task.processing_time_ms
        self._rows.append(
            (
                short_time(task.created_at),
                task.id,
                task.type,
                task.mode or "-",
                task.status,
                usd(task.price_charged),
                "-" if ms is None else f"{ms:.0f} ms",
                task.url or "-",
            )
        )

    def _fix_widths(self) -> list[int]:
        widths = [max(len(h), *(len(r[i]) for r in self._rows)) for i, h in enumerate(self.HEADERS)]
        url_room = _URL_CELL
        if self._width is not None:
            others = sum(widths[:-1]) + len(self._GAP) * (len(widths) - 1)
            url_room = max(len("url"), min(_URL_CELL, self._width - others))
        widths[-1] = min(widths[-1], url_room)
        return widths

    def _line(self, cells: tuple[str, ...], widths: list[int]) -> str:
        parts = []
        for header, cell, width in zip(self.HEADERS, cells, widths, strict=True):
            if len(cell) > width:
                cell = cell[: width - 1] + "…"
            parts.append(cell.rjust(width) if header in self._RIGHT else cell.ljust(width))
        return self._GAP.join(parts).rstrip()

    def page_done(self) -> None:
        if not self._rows:
            return
        lines = []
        if self._widths is None:
            self._widths = self._fix_widths()
            lines.append(self._line(self.HEADERS, self._widths))
            lines.append("─" * len(lines[0]))
        widths = self._widths
        lines.extend(self._line(row, widths) for row in self._rows)
        self._rows.clear()
        self._stream.write("\n".join(lines) + "\n")

    def close(self) -> None:
        self.page_done()


def make_writer(fmt: str, stream: IO[str], *, to_stdout: bool) -> RowWriter:
    if fmt == "csv":
        return CsvWriter(stream)
    if fmt == "jsonl":
        return JsonlWriter(stream)
    width = out_console().width if to_stdout and stream.isatty() else None
    return TableWriter(stream, width=width)


def infer_format(fmt: str | None, output: Path | None) -> str:
    """The export format: ``--format``, else the one the output file's extension names
    (.csv, .jsonl/.ndjson, .txt), else a table on stdout. An extension that names no format
    (``.json``: one JSON document, which a streaming export does not write) or one that
    contradicts ``--format`` is refused (a usage error) rather than filled with another
    format."""
    if output is None:
        return fmt or "table"
    suffix = output.suffix.lower()
    implied = _SUFFIX_FORMATS.get(suffix)
    if fmt is not None:
        if implied is not None and implied != fmt:
            raise click.BadParameter(
                f"{output.name} names the {implied} format but --format is {fmt}",
                param_hint="--output",
            )
        return fmt
    if implied is not None:
        return implied
    known = ", ".join(_SUFFIX_FORMATS)
    why = (
        "a .json file would be one JSON document, and the export streams JSON lines: name it .jsonl"
        if suffix == ".json"
        else f"its extension names no format (known: {known})"
    )
    raise click.BadParameter(
        f"{output.name}: {why}, or choose one with --format", param_hint="--output"
    )
