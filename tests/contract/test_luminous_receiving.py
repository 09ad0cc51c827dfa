"""The Luminous emulator serves receiving reports (luminous_receiving.py) and purchase-order
shipments over plain HTTP, and receiving moves the PO lines' received quantities."""

from __future__ import annotations

from datetime import timedelta

import pytest
from luminous_http import T, seeded

REPORT_FIELDS = {
    "id",
    "purchase_order_id",
    "status",
    "received_date",
    "tracking_number",
    "received_by",
    "received_at",
    "shipped_via",
    "total_quantity",
    "total_tax",
    "total_cost",
    "shipping_cost",
    "purchase_orders",
    "items",
    "created_at",
    "updated_at",
}
ITEM_FIELDS = {
    "purchase_order_id",
    "purchase_order_item_id",
    "purchase_order_shipment_id",
    "quantity",
    "received_quantity",
    "unit_price",
    "tax",
    "line_total",
}


@pytest.fixture
def lum():
    with seeded() as session:
        yield session


def received(lum, po_id):
    """(line id, received_quantity) of each line of a PO, and its total_qty_received (JSON
    numbers, as the reference shows them)."""
    po = lum.data(f"/purchase-orders/{po_id}")
    return [(i["id"], i["received_quantity"]) for i in po["items"]], po["total_qty_received"]


def test_seed_receives_po_7_in_three_partial_reports(lum):
    """PO 7 (whey 2, creatine 3) arrived in three completed reports; its lines and totals say
    so, and its updated_at moved to the last report's stamp."""
    reports = lum.rows("/receiving-reports", purchase_order_id="7")
    assert [r["status"] for r in reports] == ["completed"] * 3
    assert [r["total_quantity"] for r in reports] == ["1", "2", "2"]
    assert received(lum, 7) == ([(8, 2), (9, 3)], 5)
    po = lum.data("/purchase-orders/7")
    assert (po["total_qty_ordered"], po["total_qty_remaining"], po["item_count"]) == (5, 0, 2)
    assert po["updated_at"] == reports[-1]["updated_at"] == "2026-02-28T00:30:00Z"


def test_single_report_shape(lum):
    """GET /receiving-reports/{id} wraps the documented fields; items name their PO line and
    shipment; the PO is embedded (without lines); line totals are computed."""
    report = lum.data("/receiving-reports/2")
    assert set(report) >= REPORT_FIELDS
    assert all(set(item) >= ITEM_FIELDS for item in report["items"])
    assert [po["id"] for po in report["purchase_orders"]] == [7]
    assert "items" not in report["purchase_orders"][0]
    assert [(i["purchase_order_item_id"], i["line_total"]) for i in report["items"]] == [
        (8, 40.0),
        (9, 17.5),
    ]
    assert report["total_cost"] == 57.5 and report["received_date"].endswith("Z")
    assert {i["purchase_order_shipment_id"] for i in report["items"]} == {1}
    assert lum.get("/receiving-reports/99").status_code == 404


def test_report_filters_sort_and_paging(lum):
    """The list takes field[op]=value filters, sort and per_page/page like POs."""
    desc = lum.get("/receiving-reports", sort="updated_at:desc", per_page=2).json()
    assert [r["id"] for r in desc["data"]] == [3, 2]
    assert desc["meta"]["last_page"] == 2 and desc["meta"]["total"] == 3
    since = lum.rows("/receiving-reports", **{"received_date[gte]": "2026-02-28T00:20:00Z"})
    assert [r["id"] for r in since] == [2, 3]
    assert [r["id"] for r in lum.rows("/receiving-reports", received_by="Dock crew 2")] == [2]
    assert lum.rows("/receiving-reports", status="draft") == []


def test_draft_receives_nothing_until_completed(lum):
    """A draft report leaves the PO alone; completing it adds its quantities and bumps the
    PO's updated_at; completing twice is 409."""
    emu = lum.emu
    draft = emu.receiving.create(
        {
            "purchase_order_id": 1,
            "status": "draft",
            "items": [{"purchase_order_item_id": 1, "received_quantity": "4"}],
        }
    )
    assert received(lum, 1) == ([(1, 0), (2, 0)], 0)
    emu.set_now(T + timedelta(minutes=10))
    answer = lum.admin("POST", f"/receiving-reports/{draft['id']}/complete")
    assert answer.json()["data"]["status"] == "completed"
    assert received(lum, 1) == ([(1, 4), (2, 0)], 4)
    assert lum.data("/purchase-orders/1")["updated_at"] == "2026-03-02T12:10:00Z"
    assert lum.admin("POST", f"/receiving-reports/{draft['id']}/complete").status_code == 409


