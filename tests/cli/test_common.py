"""Pure helpers: date and duration parsing, formatting, and the percentile sketch."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bbre_async.cli._common import (
    expires_in,
    human_duration,
    iso,
    parse_relative,
    parse_when,
    usd,
)
from bbre_async.cli._summary import QuantileSketch

NOW = datetime(2024, 6, 15, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("now", NOW),
        ("7d", NOW - timedelta(days=7)),
        ("24h", NOW - timedelta(hours=24)),
        ("1h30m", NOW - timedelta(minutes=90)),
        ("2w", NOW - timedelta(weeks=2)),
        ("45s", NOW - timedelta(seconds=45)),
        ("2024-06-01", datetime(2024, 6, 1, tzinfo=UTC)),
        ("2024-06-01T10:00", datetime(2024, 6, 1, 10, tzinfo=UTC)),
        ("2024-06-01T10:00:00Z", datetime(2024, 6, 1, 10, tzinfo=UTC)),
        (
            "2024-06-01T10:00:00+02:00",
            datetime(2024, 6, 1, 10, tzinfo=timezone(timedelta(hours=2))),
        ),
    ],
)
def test_parse_when(text: str, when: datetime) -> None:
    parsed = parse_when(text, now=NOW)
    assert parsed == when
    assert parsed.tzinfo is not None


def test_a_bare_until_date_covers_the_whole_day() -> None:
    end = parse_when("2024-06-01", now=NOW, end_of_day=True)
    assert end == datetime(2024, 6, 1, 23, 59, 59, 999000, tzinfo=UTC)
    assert parse_when("2024-06-01T05:00", now=NOW, end_of_day=True).hour == 5


@pytest.mark.parametrize("text", ["", "7", "d7", "yesterday", "2024-13-01", "7x", "1h 30"])
def test_parse_when_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a date"):
        parse_when(text, now=NOW)
    assert parse_relative(text) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45.9, "45s"), (133, "2m 13s"), (3720, "1h 02m"), (90000, "1d 1h"), (-5, "0s")],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_expires_in() -> None:
    assert expires_in("active", NOW + timedelta(seconds=133), NOW) == "2m 13s"
    assert expires_in("active", NOW - timedelta(seconds=1), NOW) == "expired"  # listing lag
    assert expires_in("expired", None, NOW) == "expired"
    assert expires_in("closed", NOW, NOW) == "-"


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (100, "$100.00"),
        (99.985, "$99.985"),
        (0.005, "$0.005"),
        (1234.5, "$1,234.50"),
        (0, "$0.00"),
        (-1.5, "-$1.50"),
    ],
)
def test_usd(amount: float, text: str) -> None:
    assert usd(amount) == text


def test_iso_is_utc_with_z() -> None:
    assert iso(datetime(2024, 6, 1, 12, tzinfo=timezone(timedelta(hours=2)))) == (
        "2024-06-01T10:00:00.000Z"
    )
    assert iso(None) == ""


@given(st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=300))
def test_sketch_is_exact_for_small_inputs(values: list[int]) -> None:
    sketch = QuantileSketch()
    for value in values:
        sketch.add(value)
    ordered = sorted(values)
    for q in (0.0, 0.5, 0.95, 1.0):
        assert sketch.quantile(q) == ordered[max(1, math.ceil(q * len(values))) - 1]


def test_sketch_stays_within_its_relative_error_in_bounded_memory() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(6, 1.5) for _ in range(100_000)] + [0.0] * 500
    sketch = QuantileSketch(exact_limit=1000)
    for value in values:
        sketch.add(value)

    assert not sketch.exact
    assert len(sketch._buckets) < 2000
    ordered = sorted(values)
    for q in (0.01, 0.5, 0.9, 0.95, 0.99):
        true = ordered[math.ceil(q * len(values)) - 1]
        estimate = sketch.quantile(q)
        assert estimate is not None
        assert abs(estimate - true) <= 0.01 * true + 1e-9
    assert sketch.quantile(0.001) == 0.0  # the zeros are kept apart


def test_sketch_caps_its_buckets() -> None:
    sketch = QuantileSketch(exact_limit=0, max_buckets=50)
    for exponent in range(200):
        sketch.add(1.1**exponent)
    assert len(sketch._buckets) <= 50
    assert sketch.count == 200
    top = sketch.quantile(1.0)
    assert top is not None and abs(top - 1.1**199) <= 0.01 * 1.1**199


def test_empty_sketch() -> None:
    assert QuantileSketch().quantile(0.5) is None
    with pytest.raises(ValueError, match="q must be"):
        QuantileSketch().quantile(1.5)
