"""QBO emulator: transaction line Ids survive updates and are never reused (PO and Bill).

Source: Intuit's PurchaseOrder and Bill entity references, Line.Id: "If Id is greater than zero
and exists for the company, the request is considered an update operation for a line item. If no
Id is provided, the Id provided is less than or equal to zero, or the Id provided is greater
than zero and does not exist for the company then the request is considered a create operation
for a line item." Lines a full update leaves out are gone, and so is a line a sparse update with
a Line list leaves out (the list replaces the old one). Bill links point at these Ids
(qbo-api.md), so a reused Id would silently re-point a link.
"""

from __future__ import annotations

import pytest
from qbo_purchase_bodies import bill_body, item_line, po_with_lines


def _po(qbo):
    return po_with_lines(qbo)


def _bill(qbo):
    lines = [item_line(qbo.GADGET, 10, 2.50), item_line(qbo.WIDGET, 2, 5.00)]
    return qbo.create("bill", bill_body(lines=lines))


@pytest.mark.parametrize(("resource", "make"), [("purchaseorder", _po), ("bill", _bill)])
def test_a_line_sent_with_its_id_keeps_it_and_a_new_line_gets_max_plus_one(qbo, resource, make):
    """Ids 1, 2; update sending line 2 with its Id and a new line: Ids 2 and 3."""
    created = make(qbo)
    assert [line["Id"] for line in created["Line"]] == ["1", "2"]
    second = created["Line"][1]
    body = {"Id": created["Id"], "SyncToken": created["SyncToken"], "sparse": True}
    updated = qbo.create(resource, body | {"Line": [second, item_line(qbo.GADGET, 1, 2.50)]})
    assert [line["Id"] for line in updated["Line"]] == ["2", "3"]
    assert [line["LineNum"] for line in updated["Line"]] == [1, 2]


@pytest.mark.parametrize(("resource", "make"), [("purchaseorder", _po), ("bill", _bill)])
def test_a_removed_line_id_is_never_handed_out_again(qbo, resource, make):
    """Drop line 2, then add a line: it gets 3, not 2."""
    created = make(qbo)
    body = {"Id": created["Id"], "sparse": True}
    first_only = qbo.create(resource, body | {"SyncToken": "0", "Line": [created["Line"][0]]})
    assert [line["Id"] for line in first_only["Line"]] == ["1"]
    again = qbo.create(
        resource,
        body | {"SyncToken": "1", "Line": [first_only["Line"][0], item_line(qbo.WIDGET, 1, 5.00)]},
    )
    assert [line["Id"] for line in again["Line"]] == ["1", "3"]


@pytest.mark.parametrize("unknown", ["0", "-4", "99"])
def test_an_id_that_is_zero_negative_or_unknown_creates_a_line(qbo, unknown):
    """Such an Id is not kept: the line is new and gets the next Id."""
    po = _po(qbo)
    line = item_line(qbo.GADGET, 1, 2.50) | {"Id": unknown}
    full = {"Id": po["Id"], "SyncToken": "0", "VendorRef": {"value": qbo.ACME}, "Line": [line]}
    updated = qbo.create("purchaseorder", full)
    assert [line["Id"] for line in updated["Line"]] == ["3"]


def test_a_full_update_without_line_ids_renumbers_from_the_high_water_mark(qbo):
    """The client that sends lines without Ids gets new Ids each time (3, 4 after 1, 2)."""
    po = _po(qbo)
    lines = [item_line(qbo.GADGET, 10, 2.50), item_line(qbo.WIDGET, 2, 5.00)]
    full = {"Id": po["Id"], "SyncToken": "0", "VendorRef": {"value": qbo.ACME}, "Line": lines}
    updated = qbo.create("purchaseorder", full)
    assert [line["Id"] for line in updated["Line"]] == ["3", "4"]
