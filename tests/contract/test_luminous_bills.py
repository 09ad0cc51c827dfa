"""The Luminous emulator serves bills (luminous_bills.py) over plain HTTP: lists with the PO
list's filters, sort and paging; single bills; allocations; billable and candidate lines; the
status actions; and the awkward seed bills."""

from __future__ import annotations

from datetime import timedelta

import pytest
from luminous_http import SEED_BASE, T, by_memo, seeded

from reconciler.sandbox.luminous.seed_billing import BILL_NUMBERS


@pytest.fixture
def lum():
    with seeded() as session:
        yield session


CLI_COLUMNS = {"id", "vendor_name", "status", "total", "total_paid", "total_due", "bill_date"}


def test_bill_list_has_the_cli_columns_and_every_seed_case(lum):
    """GET /bills answers {data, meta}; each row has the CLI's columns; the deleted seed bill
    is not listed, the void one is."""
    body = lum.get("/bills").json()
    assert body["meta"] == {
        "current_page": 1,
        "last_page": 1,
        "per_page": 10,
        "total": 10,
        "from": 1,
        "to": 10,
    }
    assert all(CLI_COLUMNS | {"due_date"} <= set(row) for row in body["data"])
    bills = by_memo(lum)
    assert set(bills) == set(BILL_NUMBERS)
    assert {b["status"] for b in bills.values()} == {
        "posted",
        "partially_paid",
        "paid",
        "on_hold",
        "void",
        "draft",
    }
    assert lum.get("/bills/11").status_code == 404  # created, then deleted


@pytest.mark.parametrize(
    ("params", "memos"),
    [
        ({"vendor_id": "2"}, {"long_number"}),
        ({"status[in]": "paid,void"}, {"paid", "void"}),
        ({"bill_number": BILL_NUMBERS["odd_number"]}, {"odd_number"}),
        ({"bill_number[contains]": "obrien-sons"}, {"long_number"}),
        ({"purchase_order_ids": "7"}, {"partial"}),
        ({"total_due[gt]": "400"}, {"full", "void"}),
        ({"updated_at[gte]": "2026-02-28T04:00:00Z"}, {"vendor_differs", "before_approval"}),
    ],
)
def test_bill_filters(lum, params, memos):
    """field[op]=value (and field=value) filters apply to bills as to POs, money included."""
    assert {b["memo"] for b in lum.rows("/bills", **params)} == memos


def test_bill_sort_and_paging(lum):
    """sort=updated_at:desc and per_page/page walk the bills like the PO list."""
    first = lum.get("/bills", sort="updated_at:desc", per_page=3).json()
    assert first["meta"]["last_page"] == 4 and first["meta"]["total"] == 10
    assert [b["memo"] for b in first["data"]] == ["before_approval", "vendor_differs", "paid"]
    last = lum.get("/bills", sort="updated_at:desc", per_page=3, page=4).json()
    assert [b["memo"] for b in last["data"]] == ["full"]


def test_single_bill_shape_and_money_as_strings_and_numbers():
    """GET /bills/{id}: items name their PO line and product; computed money is a decimal
    string on odd ids and a JSON number on even ids (money_style "mixed", a variant: the
    reference shows numbers, luminous-api.md says to read both)."""
    with seeded(money_style="mixed") as lum:
        _single_bill_shapes(lum)


def _single_bill_shapes(lum):
    full = lum.data("/bills/1")
    assert full["bill_number"] == "NC-INV-1001" and full["vendor_name"] == "Nutricost"
    assert full["purchase_order_ids"] == [1]
    assert [(i["purchase_order_item_id"], i["amount"]) for i in full["items"]] == [
        (1, "425.00"),
        (2, "0.00"),
    ]
    assert full["items"][0]["product"]["sku"] == "NC-WHEY-5"
    assert (full["total"], full["total_paid"], full["total_due"]) == ("425.00", "0.00", "425.00")
    assert full["created_at"] == "2026-02-28T00:40:00Z"
    partial = lum.data("/bills/2")
    assert (partial["total"], partial["total_paid"], partial["total_due"]) == (80.0, 50.0, 30.0)
    assert partial["payments"][0]["paid_amount"] == "50.00"


