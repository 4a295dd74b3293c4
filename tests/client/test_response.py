"""``Response`` as requests/httpx users expect it (issue 16, defect 5)."""

from __future__ import annotations

import base64
import pickle
from datetime import timedelta

import pytest
from multidict import CIMultiDictProxy

import bbre_async as b
from bbre_async import BBREClient, Response, SessionInfo
from tests.mock_api import MockAPI

from .conftest import BASE, envelope

PNG = b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary"


def answer(**result: object) -> dict[str, object]:
    return envelope(data={"task": {"id": "t1", "status": "completed", "result": result}})


async def fetch(client: BBREClient, mocked: MockAPI, **result: object) -> Response:
    mocked.post(BASE + "/session/request", payload=answer(**result))
    handle = client.sessions.attach(SessionInfo(id="s1", status="active"))
    return await handle.get("https://t.test/page", params={"q": "a b", "n": 2})


async def test_headers_are_case_insensitive_and_multi_valued(
    client: BBREClient, mocked: MockAPI
) -> None:
    response = await fetch(
        client,
        mocked,
        statusCode=200,
        headers={"Content-Type": "text/html", "Set-Cookie": ["a=1", "b=2"]},
        body="<p>hi</p>",
    )
    assert response.headers["content-type"] == "text/html"
    assert response.headers["CONTENT-TYPE"] == "text/html"
    assert response.headers.getall("set-cookie") == ["a=1", "b=2"]
    assert isinstance(response.headers, CIMultiDictProxy)


async def test_text_content_json_url_and_params(client: BBREClient, mocked: MockAPI) -> None:
    response = await fetch(client, mocked, statusCode=200, body='{"x": [1, "é"]}')
    assert response.text == '{"x": [1, "é"]}' == response.body
    assert response.content == '{"x": [1, "é"]}'.encode()
    assert response.json() == {"x": [1, "é"]}
    assert response.url == "https://t.test/page?q=a+b&n=2"  # params= were sent
    assert mocked.sent_json("POST")["url"] == "https://t.test/page?q=a+b&n=2"
    assert isinstance(response.elapsed, timedelta) and response.request_id


async def test_the_url_after_redirects_wins(client: BBREClient, mocked: MockAPI) -> None:
    response = await fetch(client, mocked, statusCode=200, finalUrl="https://t.test/landed")
    assert response.url == "https://t.test/landed"


async def test_a_base64_binary_body_keeps_its_bytes(client: BBREClient, mocked: MockAPI) -> None:
    encoded = base64.b64encode(PNG).decode()
    response = await fetch(client, mocked, statusCode=200, body=encoded, bodyEncoding="base64")
    assert response.content == PNG


async def test_raise_for_status_carries_the_response(client: BBREClient, mocked: MockAPI) -> None:
    response = await fetch(client, mocked, statusCode=503, body="down " * 1000)
    assert not response.ok
    with pytest.raises(b.HTTPStatusError) as info:
        response.raise_for_status()
    assert info.value.response is response and info.value.status == 503
    assert isinstance(info.value, b.BBREError)
    assert pickle.loads(pickle.dumps(info.value)).status == 503
    ok = await fetch(client, mocked, statusCode=204)
    assert ok.raise_for_status() is ok


async def test_repr_is_short_whatever_the_body(client: BBREClient, mocked: MockAPI) -> None:
    response = await fetch(client, mocked, statusCode=200, body="x" * 1_000_000)
    assert repr(response) == "<Response [200] 1000000 chars>"
