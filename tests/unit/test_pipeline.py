"""The write pipeline with a fake writer and a fake /batch sender: the order of outcomes,
batches of 30, faults per item and per batch, and a document seen again while out."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from support import policy

from reconciler import errors
from reconciler.documents import actions, identity
from reconciler.model import DocKind, LedgerEntry, Lifecycle, SyncStatus
from reconciler.qbo.wire import BatchItemResult, GroupAnswer
from reconciler.write.pipeline import PREPARE_EVERY, Write, WritePipeline

T = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
PO = DocKind.PURCHASE_ORDER


@dataclass(frozen=True)
class Doc:
    """A desired document, as small as the pipeline needs it."""

    n: int
    content_hash: str = "h"
    batchable: bool = True


@dataclass
class FakeWriter:
    """A DocumentWriter that remembers every call and fails when told to."""

    entity: str = "PurchaseOrder"
    sent: list[tuple[int, str, str | None]] = field(default_factory=list)
    failures: dict[int, list[BaseException]] = field(default_factory=dict)  # per doc, in turn
    payload_failures: dict[int, BaseException] = field(default_factory=dict)
    forgotten: list[int] = field(default_factory=list)
    prefetched: list[list[int]] = field(default_factory=list)
    tokens_read: int = 0
    in_qbo: dict[int, Any] = field(default_factory=dict)  # doc -> what QBO holds for it
    lookups: list[list[int]] = field(default_factory=list)
    confirmed_docs: list[int] = field(default_factory=list)
    built: list[int] = field(default_factory=list)  # the documents whose body was built

    def identify(self, creates):
        self.lookups.append([w.doc_id for w, _ in creates])
        return [self.in_qbo.get(w.doc_id, identity.New()) for w, _ in creates]

    def differs(self, payload, entity):
        return entity.get("n") != payload["n"]

    def confirmed(self, write, entity):
        self.confirmed_docs.append(write.doc_id)

    def prefetch(self, desired, creating=()):
        self.prefetched.append([d.n for d in desired])

    def warm(self):
        self.prefetched.append(["warm"])

    def payload(self, desired):
        if desired.n in self.payload_failures:
            raise self.payload_failures[desired.n]
        self.built.append(desired.n)
        return {"n": desired.n}

    def batchable(self, write):
        return write.desired is not None and write.desired.batchable

    def batch_item(self, write, begun, payload):
        return ("update" if write.adopting else "create"), dict(payload)

    def send(self, write, begun, payload, request_id):
        self.sent.append((write.doc_id, request_id, begun.sync_token))
        queue = self.failures.get(write.doc_id)
        if queue:
            raise queue.pop(0)
        return {"Id": f"q{write.doc_id}", "SyncToken": "1"}, "tid-single"

    def forget_refs(self, desired):
        self.forgotten.append(desired.n)

    def current(self, begun):
        self.tokens_read += 1
        return {"Id": begun.qbo_id, "SyncToken": "7"}

    def lifecycle_after(self, write):
        return Lifecycle.OPEN


@dataclass
class FakeRecorder:
    """The ledger side: what was begun, and every record in the order recorded."""

    begun: list[list[int]] = field(default_factory=list)
    records: list = field(default_factory=list)

    def begin(self, entries, verbs, *, bodies=()):
        self.begun.append([e.doc_id for e in entries])
        return [replace(e, status=SyncStatus.PENDING) for e in entries]

    def record(self, records):
        self.records.extend(records)

    def outcome_of(self, doc_id: int):
        return [r for r in self.records if r.entry.doc_id == doc_id]

    @property
    def order(self) -> list[int]:
        return [r.entry.doc_id for r in self.records]


class FakeBatch:
    """QBOClient.batch: one answer per op; faults per doc number; optional gate to hold it."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.item_faults: dict[int, BaseException] = {}
        self.whole: BaseException | None = None
        self.gate: threading.Event | None = None

    def __call__(self, ops, *, request_id, item_request_ids, resend_unclear):
        if self.gate is not None:
            assert self.gate.wait(5)
        docs = [op.body["n"] for op in ops]
        self.calls.append(docs)
        if self.whole is not None:
            raise self.whole
        results = [
            BatchItemResult(op.bid, op.entity, fault=self.item_faults[n], intuit_tid="tid-b")
            if n in self.item_faults
            else BatchItemResult(
                op.bid, op.entity, entity={"Id": f"q{n}", "SyncToken": "0"}, intuit_tid="tid-b"
            )
            for op, n in zip(ops, docs, strict=True)
        ]
        return GroupAnswer(results, as_batch=len(ops) > 1)


