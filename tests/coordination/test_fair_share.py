"""The fair-share rule on its own, on an injected clock (issue 15, defect 7)."""

from __future__ import annotations

import pytest

from bbre_async.coordination._fair_share import FairShare


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def rule(clock: Clock, rotation: float = 10.0) -> FairShare:
    return FairShare(rotation=rotation, promise_ttl=5.0, clock=clock)


def test_nobody_waiting_means_keep_everything() -> None:
    share = rule(Clock())
    share.update(-1)
    assert not any(share.should_yield(10) for _ in range(5))


def test_hands_back_just_enough_for_an_even_split() -> None:
    share = rule(Clock())
    share.update(0)  # another process waits with nothing
    given = sum(share.should_yield(10) for _ in range(20))
    assert given == 5  # 10 vs 0 becomes 5 vs 5, each promise counted as it is made


def test_promises_kept_by_releases_are_not_counted_twice() -> None:
    share = rule(Clock())
    share.update(0)
    assert share.should_yield(10)
    share.released()  # the promised slot went back: 9 held
    share.update(1)  # Redis now shows the other process with it
    assert sum(share.should_yield(9) for _ in range(10)) == 4  # 9 vs 1 becomes 5 vs 5


def test_the_odd_slot_goes_round_after_the_rotation_interval() -> None:
    clock = Clock()
    share = rule(clock, rotation=10.0)
    share.update(3)  # 4 against 3: one more, not two
    assert not share.should_yield(4)
    clock.now += 9.9
    assert not share.should_yield(4)
    clock.now += 0.2
    assert share.should_yield(4)
    assert not share.should_yield(4)  # one promise per rotation


def test_an_unkept_promise_lapses() -> None:
    clock = Clock()
    share = rule(clock)
    share.update(1)
    assert share.should_yield(4)  # 4 vs 1
    assert not share.should_yield(4)  # 3 vs 2, counting the promise
    clock.now += 6  # the pool never released it (a lease kept the session busy)
    share.update(1)
    assert share.should_yield(4)


@pytest.mark.parametrize("bad", [{"rotation": 0.0}, {"promise_ttl": -1.0}])
def test_bad_arguments_are_refused(bad: dict[str, float]) -> None:
    options = {"rotation": 1.0, "promise_ttl": 1.0, **bad}
    with pytest.raises(ValueError, match="positive"):
        FairShare(clock=Clock(), **options)