def test_freight_and_fee_are_unallocated_extra_costs(lum):
    """The extra-cost bill carries freight and a fee in `extra_costs`, in its total, and in no
    allocation; its line allocation pays PO 8's line."""
    bill = by_memo(lum)["extra_costs"]
    assert [
        (c["name"], c["line_total"], c["cost_allocation_type"]) for c in bill["extra_costs"]
    ] == [
        ("Freight", 45.0, None),
        ("Payment processing fee", 2.5, None),
    ]
    assert bill["total"] == 67.5 and bill["total_extra_costs"] == 47.5  # 20.00 + 45 + 2.50
    allocations = lum.rows(f"/bills/{bill['id']}/allocations")
    assert [(a["purchase_order_id"], a["bill_extra_cost_id"]) for a in allocations] == [(8, None)]


def test_awkward_bill_numbers_and_vendors(lum):
    """A supplier bill number longer than QBO's 21 characters, one with quotes and non-ASCII,
    and a bill whose vendor is not its PO's supplier all come back unchanged."""
    bills = by_memo(lum)
    assert len(bills["long_number"]["bill_number"]) > 21
    assert bills["odd_number"]["bill_number"] == "Rg.-Nr. „7“ 'Größe' \"株式\""
    differs = bills["vendor_differs"]
    po = lum.data(f"/purchase-orders/{differs['purchase_order_ids'][0]}")
    assert differs["vendor_id"] != po["supplier_id"] and differs["vendor_name"] == "Nutricost"
    early = bills["before_approval"]
    po10 = lum.data(f"/purchase-orders/{early['purchase_order_ids'][0]}")
    assert po10["order_status"] == "active" and "approval_status" not in po10


def test_bills_by_purchase_order_and_by_vendor(lum):
    """/bills/by-purchase-order/{po} and /bills/by-vendor/{vendor} are filtered lists."""
    assert [b["memo"] for b in lum.rows("/bills/by-purchase-order/7")] == ["partial"]
    assert lum.rows("/bills/by-purchase-order/11") == []
    vendor_4 = {b["memo"] for b in lum.rows("/bills/by-vendor/4")}
    assert vendor_4 == {"extra_costs", "odd_number"}


def test_billable_and_candidate_lines(lum):
    """Billable = received - billed, unbilled = ordered - billed (never below 0); void bills
    do not count; candidate lines are the vendor's unbilled PO lines."""
    over = lum.rows("/purchase-orders/12/billable-lines")[0]
    assert (over["quantity_ordered"], over["quantity_billed"], over["quantity_unbilled"]) == (
        "12.5",
        "14",
        "0",
    )
    voided = lum.rows("/purchase-orders/2/billable-lines")[0]
    assert voided["quantity_billed"] == "0"  # its only bill is void
    po7 = lum.rows("/bills/2/billable-lines")
    assert [(r["purchase_order_item_id"], r["quantity_billable"]) for r in po7] == [
        (8, "0"),
        (9, "3"),
    ]
    candidates = lum.rows("/bills/2/candidate-lines")  # vendor Acme: PO 6 is billed, PO 7 half
    assert [(r["purchase_order_id"], r["purchase_order_item_id"]) for r in candidates] == [(7, 9)]


def test_status_actions_over_the_public_api(lum):
    """POST /bills creates a draft; post, hold, unhold, reopen are POST actions; an action the
    status does not allow is 409; PATCH /bills/{id}/status sets any known status."""
    made = lum.call("POST", "/bills", {"vendor_id": 1, "items": [{"purchase_order_item_id": 3}]})
    assert made.status_code == 201
    bill = made.json()["data"]
    assert bill["id"] == 12 and bill["status"] == "draft" and bill["purchase_order_ids"] == [2]
    path = f"/bills/{bill['id']}"
    for action, status in [("post", "posted"), ("hold", "on_hold"), ("unhold", "posted")]:
        assert lum.call("POST", f"{path}/{action}").json()["data"]["status"] == status
    assert lum.call("POST", f"{path}/reopen").json()["data"]["status"] == "draft"
    assert lum.call("POST", f"{path}/reopen").status_code == 409
    assert lum.call("POST", f"{path}/unhold").status_code == 409
    patched = lum.call("PATCH", f"{path}/status", {"status": "closed"})
    assert patched.json()["data"]["status"] == "closed"
    assert lum.call("PATCH", f"{path}/status", {"status": "bogus"}).status_code == 422