@pytest.fixture
def parts():
    writer, recorder, batch = FakeWriter(), FakeRecorder(), FakeBatch()
    pipeline = WritePipeline(
        {PO: writer},
        recorder,
        batch,
        policy=policy(),
        clock=lambda: T,
        rng=random.Random(1),
        lookahead=30,  # one group per flush: these tests are about one group's life
    )
    return pipeline, writer, recorder, batch


def write(n: int, *, action: actions.WriteAction | None = None, **doc: Any) -> Write:
    base = LedgerEntry(doc_id=n, status=SyncStatus.PENDING, qbo_id=f"q{n}", sync_token="0")
    if action is None:
        action = actions.Create(f"r{n}")
        base = LedgerEntry(doc_id=n, status=SyncStatus.PENDING)
    return Write(PO, n, action, Doc(n, **doc), base, T, f"PO-{n}")


def test_a_backlog_goes_out_30_to_a_batch_and_is_recorded_in_order(parts):
    """70 writes: batches of 30, 30 and 10; every outcome synced, in the order handed over."""
    pipeline, writer, recorder, batch = parts
    with pipeline:
        for n in range(1, 71):
            pipeline.submit(write(n))
    assert [len(c) for c in batch.calls] == [30, 30, 10]
    assert recorder.begun == batch.calls  # each batch begun in the ledger before it left
    assert recorder.order == list(range(1, 71))
    assert all(r.entry.status is SyncStatus.SYNCED for r in recorder.records)
    assert writer.sent == [] and pipeline.batches_sent == 3
    assert recorder.records[0].entry.qbo_id == "q1"


def test_a_write_that_cannot_batch_waits_for_the_batches_out_then_goes_alone(parts):
    """A single write is recorded after every batch sent before it."""
    pipeline, writer, recorder, batch = parts
    with pipeline:
        for n in range(1, 31):
            pipeline.submit(write(n))  # one full batch, sent
        pipeline.submit(write(99, batchable=False))
    assert batch.calls == [list(range(1, 31))]
    assert recorder.order == [*range(1, 31), 99]
    assert writer.sent == [(99, writer.sent[0][1], None)]


def test_one_buffered_write_goes_alone_at_close(parts):
    """A batch of one would spend batch quota for nothing: it is a single request."""
    pipeline, writer, recorder, batch = parts
    with pipeline:
        pipeline.submit(write(5))
    assert batch.calls == [] and [s[0] for s in writer.sent] == [5]
    assert recorder.order == [5]


def test_a_fatal_item_stops_after_the_others_are_recorded(parts):
    """A Fatal fault on one item: its siblings' outcomes are recorded, then the pass stops;
    the fatal item stays pending (begun, no outcome) for the next pass."""
    pipeline, _writer, recorder, batch = parts
    batch.item_faults[2] = errors.QBOFatalFault("auth", code="3100")
    with pytest.raises(errors.QBOFatalFault), pipeline:
        for n in (1, 2, 3):
            pipeline.submit(write(n))
    assert recorder.begun == [[1, 2, 3]]
    assert recorder.order == [1, 3]


def test_buffered_writes_are_dropped_unsent_after_a_fatal(parts):
    """Leaving the pipeline on an error sends nothing more: nothing buffered was begun."""
    pipeline, writer, recorder, batch = parts
    with pytest.raises(RuntimeError), pipeline:
        pipeline.submit(write(1))
        pipeline.submit(write(2))
        raise RuntimeError("stop")
    assert batch.calls == [] and writer.sent == [] and recorder.records == []


