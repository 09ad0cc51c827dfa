"""The pure batch decisions: what may be batched, ids, item fates, ledger rows, IN chunks."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler import batching, errors, plan
from reconciler.model import (
    DesiredLine,
    DesiredPO,
    DesiredVendor,
    LedgerEntry,
    Lifecycle,
    LineKind,
    SyncStatus,
)

T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
POLICY = plan.PlanPolicy()


def _desired(doc_number: str | None = "PO-1", lifecycle: Lifecycle = Lifecycle.OPEN) -> DesiredPO:
    return DesiredPO(
        source_id=7,
        doc_number=doc_number,
        vendor=DesiredVendor(display_name="Acme", source_name="Acme"),
        lines=(DesiredLine(LineKind.ACCOUNT, Decimal("1.00"), account="Shipping"),),
        lifecycle=lifecycle,
        content_hash="h-new",
    )


@pytest.mark.parametrize(
    "action,doc_number,expected",
    [
        (plan.CreatePO("r"), "PO-1", True),
        (plan.CreatePO("r", look_first=True), "PO-1", False),  # unconfirmed before: single
        (plan.CreatePO("r"), None, False),  # nothing to look it up by later
        (plan.UpdatePO("r"), "PO-1", True),
        (plan.ClosePO("r"), "PO-1", True),
        (plan.DeletePO("r"), "PO-1", False),
        (plan.Skip("why"), "PO-1", False),
        (plan.Noop("same"), "PO-1", False),
    ],
)
def test_which_writes_may_travel_in_a_batch(action, doc_number, expected):
    """Fresh creates with a DocNumber, updates and closes; never a look-first create."""
    assert batching.batchable(action, _desired(doc_number)) is expected


def test_a_vanished_po_close_is_not_batched():
    """Without a desired document (full sweep) the close goes the single path."""
    assert batching.batchable(plan.ClosePO("r"), None) is False


def test_batch_request_id_fits_the_batch_limit_and_depends_on_order():
    """36 hex characters; the same items in the same order give the same id, not otherwise."""
    rid = batching.batch_request_id(["a", "b", "c"])
    assert len(rid) == 36
    assert all(c in "0123456789abcdef" for c in rid)
    assert rid == batching.batch_request_id(["a", "b", "c"])
    assert rid != batching.batch_request_id(["b", "a", "c"])
    assert rid != batching.batch_request_id(["a", "b"])
    with pytest.raises(ValueError):
        batching.batch_request_id([])


@given(st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=30))
def test_batch_request_ids_are_always_valid(wire_ids):
    """Any group of items gives a visible-ASCII id of at most 36 characters."""
    rid = batching.batch_request_id(wire_ids)
    assert 1 <= len(rid) <= 36 and rid.isascii() and rid.isalnum()


def test_wire_id_changes_with_the_document_state():
    """The same plan id on another SyncToken is another wire id (no stale replay)."""
    one = LedgerEntry(po_id=1, status=SyncStatus.SYNCED, qbo_id="9", sync_token="0")
    two = LedgerEntry(po_id=1, status=SyncStatus.SYNCED, qbo_id="9", sync_token="1")
    assert batching.wire_request_id("r", one) != batching.wire_request_id("r", two)


@pytest.mark.parametrize(
    "fault,is_update,fate",
    [
        (None, False, batching.ItemFate.SYNCED),
        (errors.DuplicateDocNumberFault("dup", code="6140"), False, batching.ItemFate.PARK),
        (errors.QBOParkedFault("bad", code="2020"), False, batching.ItemFate.PARK),
        (errors.ObjectNotFoundFault("gone", code="610"), False, batching.ItemFate.RESEND_REFS),
        (errors.ObjectNotFoundFault("gone", code="2500"), True, batching.ItemFate.RESEND_REFS),
        (errors.StaleObjectFault("stale", code="5010"), True, batching.ItemFate.RESEND_STALE),
        (errors.StaleObjectFault("stale", code="5010"), False, batching.ItemFate.RETRY),
        (errors.QBORetryableFault("boom", code="10000"), False, batching.ItemFate.RETRY),
        (errors.ThrottledFault("slow", code="3001"), True, batching.ItemFate.RETRY),
        (errors.QBOFatalFault("auth", code="3100"), False, batching.ItemFate.FATAL),
    ],
)
def test_item_fate_follows_the_single_request_classes(fault, is_update, fate):
    """Each per-item fault is handled as the same fault on a single request."""
    assert batching.item_fate(fault, is_update=is_update) is fate


def test_batch_body_for_create_update_and_close():
    """A create sends the payload; an update adds Id and SyncToken; a close also POStatus."""
    pending = LedgerEntry(po_id=1, status=SyncStatus.PENDING, qbo_id="42", sync_token="3")
    payload = {"DocNumber": "PO-1"}
    assert batching.batch_body(plan.CreatePO("r"), pending, payload) == payload
    assert batching.batch_body(plan.UpdatePO("r"), pending, payload) == {
        "DocNumber": "PO-1",
        "Id": "42",
        "SyncToken": "3",
    }
    closed = batching.batch_body(plan.ClosePO("r"), pending, payload)
    assert closed["POStatus"] == "Closed" and closed["Id"] == "42"
    assert batching.batch_operation(plan.CreatePO("r")) == "create"
    assert batching.batch_operation(plan.ClosePO("r")) == "update"


def test_pending_entry_carries_the_plan_id_and_new_content():
    """The pending row names the plan's requestid and the new hash; attempts reset on change."""
    base = LedgerEntry(po_id=7, status=SyncStatus.RETRYING, content_hash="h-old", attempts=3)
    pending = batching.pending_entry(base, _desired(), T, plan.CreatePO("rid-1"), "PO-1")
    assert pending.request_id == "rid-1"
    assert pending.content_hash == "h-new"
    assert pending.attempts == 0
    assert pending.source_updated_at == T
    same = LedgerEntry(po_id=7, status=SyncStatus.RETRYING, content_hash="h-new", attempts=3)
    assert batching.pending_entry(same, _desired(), T, plan.CreatePO("r"), "PO-1").attempts == 3


