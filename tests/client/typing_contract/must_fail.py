"""Mistakes ``mypy --strict`` must catch; each line marked ``# E`` is one expected error."""

from __future__ import annotations

from bbre_async import BBREClient


async def misuse(client: BBREClient) -> None:
    session = await client.sessions.create()
    await session.get("https://example.com", timout=20)  # E
    async for _ in client.account.history(status="faild"):  # E
        pass
    await client.requests.run("https://example.com", proxi="x")  # E
    await client.sessions.create(mode="turbo")  # E
    await client.sessions.create(timeout=300, lifetim=300)  # E
    await session.request("BREW", "https://example.com")  # E