def test_a_document_seen_again_while_its_write_is_out_is_settled_first(parts):
    """settle() sends the buffer and waits for the answer: the outcome is in before it returns."""
    pipeline, _writer, recorder, batch = parts
    batch.gate = threading.Event()
    with pipeline:
        pipeline.submit(write(1))
        pipeline.submit(write(2))
        threading.Timer(0.05, batch.gate.set).start()
        pipeline.settle((PO, 2))
        assert recorder.order == [1, 2]  # answered and recorded before settle() returned
        pipeline.settle((PO, 3))  # nothing of 3 is out: nothing to wait for
        assert batch.calls == [[1, 2]]


def test_a_vanished_reference_is_resolved_afresh_and_sent_alone_once(parts):
    """610 on a batch item: forget the references, rebuild the body, one single send under a
    new requestid."""
    pipeline, writer, recorder, batch = parts
    batch.item_faults[2] = errors.ObjectNotFoundFault("gone", code="610")
    with pipeline:
        pipeline.submit(write(1))
        pipeline.submit(write(2))
    assert writer.forgotten == [2]
    assert [s[0] for s in writer.sent] == [2]
    assert recorder.outcome_of(2)[0].entry.status is SyncStatus.SYNCED
    request_id = writer.sent[0][1]
    assert dict(recorder.outcome_of(2)[0].outcome.extra)["request_id"] == request_id


def test_a_stale_sync_token_is_reread_and_the_update_sent_again(parts):
    """5010 on an update: QBO's SyncToken is read, the update goes with it (new requestid);
    after STALE_RETRIES the document retries later."""
    pipeline, writer, recorder, _batch = parts
    stale = errors.StaleObjectFault("stale", code="5010")
    writer.failures[4] = [stale]
    writer.failures[5] = [stale] * 4
    with pipeline:
        pipeline.submit(write(4, action=actions.Update("u4"), batchable=False))
        pipeline.submit(write(5, action=actions.Update("u5"), batchable=False))
    assert [s for s in writer.sent if s[0] == 4][-1][2] == "7"  # the token read back
    assert recorder.outcome_of(4)[0].entry.status is SyncStatus.SYNCED
    assert recorder.outcome_of(5)[0].entry.status is SyncStatus.RETRYING
    assert writer.tokens_read == 1 + 3


def test_a_lost_batch_backs_off_every_item(parts):
    """No answer to the batch: each item retries later (its create will look first)."""
    pipeline, _writer, recorder, batch = parts
    batch.whole = errors.UnclearOutcome("lost", code="no_answer")
    with pipeline:
        for n in (1, 2, 3):
            pipeline.submit(write(n))
    assert recorder.order == [1, 2, 3]
    assert {r.entry.status for r in recorder.records} == {SyncStatus.RETRYING}


def test_a_refused_batch_sends_each_item_alone(parts):
    """QBO refused the batch as a whole (nothing done): every item gets its own request."""
    pipeline, writer, recorder, batch = parts
    batch.whole = errors.QBOParkedFault("bad batch", code="2010")
    with pipeline:
        for n in (1, 2, 3):
            pipeline.submit(write(n))
    assert sorted(s[0] for s in writer.sent) == [1, 2, 3]
    assert all(r.entry.status is SyncStatus.SYNCED for r in recorder.records)


def test_a_body_that_cannot_be_built_fails_alone_and_the_rest_batch(parts):
    """One document's references fail: recorded failed at once; the others go as one batch."""
    pipeline, writer, recorder, batch = parts
    writer.payload_failures[2] = errors.Parked("item 'X' is inactive", code="item_inactive")
    with pipeline:
        for n in (1, 2, 3):
            pipeline.submit(write(n))
    assert writer.prefetched == [[1, 2, 3]]
    assert batch.calls == [[1, 3]]
    assert recorder.order == [2, 1, 3]
    assert recorder.outcome_of(2)[0].entry.status is SyncStatus.FAILED


