"""The results as a table (rich on a terminal, plain text otherwise) and as JSON."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from benchmarks._runner import Result

COLUMNS = ("name", "metric", "value", "baseline", "ratio", "target", "meets")


def fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100 or value == int(value):
        return f"{value:.0f}" if value == int(value) else f"{value:.1f}"
    if magnitude >= 0.01:
        return f"{value:.3g}"
    return f"{value:.2e}"


def verdict(meets: bool | None, notes: str = "") -> str:
    if meets is not None:
        return "yes" if meets else "MISSED"
    if notes.startswith("skipped"):
        return "skipped"
    return "error" if notes.startswith("error") else "info"


def rows(results: Sequence[Result]) -> list[list[str]]:
    return [
        [
            r.name,
            r.metric,
            fmt(r.value),
            fmt(r.baseline),
            fmt(r.ratio),
            r.target or "-",
            verdict(r.meets, r.notes),
        ]
        for r in results
    ]


def render(results: Sequence[Result], stream: TextIO | None = None) -> None:
    """Print the table; notes follow as numbered lines (plain) or a column (rich)."""
    out = stream or sys.stdout
    if out.isatty():
        _render_rich(results, out)
    else:
        _render_plain(results, out)


def _render_rich(results: Sequence[Result], out: TextIO) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    numeric = ("value", "baseline", "ratio")
    table = Table()
    table.add_column("#", justify="right")
    for column in COLUMNS:
        table.add_column(column, justify="right" if column in numeric else "left")
    for i, row in enumerate(rows(results), 1):
        style = {"yes": "green", "MISSED": "bold red", "error": "bold red"}.get(row[-1])
        cells = [escape(cell) for cell in row]
        if style:
            cells[-1] = f"[{style}]{cells[-1]}[/]"
        table.add_row(str(i), *cells)
    console = Console(file=out)
    console.print(table)
    for i, result in enumerate(results, 1):
        if result.notes:
            console.print(f"[{i}] {result.notes}", markup=False, highlight=False)


def _render_plain(results: Sequence[Result], out: TextIO) -> None:
    header = ("#", *COLUMNS)
    body = [[str(i), *row] for i, row in enumerate(rows(results), 1)]
    widths = [max([len(header[i])] + [len(r[i]) for r in body]) for i in range(len(header))]
    right = {0, 3, 4, 5}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    print(line(header), file=out)
    print(line(["-" * w for w in widths]), file=out)
    for row in body:
        print(line(row), file=out)
    notes = [(i, r) for i, r in enumerate(results, 1) if r.notes]
    if notes:
        print(file=out)
        for i, r in notes:
            print(f"[{i}] {r.notes}", file=out)


def write_json(results: Sequence[Result], path: Path) -> None:
    path.write_text(json.dumps([r.to_json() for r in results], indent=2, ensure_ascii=False) + "\n")
