"""``Response``: what the target answered, relayed by the remote browser, shaped like an
httpx/requests response (``status_code``, case-insensitive multi-valued ``headers``,
``content`` bytes, ``text``, ``json()``, ``url``, ``cookies``, ``elapsed``,
``raise_for_status()``)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict, CIMultiDictProxy

from bbre_async import _json
from bbre_async._errors import HTTPStatusError
from bbre_async._fields import (
    JSONObject,
    as_object,
    invalid,
    nested,
    opt_int,
    opt_str,
    str_map,
    text_value,
)

if TYPE_CHECKING:
    from bbre_async._api_response import APIResponse

_EMPTY_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())
_BASE64 = frozenset({"base64", "b64"})


class Response:
    """A target's answer. ``text`` is the body as the API relayed it; ``content`` is its bytes
    (a base64-flagged binary body is decoded, text is UTF-8 encoded with lone surrogates kept).

    ``attempts`` counts the tries it took (each one billed); ``api_response`` holds the API
    call's own status, headers and ``request_id``.
    """

    __slots__ = (
        "_content",
        "_headers",
        "api_response",
        "cookies",
        "profile",
        "status_code",
        "task_id",
        "task_status",
        "text",
        "url",
    )

    def __init__(
        self,
        *,
        status_code: int,
        headers: CIMultiDictProxy[str] | Mapping[str, str] | None = None,
        text: str = "",
        body: str | None = None,
        content: bytes | None = None,
        cookies: dict[str, str] | None = None,
        profile: dict[str, Any] | None = None,
        url: str = "",
        task_id: str | None = None,
        task_status: str = "completed",
        api_response: APIResponse | None = None,
    ) -> None:
        self.status_code = status_code
        self._headers: object = headers  # made a CIMultiDictProxy when first read
        self.text = text if body is None else body  # ``body`` is the older name of ``text``
        self._content = content
        self.cookies = cookies if cookies is not None else {}
        self.profile = profile
        self.url = url
        self.task_id = task_id
        self.task_status = task_status
        self.api_response = api_response

    @classmethod
    def from_json(cls, payload: JSONObject, *, url: str = "") -> Response:
        """Parse ``data.task.result`` (or ``task.result``, ``result``, or a bare result).

        ``url`` is the URL asked for; the answer's own ``url``/``finalUrl`` (after
        redirects) wins when present.
        """
        if type(payload) is dict:
            data = payload.get("data")
            task = data.get("task") if type(data) is dict else None
            result = task.get("result") if type(task) is dict else None
            if type(result) is dict and type(result.get("statusCode")) is int:
                assert isinstance(task, dict)
                return cls._build(result, task, url)
        payload = as_object(payload, "answer")
        found = nested(payload, ("data", "task"), ("task",), ("data",))
        if found is None or ("result" not in found and "statusCode" not in found):
            found = payload
        result_obj = found.get("result") if isinstance(found.get("result"), Mapping) else found
        result_obj = as_object(result_obj, "result")
        if "statusCode" not in result_obj:
            raise invalid("the result has no statusCode", sorted(map(str, result_obj))[:12])
        return cls._build(result_obj, found if found is not result_obj else None, url)

    @classmethod
    def _build(cls, result: JSONObject, task: JSONObject | None, url: str) -> Response:
        # Exact-type tests first: orjson gives plain dicts, lists and strs, and this runs for
        # every fetch; the general helpers handle (and reject) anything else.
        body = result.get("body")
        content: bytes | None = None
        if type(body) is str:
            text = body
            if "bodyEncoding" in result or "encoding" in result:
                encoding = result.get("bodyEncoding") or result.get("encoding")
                if encoding in _BASE64:
                    try:
                        content = base64.b64decode(body, validate=True)
                    except (binascii.Error, ValueError):
                        raise invalid("the body is not valid base64", body[:40]) from None
        else:
            text = _text_body(body)
        status = result.get("statusCode")
        if type(status) is not int:
            status = opt_int(result, "statusCode")
        profile = result.get("profile")
        if profile is not None:
            profile = dict(profile) if isinstance(profile, Mapping) else None
        final_url = result.get("finalUrl") or result.get("url")
        raw_headers = result.get("headers")
        if (
            raw_headers is not None
            and type(raw_headers) is not dict
            and not isinstance(raw_headers, dict | list)
        ):
            raise invalid("headers is not an object", raw_headers)
        cookies = result.get("cookies")
        task_id: str | None = None
        task_status = "completed"
        if task is not None:
            task_id = task.get("id")
            if type(task_id) is not str:
                task_id = opt_str(task, "id")
            given_status = task.get("status")
            if type(given_status) is not str:
                given_status = opt_str(task, "status")
            task_status = given_status or "completed"
        # Every slot set here, without __init__'s keyword parsing.
        response = cls.__new__(cls)
        response.status_code = status
        response._headers = raw_headers  # parsed when first read
        response.text = text
        response._content = content
        response.cookies = {} if cookies is None else str_map(cookies, "cookies")
        response.profile = profile
        response.url = final_url if type(final_url) is str and final_url else url
        response.task_id = task_id
        response.task_status = task_status
        response.api_response = None
        return response

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        """The target's headers: case-insensitive, ``getall()`` for repeated ones."""
        headers = self._headers
        if type(headers) is not CIMultiDictProxy:
            headers = self._headers = _headers(headers)
        return headers

    @property
    def content(self) -> bytes:
        """The body as bytes."""
        if self._content is None:
            self._content = self.text.encode("utf-8", "surrogatepass")
        return self._content

    @property
    def body(self) -> str:
        """The body as text (the same as ``text``)."""
        return self.text

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def attempts(self) -> int:
        """Tries this fetch took; each was billed."""
        return self.api_response.attempts if self.api_response is not None else 1

    @property
    def elapsed(self) -> timedelta:
        """Time from sending the API call to its answer, retries included."""
        seconds = self.api_response.elapsed if self.api_response is not None else 0.0
        return timedelta(seconds=seconds)

    @property
    def request_id(self) -> str | None:
        """The API call's request id (the server's when it sent one)."""
        return self.api_response.request_id if self.api_response is not None else None

    def json(self) -> Any:
        """Decode the body as JSON; raises ``ValueError`` when it is not JSON."""
        return _json.loads(self.text)

    def raise_for_status(self) -> Response:
        """Raise ``HTTPStatusError`` (carrying this response) when the target answered 400 or
        more; return the response otherwise, so calls can chain."""
        if self.status_code >= 400:
            raise HTTPStatusError(
                f"the target answered HTTP {self.status_code} for {self.url or 'the request'}",
                response=self,
            )
        return self

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}] {len(self.text)} chars>"

    def __reduce__(self) -> tuple[object, ...]:
        # Header proxies do not pickle; a response travels (e.g. inside an error) as pairs.
        return (
            _rebuild,
            (
                self.status_code,
                list(self.headers.items()),
                self.text,
                self._content,
                self.cookies,
                self.profile,
                self.url,
                self.task_id,
                self.task_status,
            ),
        )


