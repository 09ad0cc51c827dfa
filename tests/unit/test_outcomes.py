"""Outcomes: one table of what an error means, and the ledger rows each step ends in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support import policy as make_policy

from reconciler import errors
from reconciler.documents import actions, outcomes
from reconciler.documents.outcomes import Fate, fate_of
from reconciler.model import LedgerEntry, Lifecycle, SyncStatus

T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
POLICY = make_policy()


@pytest.mark.parametrize(
    "fault,is_update,fate",
    [
        (None, False, Fate.SYNCED),
        (errors.DuplicateDocNumberFault("dup", code="6140"), False, Fate.RETRY),  # look again
        (errors.QBOParkedFault("bad", code="2020"), False, Fate.PARK),
        (errors.ObjectNotFoundFault("gone", code="610"), False, Fate.RESEND_REFS),
        (errors.ObjectNotFoundFault("gone", code="2500"), True, Fate.RESEND_REFS),
        (errors.StaleObjectFault("stale", code="5010"), True, Fate.RESEND_STALE),
        (errors.StaleObjectFault("stale", code="5010"), False, Fate.RETRY),
        (errors.QBORetryableFault("boom", code="10000"), False, Fate.RETRY),
        (errors.ThrottledFault("slow", code="3001"), True, Fate.RETRY),
        (errors.UnclearOutcome("lost", code="no_answer"), False, Fate.RETRY),
        (errors.QBOFatalFault("auth", code="3100"), False, Fate.FATAL),
        (errors.AuthorizationLost(), True, Fate.FATAL),
        (errors.InvalidSourceRecord("bad"), False, Fate.PARK),
        (ValueError("a bug"), False, Fate.PARK),  # the document fails, not the pass
    ],
)
def test_fate_of_every_error_class(fault, is_update, fate):
    """The single path, the batch path and each batch item read errors through one table."""
    assert fate_of(fault, is_update=is_update) is fate


def test_pending_carries_the_plan_id_and_new_content():
    """The pending row names the plan's requestid and the new hash; attempts reset on change."""
    base = LedgerEntry(doc_id=7, status=SyncStatus.RETRYING, content_hash="h-old", attempts=3)
    pending = outcomes.pending(base, "h-new", T, "rid-1", "PO-1")
    assert pending.request_id == "rid-1"
    assert pending.content_hash == "h-new"
    assert pending.attempts == 0
    assert pending.source_updated_at == T
    same = LedgerEntry(doc_id=7, status=SyncStatus.RETRYING, content_hash="h-new", attempts=3)
    assert outcomes.pending(same, "h-new", T, "r", "PO-1").attempts == 3


def test_synced_takes_id_and_token_from_the_answer():
    """Success records QBO's Id and SyncToken, the lifecycle, and clears the error fields."""
    pending = LedgerEntry(
        doc_id=7,
        status=SyncStatus.PENDING,
        attempts=2,
        last_error_code="x",
        next_retry_at=T,
        force_retry=True,
    )
    record = outcomes.synced(
        pending,
        Lifecycle.CLOSED,
        {"Id": "99", "SyncToken": "4"},
        verb="close",
        request_id="r",
        intuit_tid="tid",
    )
    done = record.entry
    assert (done.status, done.qbo_id, done.sync_token) == (SyncStatus.SYNCED, "99", "4")
    assert done.lifecycle is Lifecycle.CLOSED
    assert done.attempts == 3  # the two that failed, and this one
    assert done.last_error_code is None and done.next_retry_at is None
    assert not done.force_retry
    assert dict(record.outcome.extra) == {"request_id": "r", "intuit_tid": "tid"}


def test_retry_later_backs_off_then_gives_up():
    """A transient error schedules the next try (Retry-After honoured); the last one parks."""
    error = errors.ThrottledFault("slow", code="3001")
    error.retry_after = 600
    begun = LedgerEntry(doc_id=1, status=SyncStatus.PENDING, attempts=0)
    first = outcomes.retry_later(begun, "create", error, now=T, jitter=0.5, policy=POLICY)
    assert first.entry.status is SyncStatus.RETRYING
    assert first.entry.next_retry_at == T + timedelta(seconds=600)
    assert first.outcome.error_code == "3001"
    last = LedgerEntry(doc_id=1, status=SyncStatus.PENDING, attempts=POLICY.max_attempts - 1)
    gave_up = outcomes.retry_later(last, "create", error, now=T, jitter=0.5, policy=POLICY)
    assert gave_up.entry.status is SyncStatus.FAILED and gave_up.entry.next_retry_at is None
    assert gave_up.outcome.message.startswith(f"gave up after {POLICY.max_attempts} attempts")


def test_park_keeps_qbo_code_and_message():
    error = errors.QBOParkedFault("Business Validation Error", code="6000", intuit_tid="t-1")
    record = outcomes.park(LedgerEntry(doc_id=1, status=SyncStatus.PENDING), "update", error)
    assert record.entry.status is SyncStatus.FAILED
    assert record.entry.last_error_code == "6000"
    assert record.outcome.message == "QBO 6000: Business Validation Error"
    assert dict(record.outcome.extra)["intuit_tid"] == "t-1"


def test_hold_skipped_clears_the_error_and_noop_writes_no_history():
    """A skip records its reason as the row's message; unchanged leaves no history line."""
    failed = LedgerEntry(
        doc_id=3, status=SyncStatus.FAILED, last_error_code="6000", last_error_message="x"
    )
    skipped = outcomes.hold(failed, actions.Hold("draft"), number="PO-3", updated_at=T)
    assert skipped.entry.status is SyncStatus.SKIPPED
    assert (skipped.entry.last_error_code, skipped.entry.last_error_message) == (None, "draft")
    assert skipped.history
    pending = LedgerEntry(doc_id=4, status=SyncStatus.PENDING)
    unchanged = outcomes.hold(pending, actions.Noop("same"), number=None, updated_at=T)
    assert unchanged.entry.status is SyncStatus.SYNCED and not unchanged.history


def test_reject_fails_with_the_reason():
    new = LedgerEntry(doc_id=5, status=SyncStatus.PENDING)
    record = outcomes.reject(new, "line 1: negative quantity", number="PO-5", updated_at=T)
    assert record.entry.status is SyncStatus.FAILED
    assert record.entry.last_error_code == "invalid_source_record"
    assert record.outcome.action == "reject" and record.outcome.number == "PO-5"
