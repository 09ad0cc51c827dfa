"""What a writer sends in a /batch: which writes may travel in one, and each item's body."""

from __future__ import annotations

from typing import Any

import pytest
from support import rules

from reconciler.documents import actions
from reconciler.model import DocKind, LedgerEntry, Lifecycle, SyncStatus
from reconciler.write.bill import BillWriter
from reconciler.write.po import POWriter
from reconciler.write.writer import Write

PO = DocKind.PURCHASE_ORDER
OPEN = LedgerEntry(doc_id=1, status=SyncStatus.SYNCED, qbo_id="42", sync_token="3")


class Doc:
    """As much of a desired document as batching reads."""

    def __init__(self, number: str | None, lifecycle: Lifecycle = Lifecycle.OPEN) -> None:
        self.doc_number = number
        self.lifecycle = lifecycle
        self.content_hash = "h"


def po_writer() -> POWriter:
    return POWriter(None, None, None, None, rules=rules())


def bill_writer() -> BillWriter:
    return BillWriter(None, None, None, None, kind=DocKind.BILL, clock=lambda: None)


def write(action: Any, desired: Any = None, *, base: LedgerEntry = OPEN, **kw: Any) -> Write:
    return Write(PO, 1, action, desired, base, None, "PO-1", **kw)


@pytest.mark.parametrize(
    "action,number,expected",
    [
        (actions.Create("r"), "PO-1", True),
        (actions.Create("r"), "", False),  # nothing to look it up by
        (actions.Create("r"), None, False),  # nothing to look it up by later
        (actions.Update("r"), "PO-1", True),
        (actions.Close("r"), "PO-1", True),
        (actions.Delete("r"), "PO-1", False),
    ],
)
def test_which_po_writes_may_travel_in_a_batch(action, number, expected):
    """Fresh creates with a DocNumber, updates and closes; deletes go alone."""
    assert po_writer().batchable(write(action, Doc(number))) is expected


def test_a_vanished_document_close_is_not_batched():
    """Without a desired document (full sweep) the close goes the single path."""
    assert po_writer().batchable(write(actions.Close("r"), None)) is False


def test_bills_batch_creates_only():
    """A bill's edit reads the bill first (paid? its lines), so only creates are batched."""
    writer = bill_writer()
    assert writer.batchable(write(actions.Create("r"), Doc("B-1"))) is True
    assert writer.batchable(write(actions.Update("r"), Doc("B-1"))) is False


def test_po_batch_items_for_create_update_and_close():
    """A create sends the payload; an update adds Id and SyncToken and names POStatus only to
    change it; a close sets POStatus Closed."""
    writer, payload = po_writer(), {"DocNumber": "PO-1", "POStatus": "Open"}
    assert writer.batch_item(write(actions.Create("r"), Doc("PO-1")), OPEN, payload) == (
        "create",
        payload,
    )
    operation, body = writer.batch_item(write(actions.Update("r"), Doc("PO-1")), OPEN, payload)
    assert operation == "update"
    assert body == {"DocNumber": "PO-1", "Id": "42", "SyncToken": "3"}
    closing = write(actions.Close("r"), Doc("PO-1", Lifecycle.CLOSED))
    operation, body = writer.batch_item(closing, OPEN, payload)
    assert operation == "update" and body["POStatus"] == "Closed" and body["Id"] == "42"


def test_an_adoption_goes_as_an_update_of_what_qbo_holds():
    """A create found in QBO is sent as an update of that document, never a second create."""
    adopting = write(actions.Create("r"), Doc("PO-1"), adopting={"Id": "9", "SyncToken": "0"})
    begun = LedgerEntry(doc_id=1, status=SyncStatus.PENDING, qbo_id="9", sync_token="0")
    for writer in (po_writer(), bill_writer()):
        operation, body = writer.batch_item(adopting, begun, {"DocNumber": "PO-1"})
        assert operation == "update" and body["Id"] == "9" and body["SyncToken"] == "0"


@pytest.mark.parametrize(
    "action,desired,expected",
    [
        (actions.Delete("r"), Doc("PO-1"), Lifecycle.DELETED),
        (actions.Close("r"), None, Lifecycle.CLOSED),  # gone from Luminous, on_delete = close
        (actions.Close("r"), Doc("PO-1", Lifecycle.CLOSED), Lifecycle.CLOSED),
        (actions.Update("r"), Doc("PO-1"), Lifecycle.OPEN),
        (actions.Create("r"), Doc("PO-1", Lifecycle.CLOSED), Lifecycle.CLOSED),  # created closed
    ],
)
def test_lifecycle_after_a_confirmed_write(action, desired, expected):
    """What the QBO document is once QBO confirmed the write, for every kind alike (a bill's
    void is its close)."""
    for writer in (po_writer(), bill_writer()):
        assert writer.lifecycle_after(write(action, desired)) is expected