def test_create_validates_references_and_put_delete_work(lum):
    """Unknown vendor or PO line is 422; PUT replaces items and bumps updated_at; DELETE
    makes the bill 404 and takes it off the list."""
    bad_line = lum.call(
        "POST",
        "/bills",
        {"vendor_id": 1, "items": [{"purchase_order_id": 1, "purchase_order_item_id": 99}]},
    )
    assert bad_line.status_code == 422 and "purchase_order_item_id" in bad_line.json()["errors"]
    assert lum.call("POST", "/bills", {"vendor_id": 999}).status_code == 422
    lum.emu.set_now(T + timedelta(minutes=5))
    put = lum.call("PUT", "/bills/10", {"items": [{"purchase_order_item_id": 12, "quantity": 2}]})
    edited = put.json()["data"]
    assert edited["total"] == 85.0 and edited["updated_at"] == "2026-03-02T12:05:00Z"
    assert lum.call("DELETE", "/bills/10").status_code == 200
    assert lum.get("/bills/10").status_code == 404 and len(lum.rows("/bills")) == 9


def test_allocations_and_payments_over_the_public_api(lum):
    """POST /bills/{id}/allocations allocates an extra cost to a PO line; DELETE removes it;
    POST /bills/{id}/payments pays (in full when no amount) and the bill becomes paid."""
    bill = by_memo(lum)["extra_costs"]
    freight = next(c for c in bill["extra_costs"] if c["name"] == "Freight")
    path = f"/bills/{bill['id']}/allocations"
    made = lum.call(
        "POST", path, {"bill_extra_cost_id": freight["id"], "purchase_order_item_id": 10}
    )
    assert made.status_code == 201
    allocation = made.json()["data"]
    assert (allocation["purchase_order_id"], allocation["amount"]) == (8, 45.0)
    assert len(lum.rows(path)) == 2
    assert lum.call("DELETE", f"{path}/{allocation['id']}").status_code == 200
    assert lum.call("DELETE", f"{path}/{allocation['id']}").status_code == 404
    paid = lum.call("POST", f"/bills/{bill['id']}/payments", {"payment_date": "2026-03-01"})
    assert paid.json()["data"]["status"] == "paid" and paid.json()["data"]["total_due"] == 0.0


def test_admin_controls_mirror_the_python_ones(lum):
    """Over /__admin: create a bill for a PO that does not exist yet (check_refs off), post,
    pay part then the rest, void, backdate updated_at, delete."""
    created = lum.admin(
        "POST",
        "/bills",
        {
            "fields": {
                "vendor_id": 1,
                "bill_number": "EARLY-1",
                "items": [
                    {
                        "purchase_order_id": 500,
                        "purchase_order_item_id": 900,
                        "quantity": 1,
                        "unit_price": "9.99",
                    }
                ],
            },
            "check_refs": False,
            "updated_at": "2026-03-01T00:00:00Z",
        },
    )
    assert created.status_code == 201
    bill = created.json()["data"]
    assert bill["purchase_order_ids"] == [500] and bill["updated_at"] == "2026-03-01T00:00:00Z"
    path = f"/bills/{bill['id']}"
    assert lum.admin("POST", f"{path}/post").json()["data"]["status"] == "posted"
    part = lum.admin("POST", f"{path}/pay", {"amount": "4.00"}).json()["data"]
    assert part["status"] == "partially_paid" and part["total_due"] == 5.99
    assert lum.admin("POST", f"{path}/pay").json()["data"]["status"] == "paid"
    assert lum.admin("POST", f"{path}/void").json()["data"]["status"] == "void"
    assert lum.admin("POST", f"{path}/pay").status_code == 409
    lum.admin("POST", f"{path}/updated_at", {"updated_at": "2026-01-01T00:00:00Z"})
    assert lum.data(path)["updated_at"] == "2026-01-01T00:00:00Z"
    assert lum.admin("PATCH", path, {"changes": {"memo": "x"}}).json()["data"]["memo"] == "x"
    lum.admin("DELETE", path)
    assert lum.admin("GET", path).status_code == 404


def test_python_controls_edit_and_stamp(lum):
    """emu.bills.edit bumps updated_at to the server clock; set_updated_at changes only it."""
    emu = lum.emu
    emu.set_now(T + timedelta(hours=1))
    assert emu.bills.edit(1, {"due_date": "2026-04-01"})["updated_at"] == T + timedelta(hours=1)
    emu.bills.set_updated_at(1, SEED_BASE)
    assert lum.data("/bills/1")["updated_at"] == "2026-02-27T12:00:00Z"
    assert lum.data("/bills/1")["due_date"] == "2026-04-01"
