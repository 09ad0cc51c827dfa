"""Planning: desired document + ledger row -> one action, deterministic request ids."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import policy as make_policy

from reconciler.documents import actions
from reconciler.documents.actions import (
    UNSENT_RETRY_CODES,
    Close,
    Create,
    Delete,
    Hold,
    Noop,
    Update,
)
from reconciler.documents.plan import backoff, plan_vanished, plan_write
from reconciler.documents.po.model import DesiredLine, DesiredPO, SourcePO, SourceStatus
from reconciler.documents.po.plan import skip_reason
from reconciler.documents.request_ids import request_id
from reconciler.model import (
    DesiredVendor,
    LedgerEntry,
    Lifecycle,
    LineKind,
    SourceSupplier,
    SyncStatus,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
REALM = "9130355"
POLICY = make_policy()


def desired(hash_: str = "h1", lifecycle: Lifecycle = Lifecycle.OPEN) -> DesiredPO:
    return DesiredPO(
        source_id=42,
        doc_number="PO-1",
        vendor=DesiredVendor(display_name="Nutricost", source_name="Nutricost"),
        lines=(DesiredLine(kind=LineKind.ACCOUNT, amount=Decimal("1.00"), account="Shipping"),),
        lifecycle=lifecycle,
        content_hash=hash_,
    )


def entry(**kw) -> LedgerEntry:
    fields = {
        "doc_id": 42,
        "status": SyncStatus.SYNCED,
        "qbo_id": "130",
        "sync_token": "0",
        "content_hash": "h1",
        "lifecycle": Lifecycle.OPEN,
    }
    fields.update(kw)
    return LedgerEntry(**fields)


def plan(d, e, *, policy=POLICY, force_retry=False):
    """The one action for `d` (None: gone from Luminous) given the ledger row `e`."""
    if d is None:
        return plan_vanished(e, REALM, NOW, policy, force_retry)
    return plan_write(d, e, realm_id=REALM, now=NOW, policy=policy, force=force_retry)


def rid(op: str, hash_: str = "h1") -> str:
    return request_id(REALM, 42, hash_, op)


# --- request ids and backoff -------------------------------------------------------------------


def test_request_id_is_deterministic_and_fits_batch_limit():
    """Same inputs, same id; any input changed, another id; at most 36 characters."""
    a = request_id(REALM, 42, "h1", "create")
    assert a == request_id(REALM, 42, "h1", "create")
    assert len(a) == 36
    others = {
        request_id("other", 42, "h1", "create"),
        request_id(REALM, 43, "h1", "create"),
        request_id(REALM, 42, "h2", "create"),
        request_id(REALM, 42, "h1", "update"),
    }
    assert a not in others and len(others) == 4


@given(st.integers(min_value=-5, max_value=10_000), st.floats(min_value=0, max_value=1))
def test_backoff_stays_within_half_and_all_of_the_capped_delay(attempts, jitter):
    """Backoff is never above the cap and never below half the exponential delay."""
    base, cap = timedelta(seconds=30), timedelta(hours=1)
    delay = backoff(attempts, base=base, cap=cap, jitter=jitter)
    expected = min(base * 2 ** min(max(attempts, 1) - 1, 20), cap)
    assert expected / 2 - timedelta(microseconds=1) <= delay <= cap
    assert delay <= expected + timedelta(microseconds=1)


def test_backoff_grows_then_caps():
    """Without jitter the delays double from the base half and stop at half the cap."""
    base, cap = timedelta(seconds=10), timedelta(seconds=60)
    delays = [backoff(n, base=base, cap=cap, jitter=1.0).total_seconds() for n in range(1, 6)]
    assert delays == [10, 20, 40, 60, 60]
    assert backoff(1, base=base, cap=cap, jitter=0.0) == timedelta(seconds=5)


# --- skip reasons ------------------------------------------------------------------------------


def source(status=SourceStatus.ACTIVE, approval=None) -> SourcePO:
    return SourcePO(
        id=42,
        order_numbers=("PO-1",),
        status=status,
        supplier=SourceSupplier(id=1, name="Nutricost"),
        lines=(),
        created_at=NOW,
        updated_at=NOW,
        approval_status=approval,
        order_date=date(2025, 3, 1),
    )


@pytest.mark.parametrize(
    ("status", "approval", "require", "reason"),
    [
        (SourceStatus.ACTIVE, None, True, "approval is required (sync.require_approval) but"),
        (SourceStatus.ACTIVE, None, False, None),
        (SourceStatus.ACTIVE, "approved", True, None),
        (SourceStatus.ACTIVE, "Approved", True, None),
        (SourceStatus.ACTIVE, "pending_approval", True, "awaiting approval"),
        (SourceStatus.ACTIVE, "Pending Approval", True, "awaiting approval"),
        (SourceStatus.ACTIVE, "rejected", True, "not approved (approval_status 'rejected' is"),
        (SourceStatus.ACTIVE, "pending_approval", False, None),
        (SourceStatus.DRAFT, "approved", True, "draft"),
        (SourceStatus.DRAFT, None, False, "draft"),
    ],
)
def test_skip_reason(status, approval, require, reason):
    """Drafts never go; unapproved POs wait when approval is required; with approval required,
    a PO whose approval cannot be read is not pushed (it fails closed: issue 31)."""
    policy = make_policy(require_approval=require)
    found = skip_reason(source(status, approval), policy)
    assert found == reason if reason is None else (found or "").startswith(reason)


# --- the plan table ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "e", "expected"),
    [
        # unchanged -> nothing at all
        (desired(), entry(), Noop("unchanged since the last push")),
        (desired(), entry(lifecycle=None), Noop("unchanged since the last push")),
        # new
        (desired(), None, Create(rid("create"))),
        (desired(), entry(status=SyncStatus.SKIPPED, qbo_id=None), Create(rid("create"))),
        # changed
        (desired("h2"), entry(), Update(rid("update", "h2"))),
        # closed in Luminous, with or without a content change
        (desired("h2", Lifecycle.CLOSED), entry(), Close(rid("close", "h2"))),
        # already closed in QBO, content changed again -> plain update
        (
            desired("h3", Lifecycle.CLOSED),
            entry(content_hash="h2", lifecycle=Lifecycle.CLOSED),
            Update(rid("update", "h3")),
        ),
        # re-opened in Luminous
        (desired("h3"), entry(content_hash="h2", lifecycle=Lifecycle.CLOSED), None),
        # cancelled with on_cancel = delete
        (desired("h2", Lifecycle.DELETED), entry(), Delete(rid("delete", "h2"))),
        (
            desired("h2", Lifecycle.DELETED),
            entry(content_hash="h2", lifecycle=Lifecycle.DELETED),
            Noop("unchanged since the last push"),
        ),
        # never pushed and closed or cancelled -> skipped by default
        (
            desired("h2", Lifecycle.CLOSED),
            None,
            Hold("not in QBO; already closed in Luminous", SyncStatus.SKIPPED),
        ),
        (
            desired("h2", Lifecycle.DELETED),
            None,
            Hold("not in QBO; cancelled or deleted in Luminous", SyncStatus.SKIPPED),
        ),
        # deleted in QBO by us, open again in Luminous -> a new PO
        (
            desired("h3"),
            entry(content_hash="h2", lifecycle=Lifecycle.DELETED),
            Create(rid("create", "h3")),
        ),
    ],
)
def test_plan_table(d, e, expected):
    """The documented table of desired x ledger -> action."""
    action = plan(d, e)
    if expected is None:  # re-open
        assert action == Update(rid("update", "h3"))
    else:
        assert action == expected


def test_closed_never_synced_can_be_created_closed():
    """closed_never_synced = create pushes a PO first seen closed."""
    action = plan(
        desired("h2", Lifecycle.CLOSED), None, policy=make_policy(closed_never_synced="create")
    )
    assert action == Create(rid("create", "h2"))


# --- failures, backoff, force ----------------------------------------------------------------


def test_failed_with_same_hash_is_parked_until_change_or_force():
    """A permanent failure waits for a change in Luminous or a user retry."""
    failed = entry(status=SyncStatus.FAILED, content_hash="h2", last_error_message="QBO 6000")
    action = plan(desired("h2"), failed)
    assert isinstance(action, Hold) and action.status is SyncStatus.FAILED
    assert "QBO 6000" in action.reason
    assert plan(desired("h2"), failed, force_retry=True) == Update(rid("update", "h2"))
    assert plan(desired("h3"), failed) == Update(rid("update", "h3"))


def test_retrying_waits_for_next_retry_at():
    """A transient failure backs off until next_retry_at, then goes again with the same id."""
    retrying = entry(
        status=SyncStatus.RETRYING,
        qbo_id=None,
        content_hash="h1",
        request_id=rid("create"),
        request_sent_at=NOW - timedelta(minutes=5),
        next_retry_at=NOW + timedelta(seconds=1),
    )
    action = plan(desired(), retrying)
    assert isinstance(action, Hold) and action.status is SyncStatus.RETRYING
    due = dataclasses.replace(retrying, next_retry_at=NOW)
    assert plan(desired(), due) == Create(rid("create"))
    assert plan(desired(), retrying, force_retry=True) == Create(rid("create"))


def test_retry_after_a_long_gap_is_a_create_again():
    """An unconfirmed create, however old, is planned as a create (which looks QBO up first)."""
    old = entry(
        status=SyncStatus.RETRYING,
        qbo_id=None,
        request_id=rid("create"),
        request_sent_at=NOW - timedelta(hours=2),
        next_retry_at=NOW,
    )
    assert plan(desired(), old) == Create(rid("create"))


# --- crash recovery (PENDING) ------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["create", "update", "close", "delete"])
def test_pending_replays_the_same_operation_and_request_id(operation):
    """A write in flight at a crash is repeated with the recorded request id."""
    qbo_id = None if operation == "create" else "130"
    pending = entry(
        status=SyncStatus.PENDING,
        qbo_id=qbo_id,
        request_id=rid(operation),
        request_sent_at=NOW - timedelta(seconds=30),
    )
    action = plan(desired(), pending)
    assert action.operation == operation
    assert action.request_id == rid(operation)


def test_first_create_is_a_create():
    """A PO never sent before is a create (like every create, QBO is asked first)."""
    assert plan(desired(), None) == Create(rid("create"))


def test_pending_with_unknown_request_id_falls_back_by_qbo_id():
    """A recorded id from another realm or version still replays, as create or update."""
    pending = entry(status=SyncStatus.PENDING, qbo_id=None, request_id="x" * 36)
    assert plan(desired(), pending) == Create("x" * 36)
    pending = dataclasses.replace(pending, qbo_id="130")
    assert plan(desired(), pending) == Update("x" * 36)


def test_pending_create_then_content_changed_gets_a_new_id():
    """The old create may have landed: the new create never reuses the old id (and, like every
    create, looks QBO up first)."""
    pending = entry(
        status=SyncStatus.PENDING,
        qbo_id=None,
        request_id=rid("create"),
        request_sent_at=NOW,
    )
    assert plan(desired("h2"), pending) == Create(rid("create", "h2"))


# --- vanished from Luminous ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("e", "on_delete", "expected"),
    [
        (None, "close", Noop("not in Luminous and never synced")),
        (
            entry(qbo_id=None, status=SyncStatus.SKIPPED),
            "close",
            Noop("not in Luminous and never synced"),
        ),
        (entry(), "close", Close(rid("close"))),
        (entry(), "delete", Delete(rid("delete"))),
        (entry(lifecycle=Lifecycle.CLOSED), "close", Noop("already closed in QBO")),
        (entry(lifecycle=Lifecycle.CLOSED), "delete", Delete(rid("delete"))),
        (entry(lifecycle=Lifecycle.DELETED), "delete", Noop("already deleted in QBO")),
        (
            entry(status=SyncStatus.PENDING, request_id=rid("delete")),
            "delete",
            Delete(rid("delete")),
        ),
    ],
)
def test_vanished_po(e, on_delete, expected):
    """A PO gone from Luminous is closed or deleted in QBO by policy, once."""
    assert plan(None, e, policy=make_policy(on_delete=on_delete)) == expected


def test_vanished_while_create_unconfirmed_is_parked_with_a_hint():
    """Deleted in Luminous while its create was unconfirmed: a person must look."""
    pending = entry(status=SyncStatus.PENDING, qbo_id=None, number="PO-1", request_id="r")
    action = plan(None, pending)
    assert isinstance(action, Hold) and action.status is SyncStatus.FAILED
    assert "PO-1" in action.reason


def test_vanished_while_create_waits_to_retry_is_parked_not_left_retrying():
    """Deleted in Luminous while its create waited to retry: a Noop kept it "retrying" for
    ever (re-read every pass, never settled; found by tests/crash), and the failed create may
    have landed, so a person must look, as for an unconfirmed one."""
    retrying = entry(status=SyncStatus.RETRYING, qbo_id=None, number="PO-1", request_id="r")
    action = plan(None, retrying)
    assert isinstance(action, Hold) and action.status is SyncStatus.FAILED
    assert "PO-1" in action.reason


@pytest.mark.parametrize("code", sorted(UNSENT_RETRY_CODES))
def test_vanished_while_waiting_unsent_is_skipped(code):
    """A retry that never sent a write (a future updated_at, a bill waiting for its PO) is
    skipped when its document goes: nothing of it can be in QBO."""
    waiting = entry(status=SyncStatus.RETRYING, qbo_id=None, request_id="r")
    action = plan(None, dataclasses.replace(waiting, last_error_code=code))
    assert action == Hold("deleted in Luminous before it was sent to QBO", SyncStatus.SKIPPED)


def test_unsent_retry_codes_are_the_codes_their_writers_use():
    waiting = {actions.Wait("w").code, actions.Park("p").code}  # a bill on its PO
    waiting |= {actions.BILL_WAIT_CODE, actions.BILL_PARK_CODE}  # payments, credits on a bill
    assert waiting | {"future_updated_at"} == UNSENT_RETRY_CODES


def test_every_waiting_code_has_its_fix():
    """The status page's "Failures by reason" says what to do next to each count."""
    from reconciler.documents.fixes import FIXES

    assert {code for code in UNSENT_RETRY_CODES if code not in FIXES} == set()


