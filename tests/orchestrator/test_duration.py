from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bbre_async.orchestrator import (
    MAX_SECONDS,
    MIN_SECONDS,
    format_duration,
    normalize_duration,
    parse_duration,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1m", 60),
        ("30m", 1800),
        ("45m", 2700),
        ("1h", 3600),
        ("2h", 7200),
        ("1h30m", 5400),
        ("2h30m", 9000),
        ("90m", 5400),
        ("24h", 86400),
        ("0h1m", 60),
        (" 2h ", 7200),
    ],
)
def test_documented_forms_parse(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0m",
        "0h",
        "25h",
        "24h1m",
        "1441m",
        "45s",
        "1h30m45s",
        "1.5h",
        "2H",
        "30",
        "m",
        "1m1h",
        "1h 30m",
        "-5m",
        "30min",
    ],
)
def test_anything_else_is_a_clear_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_non_strings_are_refused() -> None:
    with pytest.raises(ValueError):
        parse_duration(30)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (60, "1m"),
        (89, "1m"),
        (90, "2m"),
        (1800, "30m"),
        (3600, "1h"),
        (5400, "1h30m"),
        (86400, "24h"),
        (59.6, "1m"),
    ],
)
def test_format_rounds_to_whole_minutes(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [0, 29, 86431, float("inf"), float("nan"), True, "60"])
def test_format_refuses_what_the_vendor_would(seconds: object) -> None:
    with pytest.raises(ValueError):
        format_duration(seconds)  # type: ignore[arg-type]


def test_normalize_rewrites_to_the_canonical_form() -> None:
    assert normalize_duration("90m") == "1h30m"
    assert normalize_duration("1h0m") == "1h"


@given(st.integers(min_value=MIN_SECONDS // 60, max_value=MAX_SECONDS // 60))
def test_format_and_parse_round_trip(minutes: int) -> None:
    text = format_duration(minutes * 60)
    assert parse_duration(text) == minutes * 60
    assert normalize_duration(text) == text
