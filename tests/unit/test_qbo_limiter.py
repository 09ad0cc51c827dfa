"""The per-realm limiter: sliding-window rates and an in-flight cap, on a fake clock."""

from __future__ import annotations

import threading

import pytest

from reconciler.qbo.limiter import RealmLimiter


class FakeTime:
    """A monotonic clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def test_requests_within_budget_do_not_wait():
    """Up to the per-minute budget, slots are granted at once."""
    fake = FakeTime()
    limiter = RealmLimiter(requests_per_minute=5, clock=fake.clock, sleep=fake.sleep)
    for _ in range(5):
        with limiter.slot():
            pass
    assert fake.sleeps == []


def test_request_over_budget_waits_until_the_oldest_leaves_the_window():
    """The sixth request in a minute waits exactly until the first is 60 s old."""
    fake = FakeTime()
    limiter = RealmLimiter(requests_per_minute=5, clock=fake.clock, sleep=fake.sleep)
    for step in range(5):
        with limiter.slot():
            pass
        fake.now += 2 if step < 4 else 0  # starts at 0, 2, 4, 6, 8 s
    with limiter.slot():
        pass
    assert fake.sleeps == [pytest.approx(60 - 8)]
    assert limiter.waited_s == pytest.approx(52)


def test_window_slides_rather_than_resetting():
    """After waiting, the next request waits only for the next-oldest start to expire."""
    fake = FakeTime()
    limiter = RealmLimiter(requests_per_minute=2, clock=fake.clock, sleep=fake.sleep)
    with limiter.slot():
        pass
    fake.now += 10
    with limiter.slot():
        pass
    with limiter.slot():  # waits 50 s (first start leaves the window)
        pass
    with limiter.slot():  # waits until the second start (t+10) is 60 s old: 10 s more
        pass
    assert fake.sleeps == [pytest.approx(50), pytest.approx(10)]


def test_batch_has_its_own_budget_and_counts_as_a_request():
    """Batches are limited separately, and every batch also spends a request."""
    fake = FakeTime()
    limiter = RealmLimiter(
        requests_per_minute=100,
        requests_per_second=100,  # (the per-second window is tested on its own below)
        batches_per_minute=2,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    for _ in range(2):
        with limiter.slot(batch=True):
            pass
    for _ in range(50):  # plain requests are not held back by the batch budget
        with limiter.slot():
            pass
    assert fake.sleeps == []
    with limiter.slot(batch=True):
        pass
    assert fake.sleeps == [pytest.approx(60)]


def test_in_flight_cap_blocks_until_a_slot_is_released():
    """With max_concurrent=2, a third thread waits until one of two holders leaves."""
    fake = FakeTime()
    limiter = RealmLimiter(max_concurrent=2, clock=fake.clock, sleep=fake.sleep)
    release = threading.Event()
    inside = threading.Semaphore(0)
    peak = []

    def hold() -> None:
        with limiter.slot():
            peak.append(limiter.in_flight)
            inside.release()
            release.wait(timeout=5)

    threads = [threading.Thread(target=hold) for _ in range(3)]
    for thread in threads:
        thread.start()
    assert inside.acquire(timeout=5) and inside.acquire(timeout=5)
    assert not inside.acquire(timeout=0.2)  # the third is blocked
    assert limiter.in_flight == 2
    release.set()
    assert inside.acquire(timeout=5)
    for thread in threads:
        thread.join(timeout=5)
    assert max(peak) == 2
    assert limiter.in_flight == 0


def test_slot_is_released_when_the_body_raises():
    """An exception inside the slot gives the in-flight place back."""
    limiter = RealmLimiter(max_concurrent=1)
    with pytest.raises(RuntimeError), limiter.slot():
        raise RuntimeError("boom")
    assert limiter.in_flight == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"requests_per_minute": 0},
        {"requests_per_second": 0},
        {"batches_per_minute": 0},
        {"max_concurrent": 0},
    ],
)
def test_nonsense_limits_are_refused(kwargs):
    """A limit that would block forever is a configuration error."""
    with pytest.raises(ValueError):
        RealmLimiter(**kwargs)


def test_at_most_ten_start_in_any_second():
    """QBO allows 10 requests a second per realm and app: the 11th waits for the window."""
    fake = FakeTime()
    limiter = RealmLimiter(clock=fake.clock, sleep=fake.sleep)
    starts = []
    for _ in range(25):
        with limiter.slot():
            starts.append(fake.now)
    for first in starts:
        assert sum(1 for t in starts if first <= t < first + 1.0) <= 10
    assert fake.sleeps == [pytest.approx(1.0), pytest.approx(1.0)]


def test_every_limit_at_once_as_qbo_counts_them():
    """A batch spends the per-second, per-minute and batch budgets; the tightest one binds."""
    fake = FakeTime()
    limiter = RealmLimiter(
        requests_per_minute=12, requests_per_second=10, batches_per_minute=3,
        clock=fake.clock, sleep=fake.sleep,
    )  # fmt: skip
    for _ in range(3):
        with limiter.slot(batch=True):
            pass
    for _ in range(7):  # 10 in the first second: the per-second window is full
        with limiter.slot():
            pass
    assert fake.sleeps == []
    assert limiter.batch_budget_wait() == pytest.approx(60)  # the batch budget is spent
    with limiter.slot():  # the 11th request waits a second
        pass
    assert fake.sleeps == [pytest.approx(1.0)]
    with limiter.slot():  # the 12th is the last of the minute
        pass
    with limiter.slot():  # the 13th waits for the first request to leave the minute
        pass
    assert sum(fake.sleeps) == pytest.approx(60)


def test_hold_after_a_429_stops_every_request_for_the_wait():
    """After QBO throttled us anyway, no request of the realm starts before the hold ends."""
    fake = FakeTime()
    limiter = RealmLimiter(clock=fake.clock, sleep=fake.sleep)
    limiter.hold(60)
    assert limiter.batch_budget_wait() == pytest.approx(60)
    with limiter.slot():
        pass
    assert fake.sleeps == [pytest.approx(60)]
    limiter.hold(-5)  # a hold never shortens or goes negative
    with limiter.slot():
        pass
    assert fake.sleeps == [pytest.approx(60)]


def test_a_batch_with_patience_gives_up_at_once_when_the_batch_window_is_spent():
    """`patience`: a batch that would wait longer for the batch window is refused before
    anything is counted (the writes go alone instead); a shorter wait is waited out."""
    from reconciler.qbo.limiter import BatchWindowFull

    fake = FakeTime()
    limiter = RealmLimiter(batches_per_minute=2, clock=fake.clock, sleep=fake.sleep)
    for _ in range(2):
        with limiter.slot(batch=True, patience=3.0):
            pass
    with pytest.raises(BatchWindowFull) as refused, limiter.slot(batch=True, patience=3.0):
        pass  # pragma: no cover (never entered)
    assert refused.value.wait == pytest.approx(60.0)
    assert fake.sleeps == []  # gave up without sleeping
    with limiter.slot():  # nothing was counted: the request windows still have room
        pass
    fake.now += 58.0  # the first batch leaves the window in 2 s: worth waiting for
    with limiter.slot(batch=True, patience=3.0):
        pass
    assert fake.sleeps == [pytest.approx(2.0)]


def test_patience_counts_a_throttle_hold_and_not_the_per_second_window():
    """A hold after a 429 is a wait for the batch too; the 10-a-second window is not (the
    writes alone would meet it just the same)."""
    from reconciler.qbo.limiter import BatchWindowFull

    fake = FakeTime()
    limiter = RealmLimiter(requests_per_second=2, clock=fake.clock, sleep=fake.sleep)
    for _ in range(2):
        with limiter.slot():
            pass
    with limiter.slot(batch=True, patience=0.5):  # waits 1 s for the per-second window
        pass
    assert fake.sleeps == [pytest.approx(1.0)]
    limiter.hold(60.0)
    with pytest.raises(BatchWindowFull), limiter.slot(batch=True, patience=3.0):
        pass  # pragma: no cover


def test_a_request_asleep_on_a_rate_window_holds_no_in_flight_slot():
    """A batch waiting for the batch window (here up to its patience) must not keep a single
    request from going: the in-flight slot is taken only once the windows have room."""
    fake = FakeTime()
    gate = threading.Event()
    asleep = threading.Event()

    def gated_sleep(seconds: float) -> None:
        asleep.set()
        assert gate.wait(5)
        fake.sleep(seconds)

    limiter = RealmLimiter(
        max_concurrent=1, batches_per_minute=1, clock=fake.clock, sleep=gated_sleep
    )
    with limiter.slot(batch=True):
        pass
    inside: list[int] = []

    def batch_request() -> None:
        with limiter.slot(batch=True, patience=120):
            inside.append(limiter.in_flight)

    batch = threading.Thread(target=batch_request)
    batch.start()
    assert asleep.wait(5)  # the batch sleeps on the batch window...
    single_went = threading.Event()

    def single() -> None:
        with limiter.slot():
            single_went.set()

    other = threading.Thread(target=single)
    other.start()
    assert single_went.wait(2)  # ...and the single request goes meanwhile
    other.join(2)
    gate.set()
    batch.join(5)
    assert not batch.is_alive() and inside == [1]  # the batch got its slot after
