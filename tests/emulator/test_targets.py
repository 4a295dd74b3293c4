"""Synthetic targets and scripted answers (unit level and through /session/request)."""

from __future__ import annotations

import re

import pytest

from bbre_async.emulator import Emulator, TargetRule
from bbre_async.emulator._targets import BLOCKED_BODY, Targets
from tests.emulator._helpers import Api


def test_default_pages_are_deterministic_per_method_and_url() -> None:
    jar1: dict[str, str] = {}
    jar2: dict[str, str] = {}
    a = Targets().fetch("GET", "https://shop.test/a", jar1)
    b = Targets().fetch("GET", "https://shop.test/a", jar2)
    assert (a.status, a.body, dict(a.headers)) == (b.status, b.body, dict(b.headers))
    assert jar1 == jar2 and len(jar1) == 1
    post = Targets().fetch("POST", "https://shop.test/a", {})
    assert post.body != a.body
    assert "https://shop.test/a" in a.body
    assert a.headers["content-type"].startswith("text/html")
    name, value = next(iter(jar1.items()))
    assert a.headers["set-cookie"].startswith(f"{name}={value}")
    other_jar: dict[str, str] = {}
    Targets().fetch("GET", "https://shop.test/other/path", other_jar)
    assert other_jar == jar1  # the cookie derives from the host only


def test_url_text_is_escaped_in_the_page() -> None:
    page = Targets().fetch("GET", "https://a.test/?q=<script>", {})
    assert "<script>" not in page.body and "&lt;script&gt;" in page.body


def test_scripted_status_headers_body_and_cookies() -> None:
    targets = Targets(
        [
            TargetRule(
                pattern="https://api.test/*",
                status=503,
                headers={"Retry-After": "3"},
                body="busy",
                set_cookies={"sid": "abc"},
            )
        ]
    )
    jar: dict[str, str] = {}
    page = targets.fetch("GET", "https://api.test/v1", jar)
    assert (page.status, page.body, page.headers["Retry-After"]) == (503, "busy", "3")
    assert jar["sid"] == "abc" and "sid=abc" in page.headers["set-cookie"]
    assert targets.fetch("GET", "https://web.test/", {}).status == 200


def test_newest_rule_wins_and_times_retire_rules() -> None:
    targets = Targets()
    targets.add(TargetRule(pattern="*", status=404))
    handle = targets.add(TargetRule(pattern="https://a.test/*", status=500, times=2))
    assert [targets.fetch("GET", "https://a.test/x", {}).status for _ in range(3)] == [
        500,
        500,
        404,
    ]
    assert handle.used == 2
    assert len(targets.rules) == 1


def test_method_filter_and_regex_patterns() -> None:
    targets = Targets(
        [
            TargetRule(pattern="*", method="post", status=201),
            TargetRule(pattern=re.compile(r"/admin\b"), status=401),
        ]
    )
    assert targets.fetch("POST", "https://a.test/", {}).status == 201
    assert targets.fetch("GET", "https://a.test/", {}).status == 200
    assert targets.fetch("GET", "https://a.test/admin/x", {}).status == 401


def test_blocked_pages_look_like_a_bot_wall() -> None:
    targets = Targets([TargetRule(pattern="*", blocked=True)])
    page = targets.fetch("GET", "https://a.test/", {})
    assert page.status == 403 and page.body == BLOCKED_BODY
    assert page.headers["cf-mitigated"] == "challenge"


def test_redirects_are_followed_and_carry_cookies() -> None:
    targets = Targets(
        [
            TargetRule(
                pattern="https://a.test/login",
                method="POST",
                redirect_to="/home",
                set_cookies={"auth": "1"},
            ),
        ]
    )
    jar: dict[str, str] = {}
    page = targets.fetch("POST", "https://a.test/login", jar)
    assert page.status == 200 and "GET https://a.test/home" in page.body
    assert jar["auth"] == "1"
    raw = targets.fetch("POST", "https://a.test/login", {}, allow_redirects=False)
    assert raw.status == 302 and raw.headers["location"] == "/home"


def test_redirect_loops_stop() -> None:
    targets = Targets([TargetRule(pattern="https://loop.test/*", redirect_to="/again", status=301)])
    page = targets.fetch("GET", "https://loop.test/start", {})
    assert page.status == 301


@pytest.mark.parametrize(
    "kwargs", [{"status": 99}, {"outcome": "exploded"}, {"times": 0}, {"delay": -1}]
)
def test_rules_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        TargetRule(pattern="*", **kwargs)  # type: ignore[arg-type]


async def test_scripted_answers_through_a_session(api: Api, emu: Emulator) -> None:
    handle = emu.script("https://shop.test/checkout*", blocked=True, times=1)
    session = await api.create()
    blocked = (await api.fetch(session["id"], "https://shop.test/checkout"))["result"]
    assert blocked["statusCode"] == 403 and "captcha" in blocked["body"]
    after = (await api.fetch(session["id"], "https://shop.test/checkout"))["result"]
    assert after["statusCode"] == 200
    assert handle.used == 1
    emu.script(
        "https://shop.test/go", redirect_to="https://shop.test/landed", set_cookies={"from": "go"}
    )
    landed = (await api.fetch(session["id"], "https://shop.test/go"))["result"]
    assert "https://shop.test/landed" in landed["body"] and landed["cookies"]["from"] == "go"
    raw = (await api.fetch(session["id"], "https://shop.test/go", allowRedirects=False))["result"]
    assert raw["statusCode"] == 302


async def test_a_failed_target_in_a_session_is_an_uncharged_failed_task(
    api: Api, emu: Emulator
) -> None:
    emu.script("https://down.test/*", outcome="failed")
    session = await api.create()
    task = await api.fetch(session["id"], "https://down.test/")
    assert task["status"] == "failed" and task["result"] is None
    status = (await api.ok("/session/status", {"sessionId": session["id"]}))["session"]
    assert (status["requestCount"], status["totalCharged"]) == (1, 0.0)
    [row] = (await api.ok("/account/history"))["tasks"]
    assert (row["status"], row["priceCharged"]) == ("failed", 0.0)
