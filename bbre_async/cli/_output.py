"""Consoles and tables: data on stdout, notes and progress on stderr, plain text when piped."""

from __future__ import annotations

import os
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table

# Piped output has no terminal width; a generous one keeps table rows (and ids) on one line.
_PIPE_WIDTH = 200


def _console(*, stderr: bool) -> Console:
    probe = Console(stderr=stderr)
    width = None
    if not probe.is_terminal and "COLUMNS" not in os.environ:
        width = _PIPE_WIDTH
    # No file is bound: rich looks up sys.stdout / sys.stderr on every write, which lets a live
    # progress display (and a test runner) redirect it. markup and highlighting are off so that
    # data (urls, ids with brackets) prints as it is.
    return Console(stderr=stderr, width=width, markup=False, highlight=False, emoji=False)


def out_console() -> Console:
    """The data console: tables and messages on stdout; plain text when not a terminal."""
    return _console(stderr=False)


def err_console() -> Console:
    """Progress, notes and summaries that must not mix with data on stdout."""
    return _console(stderr=True)


def new_table(*headers: str, right: tuple[str, ...] = (), title: str | None = None) -> Table:
    """A plain table (no heavy borders: it reads well piped into a file as well)."""
    table = Table(
        box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False, show_edge=False
    )
    for header in headers:
        table.add_column(header, justify="right" if header in right else "left", no_wrap=True)
    return table


def print_table(console: Console, table: Table) -> None:
    """Print ``table``; off a terminal, without the cell padding that would end every line
    in spaces (piped output is read by diff, grep and editors as well as people)."""
    if console.is_terminal:
        console.print(table)
        return
    with console.capture() as captured:
        console.print(table)
    text = "\n".join(line.rstrip() for line in captured.get().splitlines())
    console.file.write(text + "\n")


class ChunkedTable:
    """A table printed a chunk of rows at a time, so a long listing renders in constant
    memory; chunks after the first repeat the first chunk's column widths and skip the
    header, so the output reads as one table.

    ``fold`` gives each column's place in the order columns are dropped when the table is
    wider than the console (lowest first; None: never dropped), so that on a narrow terminal
    the values that matter (a session id to copy) stay whole instead of being cut.
    """

    def __init__(
        self,
        console: Console,
        headers: tuple[str, ...],
        *,
        right: tuple[str, ...] = (),
        fold: Sequence[int | None] | None = None,
    ) -> None:
        self._console = console
        self._headers = headers
        self._right = right
        self._fold = list(fold) if fold is not None else [None] * len(headers)
        if len(self._fold) != len(headers):
            raise ValueError("fold needs one entry per header")
        self._rows: list[tuple[str, ...]] = []
        self._widths: list[int] | None = None
        self._kept: list[int] = list(range(len(headers)))
        self.count = 0

    @property
    def shown_headers(self) -> tuple[str, ...]:
        """The headers of the columns printed (all of them until the first chunk is out)."""
        return tuple(self._headers[i] for i in self._kept)

    def add(self, *cells: str) -> None:
        self._rows.append(cells)
        self.count += 1

    def _table(self, kept: Sequence[int], rows: Sequence[tuple[str, ...]]) -> Table:
        table = new_table(*(self._headers[i] for i in kept), right=self._right)
        for row in rows:
            table.add_row(*(row[i] for i in kept))
        return table

    def _fit(self) -> None:
        """Drop foldable columns, lowest ``fold`` first, until the first chunk fits."""
        order = sorted((rank, i) for i, rank in enumerate(self._fold) if rank is not None)
        width = self._console.width
        unbounded = self._console.options.update_width(1_000_000)  # measure, do not clamp
        for _, column in order:
            needed = self._console.measure(self._table(self._kept, self._rows), options=unbounded)
            if needed.maximum <= width:
                return
            self._kept.remove(column)

    def flush(self) -> None:
        if not self._rows:
            return
        if self._widths is None:
            self._fit()
            table = self._table(self._kept, self._rows)
            self._widths = [
                max(len(self._headers[i]), *(len(r[i]) for r in self._rows)) for i in self._kept
            ]
        else:
            table = self._table(self._kept, self._rows)
            table.show_header = False
            for column, width in zip(table.columns, self._widths, strict=True):
                column.min_width = width
        self._rows.clear()
        print_table(self._console, table)