def test_synced_entry_takes_id_and_token_from_the_answer():
    """Success records QBO's Id and SyncToken, the lifecycle, and clears the error fields."""
    pending = LedgerEntry(
        po_id=7, status=SyncStatus.PENDING, attempts=2, last_error_code="x", next_retry_at=T
    )
    done = batching.synced_entry(
        pending,
        _desired(lifecycle=Lifecycle.CLOSED),
        plan.ClosePO("r"),
        {"Id": "99", "SyncToken": "4"},
        POLICY,
    )
    assert (done.status, done.qbo_id, done.sync_token) == (SyncStatus.SYNCED, "99", "4")
    assert done.lifecycle is Lifecycle.CLOSED
    assert done.attempts == 0 and done.last_error_code is None and done.next_retry_at is None


def test_smallest_key_ignores_missing_keys():
    """The first unsettled key, or None when nothing keyed is unsettled."""
    assert batching.smallest_key([None, (T, 5), (T, 2)]) == (T, 2)
    assert batching.smallest_key([None]) is None


@given(
    st.lists(st.text(min_size=1, max_size=60), max_size=400),
    st.integers(1, 120),
    st.integers(1, 3000),
)
def test_in_chunks_keep_every_value_in_order_within_limits(values, max_values, max_chars):
    """Chunks concatenate to the input; each holds at most max_values and stays within
    max_chars unless a single value alone is longer."""
    chunks = batching.in_chunks(values, max_values=max_values, max_chars=max_chars)
    assert [v for chunk in chunks for v in chunk] == values
    for chunk in chunks:
        assert 1 <= len(chunk) <= max_values
        assert len(chunk) == 1 or sum(len(v) + 4 for v in chunk) <= max_chars


def test_batching_is_a_pure_module():
    """batching imports only the standard library and pure reconciler modules."""
    pure = {"reconciler.model", "reconciler.errors", "reconciler.plan", "reconciler"}
    source = Path(batching.__file__).read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("reconciler"):
                names = {f"{node.module}.{a.name}" for a in node.names} | {node.module}
                assert names & pure, node.module
            else:
                assert node.module.split(".")[0] in {
                    "__future__",
                    "collections",
                    "dataclasses",
                    "datetime",
                    "typing",
                }
        if isinstance(node, ast.Import):
            assert all(a.name in {"enum", "hashlib"} for a in node.names)
