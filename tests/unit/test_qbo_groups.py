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
    looked_enough = threading.Event()
    real_wait = limiter.batch_budget_wait

    def counted_wait() -> float:
        nonlocal looks
        looks += 1
        if looks >= 20:
            looked_enough.set()
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
    assert looked_enough.wait(10)
    assert client.batches_built == 0  # looked 20 times, built nothing
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


class BatchOrAloneClient(BatchOnlyClient):
    """Also sends single creates (each answered at once), as `QBOClient.create` does."""

    def create(self, entity: str, body: Any, **_: Any) -> Any:
        return type("Result", (), {"entity": dict(body), "intuit_tid": "tid"})()


def test_the_minute_s_last_batch_slot_goes_to_the_group_sent_first():
    """A pipeline buffer's last group is part-filled. When it reached the minute's last batch
    slot before the full group sent ahead of it, 30 writes went alone instead of 10 (1,000
    POs: 170 single writes, not 150). Here the group sent first is slow to look at the window;
    the one sent after it sees the free slot first, and still leaves it to the first."""
    fake = FakeTime()
    limiter = RealmLimiter(batches_per_minute=1, clock=fake.clock, sleep=time.sleep)
    client = BatchOrAloneClient(limiter)
    sender = groups.GroupSender(client)
    line = sender._line
    full = [BatchOp(str(i), "create", "PurchaseOrder", {"n": i}) for i in range(30)]
    tail = [BatchOp(str(i), "create", "PurchaseOrder", {"n": i}) for i in range(10)]
    first_in_line, first_may_look = threading.Event(), threading.Event()
    # the second asks the line (and waits there), or, without the line, has sent its batch
    second_decides = threading.Event()
    real_wait, real_may_batch, real_batch = limiter.batch_budget_wait, line.may_batch, client.batch

    def watched_wait() -> float:
        if threading.current_thread().name == "first":
            first_in_line.set()  # (it joined the line before it looks)
            assert first_may_look.wait(10)
        return real_wait()

    def asks_the_line(*args: Any) -> bool:
        if threading.current_thread().name == "second":
            second_decides.set()
        return real_may_batch(*args)

    def sends(*args: Any, **kw: Any) -> Any:
        try:
            return real_batch(*args, **kw)
        finally:
            if threading.current_thread().name == "second":
                second_decides.set()

    limiter.batch_budget_wait = watched_wait  # type: ignore[method-assign]
    line.may_batch = asks_the_line  # type: ignore[method-assign]
    client.batch = sends  # type: ignore[method-assign]
    answers: dict[str, Any] = {}

    def send(name: str, items: list[BatchOp]) -> None:
        answers[name] = sender.send(
            items,
            request_id=name,
            item_request_ids=[f"{name}-{op.bid}" for op in items],
            resend_unclear=True,
        )

    first = threading.Thread(target=send, args=("first", full), name="first", daemon=True)
    first.start()
    assert first_in_line.wait(10)  # its place is taken
    second = threading.Thread(target=send, args=("second", tail), name="second", daemon=True)
    second.start()
    assert second_decides.wait(10)  # it has seen the free slot (and, without the line, taken it)
    first_may_look.set()
    first.join(timeout=10)
    second.join(timeout=10)
    assert not first.is_alive() and not second.is_alive()
    assert answers["first"].as_batch and len(answers["first"].results) == 30
    assert not answers["second"].as_batch and len(answers["second"].results) == 10
    assert client.batches_built == 1


def test_groups_in_line_batch_at_once_while_the_window_has_room_for_them():
    line = groups.BatchLine()
    first, second, third = line.join(), line.join(), line.join()
    assert all(line.may_batch(t, 3, 0.01) for t in (first, second, third))
    assert line.may_batch(first, 0, 0.01)  # the first waits for the next slot itself
    assert line.may_batch(second, 2, 0.01) and not line.may_batch(third, 2, 0.01)
    line.leave(first)
    assert line.may_batch(third, 2, 0.01)  # one ahead of it now


def test_batch_slots_free_counts_the_window_and_a_hold():
    fake = FakeTime()
    limiter = RealmLimiter(batches_per_minute=3, clock=fake.clock)
    assert limiter.batch_slots_free() == 3
    with limiter.slot(batch=True):
        pass
    assert limiter.batch_slots_free() == 2
    limiter.hold(5.0)
    assert limiter.batch_slots_free() == 0
    fake.now += 61.0
    assert limiter.batch_slots_free() == 3
