"""Export the account's usage history for a date range to CSV, with totals at the end.

    .venv/bin/python examples/history_report.py [--days 7] [--output PATH]

The CSV has the columns of `bbre-async history --format csv` (ISO-8601 UTC times with a Z,
prices in USD, processing time in ms), so the two exports can be read by the same tools.
Without --output it goes into a new temporary directory, whose path is printed, never into
the directory you run it from. The history is read a page at a time and each row is written as
it arrives, so a range of hundreds of thousands of tasks runs in constant memory; the file
appears under its name only once complete.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _support import api_target

from bbre_async import BBREClient, Task, TaskFailedError
from bbre_async.emulator import TargetRule

#: The columns of `bbre-async history --format csv`, in its order.
COLUMNS = [
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
]


def iso_utc(moment: datetime | None) -> str:
    """As the CLI writes times: ISO-8601 in UTC, milliseconds, a trailing Z."""
    if moment is None:
        return ""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def csv_row(task: Task) -> list[object]:
    ms = task.processing_time_ms
    return [
        task.id,
        task.type,
        task.mode or "",
        task.status,
        task.url or "",
        task.method or "",
        task.price_charged,
        "" if ms is None else int(ms) if float(ms).is_integer() else ms,
        iso_utc(task.created_at),
        iso_utc(task.completed_at),
    ]


async def make_some_history(client: BBREClient) -> None:
    """A fresh emulator has no history yet: spend a little of its play money first."""
    async with await client.sessions.create() as session:
        for n in range(5):
            await session.get(f"https://example.com/report/{n}")
    for url in ("https://example.com/one-off", "https://example.com/broken"):
        try:
            await client.requests.run(url, poll_interval=0.05)
        except TaskFailedError as error:
            print(f"(as scripted: {error})")


async def main(args: argparse.Namespace) -> None:
    if args.output:
        output = Path(args.output)
    else:
        output = Path(tempfile.mkdtemp(prefix="bbre-history-")) / "history.csv"
    # A scripted failure, so the report has more than one status in it.
    broken = TargetRule(pattern="https://example.com/broken", outcome="failed")
    async with api_target(time_scale=100, targets=[broken]) as target:
        async with BBREClient(api_key=target.api_key, base_url=target.base_url) as client:
            if target.emulator is not None:
                await make_some_history(client)
            # Aware datetimes: the API filters on UTC timestamps.
            end = datetime.now(UTC)
            start = end - timedelta(days=args.days)
            partial = output.with_name(output.name + ".partial")
            rows, spent = 0, 0.0
            by_status: Counter[str] = Counter()
            try:
                with partial.open("w", newline="", encoding="utf-8") as file:
                    writer = csv.writer(file, lineterminator="\n")
                    writer.writerow(COLUMNS)
                    async for task in client.account.history(start=start, end=end):
                        writer.writerow(csv_row(task))
                        rows += 1
                        spent += task.price_charged
                        by_status[task.status] += 1
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            # Renamed only once complete: an interrupted export never looks like a whole one.
            os.replace(partial, output)
    print(f"{rows} rows from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC -> {output}")
    print(f"totals: spent ${spent:.4f}; by status {dict(by_status)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7.0, help="how far back to report")
    parser.add_argument(
        "--output", help="the CSV file to write (default: history.csv in a new temporary directory)"
    )
    asyncio.run(main(parser.parse_args()))
