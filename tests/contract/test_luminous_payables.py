"""The Luminous emulator serves bill payments with their lifecycle, and vendor credits with
their applications, reversal and cancellation, over plain HTTP, on the official CLI's paths
(LuminousInventory/luminous-cli: cli/resources/bills.py `POST /bills/{id}/payments`, `DELETE
/bills/{id}/payments/{payment_id}`, `POST .../{payment_id}/void`; purchase_orders.py's payment
fields and its payment_type values cash|credit_card|debit_card|check|bank_transfer;
vendor_credits.py `/vendor-credits`, `apply`, `cancel`, `/applications/{id}/reverse`, `DELETE
/applications/{id}`, the columns id, vendor_name, amount, status, created_at; vendor_returns.py
`process`, `cancel`, `generate-credit`). Field names beyond those are the emulator's
assumptions, mirrored by reconciler/luminous/fields.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from luminous_http import T, seeded

PAYMENT_TYPES = ("cash", "credit_card", "debit_card", "check", "bank_transfer")


@pytest.fixture
def lum():
    with seeded() as session:
        yield session


def _posted_bill(lum) -> dict:
    return next(b for b in lum.rows("/bills") if b["status"] == "posted")


def test_a_payment_is_made_voided_and_deleted_and_the_bill_follows(lum):
    bill = _posted_bill(lum)
    total = float(bill["total"])
    answer = lum.call(
        "POST",
        f"/bills/{bill['id']}/payments",
        {"paid_amount": 10, "payment_type": "check", "payment_date": "2026-03-01"},
    )
    assert answer.status_code == 201, answer.text
    payment = answer.json()["data"]["payments"][-1]  # the create answers the bill
    assert {"id", "payment_date", "payment_type", "paid_amount", "remarks"} <= set(payment)
    assert (payment["status"], payment["bill_id"]) == ("completed", bill["id"])
    after = lum.data(f"/bills/{bill['id']}")
    assert float(after["total_paid"]) == 10 and after["status"] == "partially_paid"
    assert float(after["total_due"]) == pytest.approx(total - 10)
    assert [p["id"] for p in after["payments"]] == [payment["id"]]
    listed = lum.get(f"/bills/{bill['id']}/payments").json()["data"]
    assert [p["id"] for p in listed] == [payment["id"]]
    voided = lum.call("POST", f"/bills/{bill['id']}/payments/{payment['id']}/void")
    assert voided.json()["data"]["status"] == "void"
    after = lum.data(f"/bills/{bill['id']}")
    assert float(after["total_paid"]) == 0 and after["status"] == "posted"
    again = lum.call("POST", f"/bills/{bill['id']}/payments/{payment['id']}/void")
    assert again.status_code == 409
    gone = lum.call("DELETE", f"/bills/{bill['id']}/payments/{payment['id']}")
    assert gone.status_code == 200 and lum.data(f"/bills/{bill['id']}")["payments"] == []


def test_a_payment_moves_its_bills_updated_at_so_a_keyed_read_finds_it(lum):
    bill = _posted_bill(lum)
    newest = max(b["updated_at"] for b in lum.rows("/bills"))
    lum.emu.set_now(T + timedelta(hours=1))
    lum.call("POST", f"/bills/{bill['id']}/payments", {"paid_amount": 1, "payment_type": "cash"})
    changed = lum.rows("/bills", **{"updated_at[gt]": newest})
    assert [b["id"] for b in changed] == [bill["id"]]


def test_payment_types_and_refusals(lum):
    bill = _posted_bill(lum)
    path = f"/bills/{bill['id']}/payments"
    for kind in PAYMENT_TYPES:
        assert lum.call("POST", path, {"paid_amount": 1, "payment_type": kind}).status_code == 201
    assert lum.call("POST", path, {"paid_amount": 1, "payment_type": "wire"}).status_code == 422
    assert lum.call("POST", path, {"paid_amount": 0}).status_code == 422
    in_full = lum.call("POST", path, {}).json()["data"]  # no amount: what is due
    assert (in_full["status"], float(in_full["total_due"])) == ("paid", 0.0)
    void = next(b for b in lum.rows("/bills") if b["status"] == "void")
    assert lum.call("POST", f"/bills/{void['id']}/payments", {"paid_amount": 1}).status_code == 409


def test_a_vendor_credit_is_applied_reversed_and_cancelled(lum):
    bill = _posted_bill(lum)
    made = lum.call("POST", "/vendor-credits", {"vendor_id": bill["vendor_id"], "amount": "25"})
    assert made.status_code == 201, made.text
    credit = made.json()["data"]
    assert {"id", "vendor_name", "amount", "status", "created_at"} <= set(credit)
    assert (credit["status"], float(credit["amount"])) == ("open", 25.0)
    applied = lum.call(
        "POST", f"/vendor-credits/{credit['id']}/apply", {"bill_id": bill["id"], "amount": 10}
    )
    assert applied.status_code == 201, applied.text
    application = applied.json()["data"]
    listed = lum.data(f"/vendor-credits/{credit['id']}")
    assert listed["status"] == "partially_applied"
    assert float(listed["amount_remaining"]) == 15
    assert listed["applications"][0]["bill_id"] == bill["id"]
    busy = lum.call("POST", f"/vendor-credits/{credit['id']}/cancel")
    assert busy.status_code == 409  # applied: reverse first
    path = f"/vendor-credits/{credit['id']}/applications/{application['id']}/reverse"
    assert lum.call("POST", path).json()["data"]["status"] == "reversed"
    assert lum.data(f"/vendor-credits/{credit['id']}")["status"] == "open"
    assert lum.call("POST", f"/vendor-credits/{credit['id']}/cancel").status_code == 200
    assert [c["status"] for c in lum.rows("/vendor-credits", status="cancelled")] == ["cancelled"]


def test_applying_more_than_remains_or_to_another_vendors_bill_is_refused(lum):
    bill = _posted_bill(lum)
    credit = lum.call("POST", "/vendor-credits", {"vendor_id": bill["vendor_id"], "amount": "5"})
    cid = credit.json()["data"]["id"]
    too_much = {"bill_id": bill["id"], "amount": 6}
    assert lum.call("POST", f"/vendor-credits/{cid}/apply", too_much).status_code == 422
    other = next(b for b in lum.rows("/bills") if b["vendor_id"] != bill["vendor_id"])
    wrong = {"bill_id": other["id"], "amount": 1}
    assert lum.call("POST", f"/vendor-credits/{cid}/apply", wrong).status_code == 422


def test_a_vendor_return_generates_one_credit_with_its_items(lum):
    bill = _posted_bill(lum)
    item = {"product_id": 1, "quantity": "2", "unit_price": "3.50"}
    made = lum.call("POST", "/vendor-returns", {"vendor_id": bill["vendor_id"], "items": [item]})
    returned = made.json()["data"]
    early = lum.call("POST", f"/vendor-returns/{returned['id']}/generate-credit")
    assert early.status_code == 409  # not processed yet
    assert lum.call("POST", f"/vendor-returns/{returned['id']}/process").status_code == 200
    credit = lum.call("POST", f"/vendor-returns/{returned['id']}/generate-credit").json()["data"]
    assert credit["vendor_return_id"] == returned["id"] and float(credit["amount"]) == 7.0
    assert credit["items"][0]["product"]["id"] == 1
    twice = lum.call("POST", f"/vendor-returns/{returned['id']}/generate-credit")
    assert twice.status_code == 409
