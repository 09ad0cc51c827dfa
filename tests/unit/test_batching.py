"""The pure batch decisions (what may be batched, item bodies), the request-id rule for
items and batches, and IN chunks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.documents import plan, request_ids
from reconciler.model import (
    LedgerEntry,
    SyncStatus,
)
from reconciler.qbo.query import in_chunks
from reconciler.write import batching


@pytest.mark.parametrize(
    "action,doc_number,expected",
    [
        (plan.Create("r"), "PO-1", True),
        (plan.Create("r"), "", False),  # nothing to look it up by
        (plan.Create("r"), None, False),  # nothing to look it up by later
        (plan.Update("r"), "PO-1", True),
        (plan.Close("r"), "PO-1", True),
        (plan.Delete("r"), "PO-1", False),
        (plan.Hold("why"), "PO-1", False),
        (plan.Noop("same"), "PO-1", False),
    ],
)
def test_which_writes_may_travel_in_a_batch(action, doc_number, expected):
    """Fresh creates with a DocNumber, updates and closes; never a look-first create."""
    assert batching.batchable(action, doc_number) is expected


def test_a_vanished_po_close_is_not_batched():
    """Without a desired document (full sweep) the close goes the single path."""
    assert batching.batchable(plan.Close("r"), "PO-1", has_desired=False) is False


def test_batch_request_id_fits_the_batch_limit_and_depends_on_order():
    """36 hex characters; the same items in the same order give the same id, not otherwise."""
    rid = request_ids.batch_request_id(["a", "b", "c"])
    assert len(rid) == 36
    assert all(c in "0123456789abcdef" for c in rid)
    assert rid == request_ids.batch_request_id(["a", "b", "c"])
    assert rid != request_ids.batch_request_id(["b", "a", "c"])
    assert rid != request_ids.batch_request_id(["a", "b"])
    with pytest.raises(ValueError):
        request_ids.batch_request_id([])


@given(st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=30))
def test_batch_request_ids_are_always_valid(wire_ids):
    """Any group of items gives a visible-ASCII id of at most 36 characters."""
    rid = request_ids.batch_request_id(wire_ids)
    assert 1 <= len(rid) <= 36 and rid.isascii() and rid.isalnum()


def test_wire_id_changes_with_the_document_state():
    """The same plan id on another SyncToken is another wire id (no stale replay)."""
    one = LedgerEntry(doc_id=1, status=SyncStatus.SYNCED, qbo_id="9", sync_token="0")
    two = LedgerEntry(doc_id=1, status=SyncStatus.SYNCED, qbo_id="9", sync_token="1")
    assert request_ids.wire_request_id("r", one) != request_ids.wire_request_id("r", two)


def test_batch_body_for_create_update_and_close():
    """A create sends the payload; an update adds Id and SyncToken; a close also POStatus."""
    pending = LedgerEntry(doc_id=1, status=SyncStatus.PENDING, qbo_id="42", sync_token="3")
    payload = {"DocNumber": "PO-1"}
    assert batching.batch_body(plan.Create("r"), pending, payload) == payload
    assert batching.batch_body(plan.Update("r"), pending, payload) == {
        "DocNumber": "PO-1",
        "Id": "42",
        "SyncToken": "3",
    }
    closed = batching.batch_body(plan.Close("r"), pending, payload)
    assert closed["POStatus"] == "Closed" and closed["Id"] == "42"
    assert batching.batch_operation(plan.Create("r")) == "create"
    assert batching.batch_operation(plan.Close("r")) == "update"


@given(
    st.lists(st.text(min_size=1, max_size=60), max_size=400),
    st.integers(1, 120),
    st.integers(1, 3000),
)
def test_in_chunks_keep_every_value_in_order_within_limits(values, max_values, max_chars):
    """Chunks concatenate to the input; each holds at most max_values and stays within
    max_chars unless a single value alone is longer."""
    chunks = in_chunks(values, max_values=max_values, max_chars=max_chars)
    assert [v for chunk in chunks for v in chunk] == values
    for chunk in chunks:
        assert 1 <= len(chunk) <= max_values
        assert len(chunk) == 1 or sum(len(v) + 4 for v in chunk) <= max_chars


def test_batching_is_a_pure_module():
    """batching imports only the standard library and pure reconciler modules."""
    pure = {"reconciler.model", "reconciler.errors", "reconciler.documents.plan", "reconciler"}
    pure |= {"reconciler.documents"}
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