def test_edit_and_delete_move_received_quantities_by_the_difference(lum):
    """Editing a completed report re-receives the difference on top of any base value;
    deleting it takes its quantities off again."""
    emu = lum.emu
    emu.edit_po(
        1, {"items": [{"id": 1, "product_id": 1, "quantity": "10", "received_quantity": "1"}]}
    )
    report = emu.receiving.create(
        {"purchase_order_id": 1, "items": [{"purchase_order_item_id": 1, "received_quantity": 3}]}
    )
    assert received(lum, 1) == ([(1, 4)], 4)
    emu.receiving.edit(
        report["id"], {"items": [{"purchase_order_item_id": 1, "received_quantity": "2.5"}]}
    )
    assert received(lum, 1) == ([(1, 3.5)], 3.5)
    emu.receiving.delete(report["id"])
    assert received(lum, 1) == ([(1, 1)], 1)
    assert lum.get(f"/receiving-reports/{report['id']}").status_code == 404


def test_receiving_can_leave_the_po_stamp_alone():
    """With receiving_touches_po off, quantities move but the PO's updated_at does not: the
    edit a poll by updated_at cannot see."""
    with seeded(receiving_touches_po=False) as lum:
        before = lum.data("/purchase-orders/1")["updated_at"]
        lum.emu.set_now(T + timedelta(hours=1))
        lum.emu.receiving.create({"purchase_order_id": 1, "items": [{"purchase_order_item_id": 2}]})
        po = lum.data("/purchase-orders/1")
        assert po["updated_at"] == before and po["total_qty_received"] == 1


def test_report_billable_lines(lum):
    """Billable lines of a report: what it received that is not billed yet (PO 7's whey is
    billed in full, its creatine not at all)."""
    rows = lum.rows("/receiving-reports/2/billable-lines")
    assert [
        (r["purchase_order_item_id"], r["received_quantity"], r["quantity_billable"]) for r in rows
    ] == [
        (8, "1", "0"),
        (9, "1", "1"),
    ]
    assert rows[0]["product"]["sku"] == "NC-WHEY-5"


def test_create_over_the_public_api_validates_the_po_line(lum):
    """POST /receiving-reports needs a PO and known PO lines (422 otherwise)."""
    assert lum.call("POST", "/receiving-reports", {"items": []}).status_code == 422
    bad = lum.call(
        "POST",
        "/receiving-reports",
        {"purchase_order_id": 1, "items": [{"purchase_order_item_id": 9}]},
    )
    assert bad.status_code == 422 and "purchase_order_item_id" in bad.json()["errors"]
    made = lum.call(
        "POST",
        "/receiving-reports",
        {"purchase_order_id": 3, "items": [{"purchase_order_item_id": 4, "received_quantity": 5}]},
    )
    assert made.status_code == 201 and received(lum, 3) == ([(4, 5)], 5)


def test_admin_controls_mirror_the_python_ones(lum):
    """Over /__admin: create (stamped), edit, backdate updated_at, delete a receiving report."""
    created = lum.admin(
        "POST",
        "/receiving-reports",
        {
            "fields": {
                "purchase_order_id": 8,
                "items": [{"purchase_order_item_id": 10, "received_quantity": 200}],
            },
            "updated_at": "2026-03-01T08:00:00Z",
        },
    ).json()["data"]
    assert created["updated_at"] == "2026-03-01T08:00:00Z"
    path = f"/receiving-reports/{created['id']}"
    edited = lum.admin("PATCH", path, {"changes": {"tracking_number": "TRK-1"}}).json()["data"]
    assert edited["tracking_number"] == "TRK-1"
    lum.admin("POST", f"{path}/updated_at", {"updated_at": "2026-01-01T00:00:00Z"})
    assert lum.data(path)["updated_at"] == "2026-01-01T00:00:00Z"
    assert lum.admin("PATCH", path, {"changes": {"status": "lost"}}).status_code == 422
    assert lum.admin("DELETE", path).json() == {"deleted": created["id"]}
    assert received(lum, 8) == ([(10, 0)], 0)


def test_purchase_order_shipments(lum):
    """The seed shipment is listed, fetched by id and under its PO, with both the CLI's and the
    reference's field names."""
    shipments = lum.rows("/purchase-order-shipments")
    assert [(s["id"], s["purchase_order_id"], s["carrier"]) for s in shipments] == [
        (1, 7, "UPS Freight")
    ]
    under_po = lum.rows("/purchase-orders/7/shipments")
    assert under_po == shipments
    one = lum.data("/purchase-orders/7/shipments/1")
    assert one["shipment_status"] == {"id": 2, "name": "in_transit"}
    assert [i["supplier_purchase_order_item_id"] for i in one["shipment_items"]] == [8, 9]
    assert lum.get("/purchase-orders/1/shipments/1").status_code == 404
    assert lum.get("/purchase-orders/999/shipments").status_code == 404
