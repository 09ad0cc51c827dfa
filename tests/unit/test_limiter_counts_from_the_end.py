"""The limiter counts a request in its window from when it ended, as QBO may see it late."""

from __future__ import annotations

import pytest

from reconciler.qbo.limiter import RealmLimiter


class FakeTime:
    """A monotonic clock that moves only when slept on or pushed."""

    def __init__(self) -> None:
        self.now = 500.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_a_slow_request_holds_its_budget_until_60_s_after_it_ended():
    """A 5 s request: the next one over budget waits until 60 s after its end, not start."""
    fake = FakeTime()
    limiter = RealmLimiter(requests_per_minute=1, clock=fake.clock, sleep=fake.sleep)
    with limiter.slot():
        fake.now += 5  # the request is in flight for 5 s
    with limiter.slot():
        pass
    assert fake.sleeps == [pytest.approx(60)]


def test_batches_are_counted_from_the_end_too():
    """The batch window also keeps a slow batch until 60 s after it ended."""
    fake = FakeTime()
    limiter = RealmLimiter(
        requests_per_minute=100, batches_per_minute=1, clock=fake.clock, sleep=fake.sleep
    )
    with limiter.slot(batch=True):
        fake.now += 2
    with limiter.slot():  # a plain request is not held back
        pass
    with limiter.slot(batch=True):
        pass
    assert fake.sleeps == [pytest.approx(60)]
