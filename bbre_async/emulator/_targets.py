"""Synthetic target sites: what a "remote browser" fetches, with no outbound network.

By default every (method, URL) has a deterministic page: status 200, an HTML body that names the
URL, a few headers, and one cookie whose name and value derive from the host, so cookie
persistence across a session is observable. ``TargetRule`` scripts other answers per URL pattern:
status, headers, body, cookies, redirects, bot-wall "blocked" pages, and failed or timed-out
outcomes for tasks.
"""

from __future__ import annotations

import fnmatch
import hashlib
import html
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import attrs
import orjson

from bbre_async.emulator._envelope import rendered

Outcome = Literal["completed", "failed", "timeout"]
OUTCOMES = ("completed", "failed", "timeout")
MAX_REDIRECTS = 10

BLOCKED_BODY = (
    "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    '<div id="challenge-form" class="captcha">Verify you are human</div>'
    "</body></html>"
)


def _compile(pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    if isinstance(pattern, re.Pattern):
        return pattern
    if pattern.startswith("re:"):
        return re.compile(pattern[3:])
    return re.compile("^" + fnmatch.translate(pattern))


def _str_map(value: Mapping[str, Any] | None) -> Mapping[str, str]:
    return MappingProxyType({str(k): str(v) for k, v in dict(value or {}).items()})


def _upper(value: str | None) -> str | None:
    return value.upper() if value else None


@attrs.frozen(kw_only=True)
class TargetRule:
    """A scripted answer for URLs matching ``pattern``.

    ``pattern`` is an ``fnmatch`` glob over the whole URL (``"https://shop.test/*"``), a string
    starting with ``re:`` (a regular expression, searched), or a compiled ``re.Pattern``.
    ``method`` limits the rule to one HTTP method. ``body=None`` keeps the synthetic page body.
    ``blocked=True`` answers a 403 captcha page. ``redirect_to`` answers a redirect (302 unless
    ``status`` is a 3xx), followed by the emulator when the call allows redirects.
    ``outcome`` ``"failed"``/``"timeout"`` makes the task fail or time out instead of completing
    (refunded). ``delay`` is extra processing time in emulated seconds (scaled; a session
    request really waits it, as it waits out its ``timeout`` for a ``"timeout"`` outcome, both
    divided by ``time_scale``). ``times`` makes
    the rule apply that many times and then retire. The newest matching rule wins.
    """

    pattern: str | re.Pattern[str]
    method: str | None = attrs.field(default=None, converter=_upper)
    status: int = attrs.field(
        default=200,
        validator=attrs.validators.and_(attrs.validators.ge(100), attrs.validators.le(599)),
    )
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_str_map)
    body: str | None = None
    set_cookies: Mapping[str, str] = attrs.field(factory=dict, converter=_str_map)
    redirect_to: str | None = None
    blocked: bool = False
    outcome: Outcome = attrs.field(default="completed", validator=attrs.validators.in_(OUTCOMES))
    delay: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))
    times: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(1))
    )
    regex: re.Pattern[str] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "regex", _compile(self.pattern))

    def matches(self, method: str, url: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.regex.search(url) is not None


@attrs.define(eq=False)
class ScriptHandle:
    """A rule installed at runtime; ``remove()`` takes it out, ``used`` counts its matches."""

    rule: TargetRule
    remaining: int | None
    used: int = 0
    _owner: Targets | None = attrs.field(default=None, repr=False)

    def remove(self) -> None:
        if self._owner is not None:
            self._owner.remove(self)


@attrs.frozen
class Fetched:
    """One target answer, ready to become a task ``result`` (minus the profile).

    ``rendered`` is ``headers`` and ``body`` as an answer renders them (``_envelope.rendered``),
    kept by the default pages, which answer thousands of times; ``None``: render them."""

    status: int
    headers: Mapping[str, str]
    body: str
    outcome: Outcome = "completed"
    delay: float = 0.0
    rendered: tuple[orjson.Fragment, orjson.Fragment] | None = attrs.field(
        default=None, eq=False, repr=False
    )


@lru_cache(maxsize=8192)
def _host_cookie(host: str) -> tuple[str, str]:
    digest = hashlib.blake2b(host.encode(), digest_size=12).hexdigest()
    return f"emu_{digest[:8]}", digest[8:24]


@lru_cache(maxsize=8192)
def synthetic_page(method: str, url: str) -> tuple[Mapping[str, str], str, str, str]:
    """Headers, body and the (name, value) cookie of the default page at ``url``.

    Cached because benchmarks hit the same few URLs thousands of times a second.
    """
    host = urlsplit(url).hostname or ""
    name, value = _host_cookie(host)
    digest = hashlib.blake2b(f"{method} {url}".encode(), digest_size=8).hexdigest()
    safe_url = html.escape(url)
    body = (
        f"<!DOCTYPE html><html><head><title>{html.escape(host)}</title></head><body>"
        f"<h1>{method} {safe_url}</h1><p>Emulated page {digest} for {safe_url}.</p>"
        "</body></html>"
    )
    headers = {  # shared by every answer of this page: never mutated
        "content-type": "text/html; charset=utf-8",
        "server": "bbre-emulator",
        "etag": f'"{digest}"',
        "set-cookie": f"{name}={value}; Path=/; HttpOnly",
    }
    return headers, body, name, value


@lru_cache(maxsize=8192)
def _default_answer(method: str, url: str) -> tuple[Fetched, str, str]:
    """The unscripted answer at ``url`` (immutable, so one object serves every request)."""
    headers, body, name, value = synthetic_page(method, url)
    return Fetched(200, headers, body, rendered=(rendered(headers), rendered(body))), name, value


class Targets:
    """The scripted rules plus the default pages; resolves what a URL answers."""

    __slots__ = ("_handles",)

    def __init__(self, rules: Iterable[TargetRule] = ()) -> None:
        self._handles: list[ScriptHandle] = []
        for rule in rules:
            self.add(rule)

    def add(self, rule: TargetRule) -> ScriptHandle:
        handle = ScriptHandle(rule, rule.times, owner=self)
        self._handles.append(handle)
        return handle

    def remove(self, handle: ScriptHandle) -> None:
        if handle in self._handles:
            self._handles.remove(handle)

    def clear(self) -> None:
        self._handles.clear()

    @property
    def rules(self) -> tuple[TargetRule, ...]:
        return tuple(h.rule for h in self._handles)

    def _match(self, method: str, url: str) -> TargetRule | None:
        for handle in reversed(self._handles):
            if handle.rule.matches(method, url):
                handle.used += 1
                if handle.remaining is not None:
                    handle.remaining -= 1
                    if handle.remaining <= 0:
                        self._handles.remove(handle)
                return handle.rule
        return None

    def fetch(
        self, method: str, url: str, jar: dict[str, str], *, allow_redirects: bool = True
    ) -> Fetched:
        """What ``url`` answers; cookies it sets go into ``jar``; redirects are followed."""
        if not self._handles:  # nothing scripted: the default page, which never redirects
            answer, name, value = _default_answer(method, url)
            jar[name] = value
            return answer
        first, location = self._fetch_one(method, url, jar)
        answer = first
        for _ in range(MAX_REDIRECTS):
            if location is None or not allow_redirects or answer.outcome != "completed":
                break
            url = urljoin(url, location)
            if answer.status in (301, 302, 303):
                method = "GET"
            answer, location = self._fetch_one(method, url, jar)
        if answer is not first:
            answer = attrs.evolve(answer, outcome=first.outcome, delay=first.delay)
        return answer

    def _fetch_one(self, method: str, url: str, jar: dict[str, str]) -> tuple[Fetched, str | None]:
        if not self._handles:
            answer, name, value = _default_answer(method, url)
            jar[name] = value
            return answer, None
        headers, body, name, value = synthetic_page(method, url)
        jar[name] = value
        rule = self._match(method, url)
        if rule is None:
            return Fetched(200, headers, body), None
        merged = dict(headers)
        status = rule.status
        location: str | None = None
        if rule.blocked:
            status = 403 if status == 200 else status
            body = BLOCKED_BODY
            merged["cf-mitigated"] = "challenge"
        if rule.redirect_to is not None:
            status = status if 300 <= status < 400 else 302
            location = rule.redirect_to
            merged["location"] = location
            body = ""
        if rule.body is not None:
            body = rule.body
        merged.update(rule.headers)
        for cookie_name, cookie_value in rule.set_cookies.items():
            jar[cookie_name] = cookie_value
        if rule.set_cookies:
            merged["set-cookie"] = ", ".join(
                f"{k}={v}; Path=/" for k, v in rule.set_cookies.items()
            )
        answer = Fetched(status, merged, body, rule.outcome, rule.delay)
        return answer, location
