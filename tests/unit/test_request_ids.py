"""The request-id rule for items and batches, and the IN chunks of look-ups."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.documents import request_ids
from reconciler.model import LedgerEntry, SyncStatus
from reconciler.qbo.query import in_chunks


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
