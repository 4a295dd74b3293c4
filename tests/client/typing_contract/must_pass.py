"""Code a user writes against the public API; ``mypy --strict`` must accept all of it."""

from __future__ import annotations

from datetime import UTC, datetime

from bbre_async import (
    BBREClient,
    MockTransport,
    Response,
    Timeout,
    TransportRequest,
    TransportResponse,
)


def answer(request: TransportRequest) -> TransportResponse:
    return TransportResponse(200, json={"success": True, "balance": 1.0})


async def use(client: BBREClient) -> None:
    fast = client.with_options(timeout=5, max_retries=0)
    await fast.account.balance(timeout=Timeout(connect=1, read=2, total=3))
    session = await client.sessions.create(mode="adaptive", sensibility="high", lifetime=300)
    response: Response = await session.get(
        "https://example.com", params={"q": "x"}, fetch_timeout=20, timeout=60
    )
    response.raise_for_status()
    assert response.headers["content-type"] and response.content and response.text
    await session.post("https://example.com", json={"a": [1, 2]}, idempotent=True)
    async for task in client.account.history(status="failed", start=datetime.now(UTC)):
        print(task.id)
    async for info in client.account.sessions(status="active"):
        print(info.id)
    await client.requests.run("https://example.com", proxy="http://p:1", mode="passive")
    BBREClient(api_key="k", transport=MockTransport(answer))