def test_every_create_is_looked_up_in_qbo_first_once_per_group(parts):
    """One look-up for each group of creates (a batch, or one create alone); updates need none."""
    pipeline, writer, _recorder, batch = parts
    with pipeline:
        for n in range(1, 31):
            pipeline.submit(write(n))
        pipeline.submit(write(40, action=actions.Update("u40"), batchable=False))
        pipeline.submit(write(41, batchable=False))
    assert writer.lookups == [list(range(1, 31)), [41]]
    assert [len(c) for c in batch.calls] == [30]


def test_a_match_in_qbo_is_adopted_updated_only_when_it_differs(parts):
    """QBO already holds 1 (same content) and 2 (other content): 1 is recorded adopted with no
    write, 2 goes as an update of QBO's document in the batch, 3 is created."""
    pipeline, writer, recorder, batch = parts
    writer.in_qbo[1] = identity.Adopt({"Id": "71", "SyncToken": "4", "n": 1})
    writer.in_qbo[2] = identity.Adopt({"Id": "72", "SyncToken": "9", "n": 999})
    with pipeline:
        for n in (1, 2, 3, 4):
            pipeline.submit(write(n))
    assert batch.calls == [[2, 3, 4]]
    assert recorder.begun == [[2, 3, 4]]  # nothing begun for 1: nothing was sent
    one, two = recorder.outcome_of(1)[0], recorder.outcome_of(2)[0]
    assert (one.outcome.action, one.entry.qbo_id, one.entry.adopted) == ("adopt", "71", True)
    assert (two.outcome.action, two.entry.adopted) == ("adopt", True)
    assert recorder.outcome_of(3)[0].outcome.action == "create"
    assert not recorder.outcome_of(3)[0].entry.adopted


def test_a_conflict_in_qbo_is_a_failure_never_a_create(parts):
    """QBO holds the number for another vendor: that document fails with the reason, alone."""
    pipeline, _writer, recorder, batch = parts
    _writer.in_qbo[2] = identity.Conflict("PO number 'PO-2' is already QBO PurchaseOrder 9 ...")
    with pipeline:
        for n in (1, 2, 3):
            pipeline.submit(write(n))
    assert batch.calls == [[1, 3]]
    failed = recorder.outcome_of(2)[0]
    assert failed.entry.status is SyncStatus.FAILED
    assert failed.entry.last_error_code == "6140"  # a duplicate document number
    assert "QBO PurchaseOrder 9" in failed.outcome.message


def test_a_group_s_bodies_are_built_just_before_it_is_sent():
    """A full buffer holds 510 writes: their bodies are built a group at a time, as each
    group is begun, so the ones still waiting for room in flight hold no payload yet."""
    writer, batch = FakeWriter(), FakeBatch()
    built_when_begun: list[int] = []

    class Watching(FakeRecorder):
        def begin(self, entries, verbs, *, bodies=()):
            built_when_begun.append(len(writer.built))
            return super().begin(entries, verbs, bodies=bodies)

    pipeline = WritePipeline(
        {PO: writer}, Watching(), batch, policy=policy(), clock=lambda: T, rng=random.Random(1),
        lookahead=90, in_flight=1,
    )  # fmt: skip
    with pipeline:
        for n in range(1, 91):
            pipeline.submit(write(n))
    assert built_when_begun == [30, 60, 90]
    assert batch.calls == [list(range(1, 31)), list(range(31, 61)), list(range(61, 91))]