def test_vanished_and_failed_stays_parked():
    """A failed close of a vanished PO waits for a user retry."""
    failed = entry(status=SyncStatus.FAILED)
    assert isinstance(plan(None, failed), Hold)
    assert plan(None, failed, force_retry=True) == Close(rid("close"))


# --- properties --------------------------------------------------------------------------------

statuses = st.sampled_from(list(SyncStatus))
lifecycles = st.sampled_from(list(Lifecycle))
hashes = st.sampled_from(["h1", "h2"])


@given(
    hashes,
    lifecycles,
    st.one_of(
        st.none(),
        st.builds(
            entry,
            status=statuses,
            qbo_id=st.sampled_from([None, "130"]),
            content_hash=hashes,
            lifecycle=st.one_of(st.none(), lifecycles),
            request_id=st.one_of(st.none(), st.sampled_from([rid("create"), rid("update")])),
            request_sent_at=st.one_of(st.none(), st.just(NOW - timedelta(hours=3))),
            next_retry_at=st.one_of(st.none(), st.just(NOW + timedelta(minutes=1))),
        ),
    ),
    st.booleans(),
)
def test_plan_is_total_deterministic_and_never_creates_twice_blindly(h, life, e, force):
    """Every input gets one action, the same one twice."""
    d = desired(h, life)
    first = plan(d, e, force_retry=force)
    assert first == plan(d, e, force_retry=force)
    if isinstance(first, Create | Update | Close | Delete):
        assert len(first.request_id) <= 36
    if isinstance(first, Update | Close):
        assert e is not None and e.qbo_id is not None
    if isinstance(first, Delete):  # of a known document, or of an unconfirmed create's
        assert e is not None and (e.qbo_id is not None or e.request_id is not None)


def test_action_verbs():
    """Outcome verbs come from the action."""
    names = [a.operation for a in (Create("r"), Update("r"), Close("r"), Delete("r"), Hold("x"))]
    assert [*names, Noop("x").operation] == ["create", "update", "close", "delete", "skip", "none"]


def test_cancelled_while_create_unconfirmed_is_looked_up_and_deleted():
    """on_cancel = delete and an earlier create may have landed: delete by DocNumber, not skip."""
    unconfirmed = entry(
        status=SyncStatus.RETRYING,
        qbo_id=None,
        request_id=rid("create"),
        next_retry_at=NOW,
    )
    action = plan(desired("h2", Lifecycle.DELETED), unconfirmed)
    assert action == Delete(rid("delete", "h2"))
