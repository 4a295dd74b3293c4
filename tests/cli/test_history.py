"""``history``: streaming export in three formats, filters, output files and the summary."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bbre_async import APIConnectionError
from bbre_async._resources.account import AccountResource
from bbre_async.cli._common import usd
from tests.cli.conftest import (
    ROOT,
    SECRET_KEY,
    EmulatorThread,
    Invoke,
    SeedTask,
    no_escape_codes,
)

HOUR = 3_600_000


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


NOW = int(time.time() * 1000)
ROWS = [
    SeedTask(id="t1", created_ms=at("2024-06-01T12:00"), processing_ms=100),
    SeedTask(
        id="t2",
        created_ms=at("2024-06-01T13:00"),
        mode="adaptive",
        type="BBRE_REQUEST",
        price=0.012,
        processing_ms=2000,
    ),
    SeedTask(
        id="t3",
        created_ms=at("2024-06-02T12:00"),
        type="BBRE_REQUEST",
        status="failed",
        price=0.0,
        processing_ms=500,
    ),
    SeedTask(
        id="t4", created_ms=at("2024-06-02T13:00"), mode="adaptive", price=0.012, processing_ms=300
    ),
    SeedTask(
        id="t5",
        created_ms=at("2024-06-03T12:00"),
        status="timeout",
        price=0.0,
        processing_ms=30_000,
    ),
    SeedTask(
        id="t6",
        created_ms=at("2024-06-03T13:00"),
        mode="adaptive",
        type="BBRE_REQUEST",
        status="processing",
        price=0.012,
    ),
    SeedTask(
        id="t7", created_ms=at("2024-06-03T14:00"), processing_ms=150, url='https://shop.test/a,b"c'
    ),
    SeedTask(id="r2", created_ms=NOW - 30 * HOUR, processing_ms=700),
    SeedTask(id="r1", created_ms=NOW - 2 * HOUR, mode="adaptive", price=0.012, processing_ms=50),
]
NEWEST_FIRST = [r.id for r in sorted(ROWS, key=lambda r: r.created_ms, reverse=True)]


@pytest.fixture
def seeded(server: EmulatorThread) -> EmulatorThread:
    server.seed_history(ROWS)
    return server


def nearest_rank(values: list[int], q: float) -> str:
    return f"{sorted(values)[max(1, math.ceil(q * len(values))) - 1]} ms"


def expected(rows: Iterable[SeedTask]) -> list[str]:
    """A summary row computed here from the seed, independently of the CLI."""
    rows = list(rows)
    finished = [r for r in rows if r.status != "processing"]
    completed = sum(1 for r in finished if r.status == "completed")
    times = [r.processing_ms for r in finished]
    return [
        str(len(rows)),
        usd(sum(round(r.price * 1_000_000) for r in rows) / 1_000_000),
        f"{100 * completed / len(finished):.1f}%",
        nearest_rank(times, 0.5),
        nearest_rank(times, 0.95),
    ]


def summary_rows(text: str) -> dict[str, list[str]]:
    lines = text[text.index("Summary") :].splitlines()[3:]
    return {
        cells[0]: cells[1:]
        for line in lines
        if (cells := re.split(r"\s{2,}", line.strip())) and cells[0]
    }


def test_csv_to_stdout_with_summary_on_stderr(seeded: EmulatorThread, invoke: Invoke) -> None:
    result = invoke("history", "--format", "csv", "--summary")

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["id"] for r in rows] == NEWEST_FIRST  # stdout is nothing but the CSV
    t7 = next(r for r in rows if r["id"] == "t7")
    assert t7["url"] == 'https://shop.test/a,b"c'
    assert t7["processing_time_ms"] == "150"
    assert t7["created_at"] == "2024-06-03T14:00:00.000Z"
    assert next(r for r in rows if r["id"] == "t6")["completed_at"] == ""
    assert "Exported 9 row(s) in 1 page(s)." in result.stderr
    summary = summary_rows(result.stderr)
    assert summary["all"] == expected(ROWS)
    assert summary["mode adaptive"] == expected(r for r in ROWS if r.mode == "adaptive")
    assert summary["mode passive"] == expected(r for r in ROWS if r.mode == "passive")
    assert summary["type BBRE_REQUEST"] == expected(r for r in ROWS if r.type == "BBRE_REQUEST")
    assert summary["type BBRE_SESSION_REQUEST"] == expected(
        r for r in ROWS if r.type == "BBRE_SESSION_REQUEST"
    )
    assert no_escape_codes(result.stdout + result.stderr)


def test_jsonl_to_a_file_inferred_from_its_suffix(
    seeded: EmulatorThread, invoke: Invoke, tmp_path: Path
) -> None:
    target = tmp_path / "usage.jsonl"

    result = invoke("history", "--output", str(target), "--summary")

    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["id"] for r in records] == NEWEST_FIRST
    t2 = next(r for r in records if r["id"] == "t2")
    assert t2 == {
        "id": "t2",
        "type": "BBRE_REQUEST",
        "mode": "adaptive",
        "status": "completed",
        "url": "https://shop.test/item",
        "method": "GET",
        "price_charged": 0.012,
        "processing_time_ms": 2000,
        "created_at": "2024-06-01T13:00:00.000Z",
        "completed_at": "2024-06-01T13:00:02.000Z",
    }
    # With the data in a file, stdout carries the summary and nothing else.
    assert result.stdout.startswith("Summary")
    assert summary_rows(result.stdout)["all"] == expected(ROWS)
    assert f"to {target}" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["usage.jsonl"]


def test_table_format_streams_pages(seeded: EmulatorThread, invoke: Invoke) -> None:
    result = invoke("history", "--page-size", "2")

    assert result.exit_code == 0, result.output
    ids = [line.split()[2] for line in result.stdout.splitlines() if line.startswith("20")]
    assert ids == NEWEST_FIRST
    assert result.stdout.count("created") == 1  # one header for all five chunks
    assert "Exported 9 row(s) in 5 page(s)." in result.stderr


@pytest.mark.parametrize(
    ("args", "ids"),
    [
        (("--since", "2024-06-02", "--until", "2024-06-02"), ["t4", "t3"]),
        (("--since", "2024-06-03T13:30:00+01:00", "--until", "2024-06-03T13:00:00Z"), ["t6"]),
        (("--since", "2024-06-01T12:30", "--until", "2024-06-02T12:00:00Z"), ["t3", "t2"]),
        (("--since", "36h"), ["r1", "r2"]),
        (("--since", "1d"), ["r1"]),
        (("--status", "failed"), ["t3"]),
        (("--until", "2024-06-01"), ["t2", "t1"]),
    ],
)
def test_filters(
    seeded: EmulatorThread, invoke: Invoke, args: tuple[str, ...], ids: list[str]
) -> None:
    result = invoke("history", "--format", "jsonl", *args)

    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ids


@pytest.mark.parametrize(
    "args",
    [
        ("--since", "yesterday-ish"),
        ("--since", "2024-06-03", "--until", "2024-06-01"),
        ("--format", "xml"),
        ("--page-size", "0"),
    ],
)
def test_bad_options_are_usage_errors(invoke: Invoke, args: tuple[str, ...]) -> None:
    result = invoke("history", *args)

    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_rows_are_written_as_they_come_and_a_failed_file_is_not_left(
    seeded: EmulatorThread, invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = AccountResource.history_page
    calls = 0

    async def failing_third_page(self: AccountResource, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise APIConnectionError("the connection dropped")
        return await real(self, **kwargs)

    monkeypatch.setattr(AccountResource, "history_page", failing_third_page)

    streamed = invoke("history", "--format", "csv", "--page-size", "2")
    calls = 0
    target = tmp_path / "out.csv"
    to_file = invoke("history", "--page-size", "2", "--output", str(target))

    assert streamed.exit_code == 5
    assert [r["id"] for r in csv.DictReader(io.StringIO(streamed.stdout))] == NEWEST_FIRST[:4]
    assert streamed.stderr.count("\n") == 1
    assert streamed.stderr.startswith("error: exporting history failed: the connection dropped;")
    assert to_file.exit_code == 5
    assert list(tmp_path.iterdir()) == []


def test_a_large_export_in_pages(server: EmulatorThread, invoke: Invoke, tmp_path: Path) -> None:
    base = at("2024-01-01T00:00")
    rows = [
        SeedTask(
            id=f"task-{n:05d}",
            created_ms=base + n * 1000,
            processing_ms=n % 997,
            mode=("passive", "adaptive")[n % 2],
        )
        for n in range(3000)
    ]
    server.seed_history(rows)
    target = tmp_path / "all.csv"

    result = invoke("history", "--page-size", "1000", "-o", str(target), "--summary")

    assert result.exit_code == 0, result.output
    with target.open() as fh:
        ids = [r["id"] for r in csv.DictReader(fh)]
    assert len(ids) == len(set(ids)) == 3000
    assert "in 3 page(s)" in result.stderr
    assert summary_rows(result.stdout)["all"] == expected(rows)


def test_progress_bar_on_a_terminal_keeps_the_data_clean(
    seeded: EmulatorThread, invoke: Invoke, tmp_path: Path
) -> None:
    target = tmp_path / "out.csv"

    result = invoke("history", "--page-size", "3", "-o", str(target), env={"TTY_COMPATIBLE": "1"})

    assert result.exit_code == 0, result.output
    assert "rows, 3 pages" in result.stderr  # the live bar was drawn on stderr
    assert [r["id"] for r in csv.DictReader(target.open())] == NEWEST_FIRST
    assert result.stdout == ""


def test_a_closed_pipe_ends_the_export_quietly(
    server: EmulatorThread, python_env: dict[str, str]
) -> None:
    base = at("2024-01-01T00:00")
    server.seed_history([SeedTask(id=f"task-{n:05d}", created_ms=base + n) for n in range(3000)])
    env = {**python_env, "BBRE_API_KEY": SECRET_KEY, "BBRE_BASE_URL": server.base_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "bbre_async", "history", "--format", "csv", "--page-size", "1000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith(b"id,type,mode")
    process.stdout.close()  # as `| head -1` does

    stderr = process.stderr.read().decode()
    assert process.wait(30) == 0  # a reader that stops early is a normal end, as for `cat`
    assert stderr == ""


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("report.json", (), "report.json: a .json file would be one JSON document"),
        ("report.xlsx", (), "report.xlsx: its extension names no format"),
        ("report", (), "report: its extension names no format"),
        ("report.jsonl", ("--format", "csv"), "report.jsonl names the jsonl format but"),
    ],
)
def test_an_output_name_that_contradicts_the_format_is_refused(
    seeded: EmulatorThread,
    invoke: Invoke,
    tmp_path: Path,
    name: str,
    args: tuple[str, ...],
    message: str,
) -> None:
    result = invoke("history", "-o", str(tmp_path / name), *args)

    assert result.exit_code == 2
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize(
    ("name", "args", "check"),
    [
        ("report.csv", (), lambda text: text.startswith("id,type,mode,status,url")),
        ("report.ndjson", (), lambda text: json.loads(text.splitlines()[0])["id"] == "r1"),
        ("report.txt", (), lambda text: text.startswith("created (UTC)")),
        ("report.dat", ("--format", "csv"), lambda text: text.startswith("id,")),
    ],
)
def test_the_format_follows_the_extension_or_the_option(
    seeded: EmulatorThread,
    invoke: Invoke,
    tmp_path: Path,
    name: str,
    args: tuple[str, ...],
    check: Any,
) -> None:
    result = invoke("history", "-o", str(tmp_path / name), *args)

    assert result.exit_code == 0, result.output
    assert check((tmp_path / name).read_text())


def test_limit_stops_after_the_newest_rows(seeded: EmulatorThread, invoke: Invoke) -> None:
    before = seeded.call(lambda: seeded.emu.state.accounts["owner"].calls.get("account/history", 0))

    result = invoke("history", "--format", "jsonl", "--limit", "3", "--page-size", "2")

    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == NEWEST_FIRST[:3]
    calls = seeded.call(lambda: seeded.emu.state.accounts["owner"].calls.get("account/history", 0))
    assert calls - before == 2  # two pages of two; never a page past the limit
    assert invoke("history", "--limit", "0").exit_code == 2


def test_a_large_table_is_one_aligned_table(server: EmulatorThread, invoke: Invoke) -> None:
    base = at("2024-01-01T00:00")
    server.seed_history(
        [
            SeedTask(id=f"task-{n:05d}", created_ms=base + n * 1000, price=n / 1000)
            for n in range(3000)
        ]
    )

    result = invoke("history", "--page-size", "1000")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split("   ")[0] == "created (UTC)" and set(lines[1]) == {"─"}
    rows = lines[2:]
    assert len(rows) == 3000 and rows[0].split()[2] == "task-02999"
    time_ends = {line.index(" ms") for line in rows}  # the time column is right-aligned
    assert len(time_ends) == 1
    assert all(line == line.rstrip() for line in lines)


def test_jsonl_into_head_ends_with_status_0(
    server: EmulatorThread, python_env: dict[str, str]
) -> None:
    base = at("2024-01-01T00:00")
    server.seed_history([SeedTask(id=f"task-{n:05d}", created_ms=base + n) for n in range(3000)])
    env = {
        **python_env,
        "BBRE_API_KEY": SECRET_KEY,
        "BBRE_BASE_URL": server.base_url,
        "PYTHON": sys.executable,
    }

    done = subprocess.run(
        [
            "bash",
            "-c",
            'set -o pipefail; "$PYTHON" -m bbre_async history --format jsonl --page-size 500'
            " | head -2",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == [
        "task-02999",
        "task-02998",
    ]
    assert done.stderr == ""