def test_a_full_lookahead_resolves_and_looks_up_once_then_sends_groups_of_30():
    """The buffer's documents share one reference prefetch (which asks QBO for their
    DocNumbers too, in the look-up's own IN lists); then each group of 30 has its bodies built
    and its identities decided (from what the prefetch asked) just before it goes, in order."""
    writer, recorder, batch = FakeWriter(), FakeRecorder(), FakeBatch()
    pipeline = WritePipeline(
        {PO: writer}, recorder, batch, policy=policy(), clock=lambda: T, rng=random.Random(1),
        lookahead=75,
    )  # fmt: skip
    with pipeline:
        for n in range(1, 76):
            pipeline.submit(write(n))
        assert writer.prefetched == [list(range(1, 76))]  # the 75th submit flushed them all
    groups = [list(range(1, 31)), list(range(31, 61)), list(range(61, 76))]
    assert writer.lookups == groups
    assert batch.calls == groups
    assert recorder.order == list(range(1, 76))
    assert pipeline.batches_sent == 3 and pipeline.groups_alone == 0


def _backlog_pipeline(writer, recorder, batch) -> WritePipeline:
    """A pipeline with a window of 1,020: writes stay buffered, prepared ahead, until close."""
    return WritePipeline(
        {PO: writer}, recorder, batch, policy=policy(), clock=lambda: T, rng=random.Random(1),
        lookahead=1020,
    )  # fmt: skip


class GatedWriter(FakeWriter):
    """Its prefetch waits at a gate, so a test can see what runs while it is under way."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.threads: list[str] = []

    def prefetch(self, desired, creating=()):
        self.threads.append(threading.current_thread().name)
        if not self.gate.wait(5):
            raise AssertionError("the gate was never opened")
        super().prefetch(desired, creating)

    def payload(self, desired):
        assert not self.threads or self.gate.is_set(), "a body built while a prefetch ran"
        return super().payload(desired)


def test_every_150_buffered_writes_are_prepared_ahead_while_the_engine_reads_on():
    """The 150th submit hands those 150 to the prepare thread and returns at once (the
    engine reads on, QBO is not idle); the flush waits for it, then prepares the whole
    buffer (what was prepared ahead is cached), and only then builds a body."""
    assert PREPARE_EVERY == 150
    writer, recorder, batch = GatedWriter(), FakeRecorder(), FakeBatch()
    pipeline = _backlog_pipeline(writer, recorder, batch)
    with pipeline:
        for n in range(1, 351):
            pipeline.submit(write(n))  # returns while the first preparation waits at its gate
        assert writer.threads and writer.threads[0].startswith("prepare")
        assert batch.calls == [] and writer.prefetched == []
        writer.gate.set()
    assert writer.prefetched[:2] == [list(range(1, 151)), list(range(151, 301))]
    assert writer.prefetched[2] == list(range(1, 351))  # the flush: all of the buffer
    assert recorder.order == list(range(1, 351))


def test_warm_reads_on_the_prepare_thread_before_the_first_preparation():
    """`warm` (the index, the accounts: nothing a document decides) goes to the prepare
    thread and returns at once, so the engine reads Luminous meanwhile; the preparations
    queue behind it, in order, and the flush waits for all of them."""
    writer, recorder, batch = GatedWriter(), FakeRecorder(), FakeBatch()
    warmed: list[str] = []

    def warm():
        warmed.append(threading.current_thread().name)
        if not writer.gate.wait(5):
            raise AssertionError("the gate was never opened")
        writer.prefetched.append(["warm"])

    writer.warm = warm
    pipeline = _backlog_pipeline(writer, recorder, batch)
    with pipeline:
        pipeline.warm(PO)  # returns while warm waits at the gate
        for n in range(1, 151):
            pipeline.submit(write(n))
        assert warmed and warmed[0].startswith("prepare") and writer.prefetched == []
        writer.gate.set()
    assert writer.prefetched[0] == ["warm"]
    assert writer.prefetched[1] == list(range(1, 151))  # the preparation ahead, after it
    assert recorder.order == list(range(1, 151))


def test_a_fatal_while_warming_stops_the_pass_at_the_flush_with_nothing_begun():
    class Refused(FakeWriter):
        def warm(self):
            raise errors.AuthorizationLost("refresh token expired")

    writer, recorder, batch = Refused(), FakeRecorder(), FakeBatch()
    pipeline = _backlog_pipeline(writer, recorder, batch)
    with pytest.raises(errors.AuthorizationLost), pipeline:
        pipeline.warm(PO)
        for n in range(1, 40):
            pipeline.submit(write(n))
    assert recorder.begun == [] and batch.calls == []


def test_a_fatal_in_a_preparation_ahead_stops_the_pass_with_nothing_begun():
    """An authorization failure on the prepare thread is raised on the engine's thread at
    the next flush; nothing of the buffer was begun or sent."""

    class Refused(FakeWriter):
        def prefetch(self, desired, creating=()):
            raise errors.AuthorizationLost("refresh token expired")

    writer, recorder, batch = Refused(), FakeRecorder(), FakeBatch()
    pipeline = _backlog_pipeline(writer, recorder, batch)
    with pytest.raises(errors.AuthorizationLost), pipeline:
        for n in range(1, 400):
            pipeline.submit(write(n))
    assert recorder.begun == [] and batch.calls == []


def test_a_group_whose_writes_went_alone_is_counted_apart_and_recorded_the_same():
    """When QBO's batch budget is spent the group's writes go alone (`qbo.groups`): the
    pipeline takes their answers exactly as a batch's, and does not count a batch."""
    writer, recorder = FakeWriter(), FakeRecorder()
    inner = FakeBatch()

    def alone(ops, **kw):
        return GroupAnswer(inner(ops, **kw).results, as_batch=False)

    pipeline = WritePipeline(
        {PO: writer}, recorder, alone, policy=policy(), clock=lambda: T, rng=random.Random(1)
    )
    inner.item_faults[2] = errors.QBOParkedFault("Business Validation Error", code="6000")
    with pipeline:
        for n in range(1, 4):
            pipeline.submit(write(n))
    assert pipeline.batches_sent == 0 and pipeline.groups_alone == 1
    assert recorder.outcome_of(1)[-1].entry.status is SyncStatus.SYNCED
    assert recorder.outcome_of(2)[-1].entry.status is SyncStatus.FAILED