def _rebuild(
    status_code: int,
    headers: list[tuple[str, str]],
    text: str,
    content: bytes | None,
    cookies: dict[str, str],
    profile: dict[str, Any] | None,
    url: str,
    task_id: str | None,
    task_status: str,
) -> Response:
    return Response(
        status_code=status_code,
        headers=CIMultiDictProxy(CIMultiDict(headers)),
        text=text,
        content=content,
        cookies=cookies,
        profile=profile,
        url=url,
        task_id=task_id,
        task_status=task_status,
    )


def _text_body(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return _json.dumps(value).decode()
    except (TypeError, ValueError, RecursionError):  # nested deeper than JSON encoders go
        raise invalid("the body cannot be re-encoded as JSON", type(value).__name__) from None


def _headers(value: object) -> CIMultiDictProxy[str]:
    """Target headers as the API relays them: an object (a list value is a repeated header)
    or a list of ``{name, value}`` pairs."""
    if not value:
        return _EMPTY_HEADERS
    if isinstance(value, CIMultiDict):
        return CIMultiDictProxy(value)
    if isinstance(value, Mapping):
        out: CIMultiDict[str] = CIMultiDict()
        for name, item in value.items():
            if type(item) is str:
                out.add(str(name), item)
            elif isinstance(item, list):
                for one in item:
                    out.add(str(name), one if isinstance(one, str) else text_value(one))
            else:
                out.add(str(name), text_value(item))
        return CIMultiDictProxy(out)
    if isinstance(value, list):
        pairs: CIMultiDict[str] = CIMultiDict()
        for item in value:
            if not (isinstance(item, Mapping) and "name" in item):
                raise invalid("headers entry is not a name/value pair", item)
            raw = item.get("value", "")
            pairs.add(str(item["name"]), raw if isinstance(raw, str) else text_value(raw))
        return CIMultiDictProxy(pairs)
    raise invalid("headers is not an object", value)
