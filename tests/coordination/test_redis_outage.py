"""Redis down, hung, or restarted with its data gone: fail closed, recover, never over-grant."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid

import pytest

from bbre_async.coordination._base import (
    CoordinatorUnavailableError,
    OwnerInfo,
    SlotTimeoutError,
)
from bbre_async.coordination._redis_coordinator import RedisCoordinator
from bbre_async.testing import RedisServer
from tests.waiting import eventually as wait_until

pytestmark = pytest.mark.redis


def coordinator(server: RedisServer, namespace: str, **options: float) -> RedisCoordinator:
    # A generous op_timeout: a stopped Redis refuses at once, and a busy machine may starve a
    # live one of CPU for a while; only the hung-Redis test needs a short one.
    return RedisCoordinator.from_url(
        server.url,
        namespace=namespace,
        capacity=3,
        lease_ttl=options.pop("lease_ttl", 3.0),
        heartbeat_interval=options.pop("heartbeat_interval", 0.2),
        op_timeout=options.pop("op_timeout", 2.0),
        recheck_interval=options.pop("recheck_interval", 0.2),
    )


async def test_open_fails_closed_when_redis_is_down() -> None:
    closed = RedisCoordinator.from_url("redis://127.0.0.1:1/0", namespace="down", op_timeout=0.3)
    try:
        with pytest.raises(CoordinatorUnavailableError):
            await closed.open(OwnerInfo.current())
    finally:
        await closed.aclose()


async def test_stopped_redis_fails_closed_then_recovers_without_over_granting(
    private_redis_server: RedisServer,
) -> None:
    server = private_redis_server
    namespace = uuid.uuid4().hex
    holder = coordinator(server, namespace)
    late = coordinator(server, namespace)
    try:
        await holder.open(OwnerInfo.current())
        kept = await holder.acquire_slot(timeout=10)
        dropped = await holder.acquire_slot(timeout=10)

        server.stop()
        with pytest.raises(CoordinatorUnavailableError):  # an outage, not a slot timeout
            await holder.acquire_slot(timeout=30.0)
        with pytest.raises(CoordinatorUnavailableError):
            await holder.slot_is_held(kept)
        await holder.release_slot(dropped)  # logged, not raised: the lease lapses anyway

        server.start()  # same port, every key gone
        await late.open(OwnerInfo.current())

        # The holder's next heartbeat sees the new epoch and puts its live lease back.
        async def reclaimed() -> bool:
            return (await late.semaphore.state())[0] == 1

        await wait_until(reclaimed)
        assert await holder.slot_is_held(kept)
        # Grants resume once live holders had a lease TTL to put their leases back.
        fresh = [await late.acquire_slot(timeout=30) for _ in range(2)]
        with pytest.raises(SlotTimeoutError):
            await late.acquire_slot(timeout=0.2)  # 3 = capacity, counting the reclaimed one
        assert min(g.token for g in fresh) > kept.token  # fencing tokens still increase
    finally:
        await late.aclose()
        await holder.aclose()


async def test_hung_redis_fails_closed_within_the_deadline(
    private_redis_server: RedisServer,
) -> None:
    server = private_redis_server
    process = server.process
    assert process is not None
    client = coordinator(server, uuid.uuid4().hex, op_timeout=1.0)
    try:
        await client.open(OwnerInfo.current())
        await client.acquire_slot(timeout=10)
        os.kill(process.pid, signal.SIGSTOP)  # accepts nothing, answers nothing
        try:
            with pytest.raises(CoordinatorUnavailableError):
                # The op_timeout gives up, long before the caller's 5 s would.
                await asyncio.wait_for(client.acquire_slot(timeout=5), 4.5)
        finally:
            os.kill(process.pid, signal.SIGCONT)
        assert await client.acquire_slot(timeout=10)  # the next call works
    finally:
        await client.aclose()