def test_qbos_own_duplicate_number_answer_is_looked_up_again_not_parked(parts):
    """6140 from QBO itself (its duplicate-number check is on): a PO under the number appeared
    after the look-up, so the create retries, and the retry's look-up adopts it or names the
    conflict; it is not parked as if the document were wrong."""
    pipeline, _writer, recorder, batch = parts
    batch.item_faults[2] = errors.DuplicateDocNumberFault(
        "Duplicate Document Number Error", code="6140"
    )
    with pipeline:
        for n in (1, 2, 3):
            pipeline.submit(write(n))
    assert recorder.outcome_of(2)[-1].entry.status is SyncStatus.RETRYING
    assert recorder.outcome_of(1)[-1].entry.status is SyncStatus.SYNCED


def test_creates_of_two_kinds_in_one_group_are_each_looked_up_by_their_own_writer():
    """The retries can put a PO and a bill in one batch: each kind's creates are looked up by
    that kind's writer (a bill among bills, by number and vendor), never by the other's."""
    po_writer, bill_writer = FakeWriter(), FakeWriter(entity="Bill")
    bill_writer.in_qbo[2] = identity.Adopt({"Id": "b2", "SyncToken": "0", "n": 2})
    recorder, batch = FakeRecorder(), FakeBatch()
    pipeline = WritePipeline(
        {PO: po_writer, DocKind.BILL: bill_writer},
        recorder,
        batch,
        policy=policy(),
        clock=lambda: T,
        rng=random.Random(1),
    )
    with pipeline:
        pipeline.submit(write(1))
        bill = write(2)
        pipeline.submit(
            replace(bill, kind=DocKind.BILL, base=replace(bill.base, kind=DocKind.BILL))
        )
        pipeline.submit(write(3))
    assert po_writer.lookups == [[1, 3]] and bill_writer.lookups == [[2]]
    assert batch.calls == [[1, 3]]  # the bill was found in QBO: adopted, nothing sent
    adopted = recorder.outcome_of(2)[0]
    assert adopted.entry.qbo_id == "b2" and adopted.entry.kind is DocKind.BILL
