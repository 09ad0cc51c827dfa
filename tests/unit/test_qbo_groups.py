"""`qbo.groups`: a group waiting for QBO's batch window looks at it without building its batch."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from reconciler.qbo import groups
from reconciler.qbo.limiter import RealmLimiter
from reconciler.qbo.wire import BatchItemResult, BatchOp


class FakeTime:
    """A monotonic clock the test moves; nothing in this test sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now


class BatchOnlyClient:
    """Counts the batches built; each takes a real limiter slot, as `QBOClient.batch` does."""

    def __init__(self, limiter: RealmLimiter) -> None:
        self.limiter = limiter
        self.batches_built = 0

    def batch(self, items: Any, *, patience: float | None, **_: Any) -> list[BatchItemResult]:
        self.batches_built += 1
        with self.limiter.slot(batch=True, patience=patience):
            return [BatchItemResult(op.bid, op.entity, entity={"Id": op.bid}) for op in items]


def test_a_group_waiting_for_the_batch_window_builds_its_batch_once(monkeypatch):
    """Building a batch encodes its 30 bodies; a group that asked the limiter (and built the
    batch) at every look while the window was spent cost the 10,000-PO backfill CPU for
    minutes of waiting. Now it asks `batch_budget_wait` and builds the batch once, when the
    window has room."""
    monkeypatch.setattr(groups, "LOOK_AGAIN_S", 0.005)
    fake = FakeTime()
    limiter = RealmLimiter(batches_per_minute=1, clock=fake.clock, sleep=time.sleep)
    with limiter.slot(batch=True):  # the minute's one batch slot is spent
        pass
    client = BatchOnlyClient(limiter)
    sender = groups.GroupSender(client)
    for _ in range(groups.ALONE_AT_ONCE):  # no turn to go alone: it must wait for the window
        assert sender._turns.acquire(blocking=False)
    items = [BatchOp(str(i), "create", "Vendor", {"DisplayName": f"V{i}"}) for i in range(3)]
    looks = 0
    real_wait = limiter.batch_budget_wait

    def counted_wait() -> float:
        nonlocal looks
        looks += 1
        return real_wait()

    monkeypatch.setattr(limiter, "batch_budget_wait", counted_wait)
    answer: list[Any] = []
    sending = threading.Thread(
        target=lambda: answer.append(
            sender.send(
                items, request_id="g", item_request_ids=["a", "b", "c"], resend_unclear=True
            )
        ),
        daemon=True,
    )
    sending.start()
    deadline = time.monotonic() + 10
    while looks < 20 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert looks >= 20 and client.batches_built == 0  # looked, built nothing
    fake.now += 60.0  # the slot frees
    sending.join(timeout=10)
    assert not sending.is_alive()
    assert answer and answer[0].as_batch
    assert client.batches_built == 1
    assert [r.bid for r in answer[0].results] == ["0", "1", "2"]


def test_budget_wait_is_what_patience_is_held_against():
    """The look and the limiter's own check agree: a throttle hold counts, the per-second
    window does not (a second is never worth sending 30 writes alone)."""
    fake = FakeTime()
    limiter = RealmLimiter(requests_per_second=1, batches_per_minute=2, clock=fake.clock)
    with limiter.slot():
        pass
    assert limiter.batch_budget_wait() == 0.0  # per-second window full, batch window not
    limiter.hold(7.5)
    assert limiter.batch_budget_wait() == pytest.approx(7.5)
