"""The client's attempt deadlines share one loop timer: each attempt must still end at its own
deadline, never before it, and an attempt that ended leaves nothing behind that could cut
another. Lower bounds only: a slow machine can make a deadline late, never early."""

from __future__ import annotations

import asyncio

import pytest

import bbre_async as b
from bbre_async import BBREClient
from bbre_async._deadlines import Deadlines
from tests.mock_api import MockAPI, hang_forever

from .conftest import BASE

STATUS_URL = f"{BASE}/session/status"


async def _cancelled_at(task: asyncio.Task[None]) -> float:
    """Loop time at which ``task`` (asleep for good) was cancelled."""
    with pytest.raises(asyncio.CancelledError):
        await task
    return asyncio.get_running_loop().time()


async def _forever() -> None:
    await asyncio.Event().wait()


async def test_each_attempt_is_cancelled_at_its_own_deadline_in_deadline_order() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    start = loop.time()
    offsets = (0.15, 0.05, 0.10)  # registered latest first: each earlier one re-arms the timer
    tasks = [asyncio.ensure_future(_forever()) for _ in offsets]
    pairs = zip(tasks, offsets, strict=True)
    watched = [deadlines.watch(loop, task, start + off) for task, off in pairs]
    ended = await asyncio.gather(*(_cancelled_at(task) for task in tasks))
    for at, deadline in zip(ended, watched, strict=True):
        assert at >= deadline.when  # never before its deadline
        assert deadline.stop() is True  # the deadline's cancellation, nobody else's
    assert [off for _, off in sorted(zip(ended, offsets, strict=True))] == sorted(offsets)
    assert not deadlines.active


async def test_a_finished_attempt_leaves_no_bound_on_a_later_one() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    early = deadlines.watch(loop, asyncio.ensure_future(_forever()), loop.time() + 0.02)
    assert early.stop() is False  # ended in time: the timer stays armed for 0.02 s, stale
    late_task = asyncio.ensure_future(_forever())
    late = deadlines.watch(loop, late_task, loop.time() + 0.2)
    at = await _cancelled_at(late_task)
    assert at >= late.when  # the stale timer only re-armed; it cut nothing
    assert late.stop() is True
    early.task.cancel()


async def test_a_stopped_deadline_never_cancels_its_task() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    spared = asyncio.ensure_future(_forever())
    deadlines.watch(loop, spared, loop.time() + 0.02).stop()
    witness = asyncio.ensure_future(_forever())
    deadlines.watch(loop, witness, loop.time() + 0.05)
    await _cancelled_at(witness)  # time has passed the spared task's deadline
    assert not spared.done()
    spared.cancel()


async def _attempt(deadlines: Deadlines, when: float) -> bool:
    """What the client does: wait under a deadline; on cancellation, was it the deadline's?"""
    task = asyncio.current_task()
    assert task is not None
    deadline = deadlines.watch(asyncio.get_running_loop(), task, when)
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        return deadline.stop()
    raise AssertionError("unreachable")


@pytest.mark.parametrize("also_from_outside", [False, True])
async def test_a_cancellation_from_outside_is_not_taken_for_the_deadline(
    also_from_outside: bool,
) -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    attempt = asyncio.ensure_future(_attempt(deadlines, loop.time() + 3600))
    await asyncio.sleep(0)  # the attempt now waits under its deadline
    (deadline,) = deadlines.active
    deadline.expire()  # the deadline passes ...
    if also_from_outside:
        attempt.cancel()  # ... and in the same instant its owner cancels it
    assert await attempt is (not also_from_outside)
    assert attempt.cancelling() == (1 if also_from_outside else 0)


async def test_concurrent_calls_each_time_out_at_their_own_timeout(
    client: BBREClient, mocked: MockAPI
) -> None:
    for _ in range(2):
        mocked.post(STATUS_URL, callback=hang_forever)
    loop = asyncio.get_running_loop()
    started = loop.time()
    patient = asyncio.ensure_future(client.sessions.status("s1", timeout=0.4))
    with pytest.raises(b.APITimeoutError):
        await client.sessions.status("s1", timeout=0.05)
    assert not patient.done()  # the short call's bound did not end the longer one
    with pytest.raises(b.APITimeoutError):
        await patient
    assert loop.time() - started >= 0.4
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
