"""Hostile and broken Luminous records: each gets a clear per-PO outcome, the pass goes on.

One test id per record. In every case a good PO is read in the same pass (before and after the
hostile one) and must be synced; the hostile PO's ledger row must say what happened (status
and a reason naming the problem); nothing is lost (check_invariants on the POs that should be
in QBO) and nothing doubled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from reliability_kit import CAPTURED, InProcessDaemon, World, check_invariants, connect, world

from reconciler.model import SyncStatus
from reconciler.state import StateStore

SYNCED, FAILED, SKIPPED = SyncStatus.SYNCED, SyncStatus.FAILED, SyncStatus.SKIPPED


@dataclass(frozen=True)
class Case:
    id: str
    fields: dict[str, Any]  # written over a good record (items: list of (name, qty, price))
    status: SyncStatus
    reason: str | None = None  # a piece of the ledger's reason
    supplier: Any = "Hostile Supplier"  # a name, or a raw `supplier` value when not a str
    qbo_check: Any = None  # (world, qbo PurchaseOrder) -> None
    raw: dict[str, Any] | None = None  # stored as given, after the record is created
    full: bool = False  # run the pass with the full sweep (`run --once --full`)


def _line(name="Plain Item", qty="2", price="3.50", **extra) -> dict[str, Any]:
    return {"name": name, "qty": qty, "price": price, **extra}


def _vendor_is(name: str):
    def check(w: World, qpo: dict) -> None:
        vendor = w.qbo.get("Vendor", qpo["VendorRef"]["value"])
        assert vendor["DisplayName"] == name

    return check


def _note_cut(w: World, qpo: dict) -> None:
    assert len(qpo["PrivateNote"]) == 4000
    assert qpo["PrivateNote"].endswith("[truncated]")


def _lines(n: int):
    def check(w: World, qpo: dict) -> None:
        assert len(qpo["Line"]) == n

    return check


def _unit_price(value: str):
    def check(w: World, qpo: dict) -> None:
        detail = qpo["Line"][0]["ItemBasedExpenseLineDetail"]
        assert Decimal(str(detail["UnitPrice"])) == Decimal(value)

    return check


CASES = [
    # --- names --------------------------------------------------------------------------
    Case(
        "name-quote", {}, SYNCED, supplier="O'Brien & Sons", qbo_check=_vendor_is("O'Brien & Sons")
    ),
    Case(
        "name-backslashes",
        {},
        SYNCED,
        supplier="Back\\slash\\",
        qbo_check=_vendor_is("Back\\slash\\"),
    ),
    Case("name-colon", {}, SYNCED, supplier="Acme: West", qbo_check=_vendor_is("Acme- West")),
    Case("name-emoji", {}, SYNCED, supplier="Snack Co 🍫🚚", qbo_check=_vendor_is("Snack Co 🍫🚚")),
    Case(
        "name-rtl",
        {},
        SYNCED,
        supplier="شركة الأمل للتجارة",
        qbo_check=_vendor_is("شركة الأمل للتجارة"),
    ),
    Case("name-rtl-override", {}, SYNCED, supplier="\u202eevil\u202c Corp"),
    Case("name-typographic-apostrophe", {}, SYNCED, supplier="O’Malley’s Goods"),
    Case(
        "name-query-injection",
        {},
        SYNCED,
        supplier="x' OR Name = 'y",
        qbo_check=_vendor_is("x' OR Name = 'y"),
    ),
    Case("name-escaped-quote-injection", {}, SYNCED, supplier="\\' OR 1=1 --"),
    Case("name-percent-like", {}, SYNCED, supplier="100% Natural_Foods"),
    Case("name-150-chars", {}, SYNCED, supplier="N" * 150),
    Case(
        "name-tabs-newlines",
        {},
        SYNCED,
        supplier="Tab\tNew\nLine Ltd",
        qbo_check=_vendor_is("Tab New Line Ltd"),
    ),
    Case("name-only-spaces", {}, FAILED, "supplier has no name", supplier="   "),
    Case("name-nul-byte", {}, SYNCED, supplier="Nul\x00Byte Inc"),
    Case("supplier-missing", {}, FAILED, "missing supplier", supplier=None),
    Case(
        "supplier-without-name",
        {},
        FAILED,
        "supplier has no name",
        supplier={"id": 999, "name": None},
    ),
    Case(
        "supplier-named-like-qbo-customer",
        {},
        SYNCED,
        supplier="Existing Customer LLC",
        qbo_check=_vendor_is("Existing Customer LLC (Supplier)"),
    ),
    Case("product-name-colon-emoji", {"items": [_line("Parent:Child 🍫")]}, SYNCED),
    Case("product-without-name", {"items": [_line(None)]}, FAILED, "product has no name"),
    Case(
        "item-without-product",
        {"items": [{"product": None, "quantity": "1", "unit_price": "1"}]},
        FAILED,
        "has no product",
    ),
    # --- notes --------------------------------------------------------------------------
    Case("note-10000-chars", {"private_note": "x" * 10_000}, SYNCED, qbo_check=_note_cut),
    Case("note-control-and-rtl", {"private_note": "a\x07b\u202ec\r\nd"}, SYNCED),
    # --- lines and money ----------------------------------------------------------------
    Case(
        "lines-1000",
        {"items": [_line(f"Bulk Item {i % 7}", "1", "0.01") for i in range(1000)]},
        SYNCED,
        qbo_check=_lines(1000),
    ),
    Case("lines-none", {"items": []}, FAILED, "no lines"),
    Case(
        "discount-negative",
        {"items": [_line(discount_amount="-1.00")]},
        FAILED,
        "negative line discount",
    ),
    Case("quantity-zero", {"items": [_line(qty="0")]}, SYNCED),
    Case("quantity-negative", {"items": [_line(qty="-3")]}, FAILED, "negative quantity"),
    Case("price-negative", {"items": [_line(price="-1.00")]}, FAILED, "negative unit price"),
    Case(
        "cost-5-decimals",
        {"items": [_line(qty="3", price="0.12345")]},
        SYNCED,
        qbo_check=_unit_price("0.12345"),
    ),
    Case(
        "cost-7-decimals",
        {"items": [_line(price="1.2345678")]},
        SYNCED,
        qbo_check=_unit_price("1.23457"),
    ),
    Case("quantity-not-a-number", {"items": [_line(qty="a dozen")]}, FAILED, "bad number"),
    Case("price-nan", {"items": [_line(price="NaN")]}, FAILED, "bad number"),
    Case(
        "amount-too-large", {"items": [_line(qty="100000", price="99999999")]}, FAILED, "too large"
    ),
    Case("currency-unknown", {"currency": "XYZ"}, FAILED, "unknown currency"),
    Case("shipping-negative", {"total_shipping_cost": "-5.00"}, FAILED, "negative shipping"),
    Case("tax-negative", {"total_tax": "-1.00"}, FAILED, "negative tax"),
    # --- numbers, statuses, dates -------------------------------------------------------
    Case("po-number-too-long", {"order_numbers": ["PO-" + "9" * 30]}, FAILED, "21"),
    Case("po-number-with-quote", {"order_numbers": ["PO-'7\\"]}, SYNCED),
    Case("po-number-not-a-list", {"order_numbers": {"a": 1}}, FAILED, "order_numbers"),
    Case("status-unknown", {"order_status": "on_the_moon"}, FAILED, "unknown status"),
    Case("status-missing", {"order_status": None}, FAILED, "missing order_status"),
    Case("approval-pending", {"approval_status": "pending_approval"}, SKIPPED, "awaiting approval"),
    Case("status-draft", {"order_status": "draft"}, SKIPPED, "draft"),
    Case("completed-never-synced", {"order_status": "completed"}, SKIPPED, "already closed"),
    Case("date-impossible", {"order_date": "2026-13-45"}, FAILED, "bad date"),
    Case("warehouse-not-an-object", {"warehouse": "Dock 9"}, FAILED, "warehouse"),
    # --- numbers and ids no Decimal arithmetic or SQLite integer can take -----------------
    Case("quantity-1e30", {"items": [_line(qty="1e30")]}, FAILED, "too large"),
    Case("quantity-1e400", {"items": [_line(qty="1e400")]}, FAILED, "too large"),
    Case("quantity-json-infinity", {"items": [_line(qty=float("inf"))]}, FAILED, "bad number"),
    Case("unit-price-1e27", {"items": [_line(price="1e27")]}, FAILED, "too large"),
    Case("total-tax-1e30", {"total_tax": "1e30"}, FAILED, "too large"),
    Case("price-28-digits", {"items": [_line(price="0." + "1" * 28)]}, FAILED, "too long"),
    Case("line-id-json-infinity", {"items": [_line(id=float("inf"))]}, FAILED, "bad id"),
    Case("line-id-2-to-the-63", {"items": [_line(id=2**63)]}, FAILED, "bad id"),
    Case(
        "created-at-year-1-ahead-of-utc",
        {"created_at": "0001-01-01T00:00:00+05:00"},
        FAILED,
        "not a UTC instant",
    ),
    # --- an updated_at that cannot place the PO in time: still a row, still a reason -------
    Case("updated-at-malformed", {}, FAILED, "bad timestamp", raw={"updated_at": "soonish"}),
    Case(
        "updated-at-year-10000-in-utc",
        {},
        FAILED,
        "not a UTC instant",
        raw={"updated_at": "9999-12-31T23:59:59-05:00"},
        full=True,
    ),
    Case(
        "updated-at-malformed-full-sweep",
        {},
        FAILED,
        "bad timestamp",
        raw={"updated_at": "not a time"},
        full=True,
    ),
]


def _write(w: World, case: Case, fields: dict[str, Any]) -> dict:
    lum, source = w.lum, w.source
    record: dict[str, Any] = {"order_status": "active", "approval_status": "approved"}
    if isinstance(case.supplier, str):
        record["supplier_id"] = source.supplier(case.supplier)["id"]
    else:
        record["supplier"] = case.supplier
    items = []
    for item in fields.pop("items", [_line()]):
        if "name" not in item:
            items.append(item)
            continue
        extra = {k: v for k, v in item.items() if k not in ("name", "qty", "price")}
        product = lum.add_product(item["name"], None)
        line = {"product_id": product["id"], "quantity": item["qty"], "unit_price": item["price"]}
        items.append(line | extra)
    record["items"] = items
    record.update(fields)
    created = lum.create_po(record, updated_at=source.stamps.next())
    if case.raw:
        lum.set_raw(created["id"], **case.raw)
    return created


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_record_gets_a_clear_outcome_and_the_pass_goes_on(tmp_path, case):
    """The hostile PO's ledger row says what happened; good POs around it sync; none lost."""
    with world(tmp_path) as w:
        w.qbo.seed("Customer", {"DisplayName": "Existing Customer LLC"})
        connect(w)
        before = w.source.po("Good Supplier", "Good Item", "1", "10.00")
        hostile = _write(w, case, dict(case.fields))
        after = w.source.po("Good Supplier", "Good Item", "2", "10.00")
        daemon = InProcessDaemon(w)
        report = daemon.run(full_sweep=case.full)
        assert report is not None and report.fatal is None and report.crashed is None
        store = StateStore.open(w.state_path)
        try:
            entry = store.ledger.entry(hostile["id"])
            good = [store.ledger.entry(before["id"]), store.ledger.entry(after["id"])]
        finally:
            store.close()
        assert all(g is not None and g.status is SYNCED for g in good)
        assert entry is not None, "the hostile PO has no ledger row"
        assert entry.status is case.status, (entry.status, entry.last_error_message)
        if case.reason is not None:
            assert case.reason in (entry.last_error_message or ""), entry.last_error_message
        if case.status is SYNCED:
            qpo = w.qbo.get("PurchaseOrder", entry.qbo_id)
            assert qpo is not None
            if case.qbo_check is not None:
                case.qbo_check(w, qpo)
        if case.status is SKIPPED:
            number = hostile["order_numbers"][0]
            assert all(p.get("DocNumber") != number for p in w.qbo.objects("PurchaseOrder"))
        # nothing lost, nothing doubled among the POs that must be in QBO
        if case.status is SYNCED:
            verdict = check_invariants(w.qbo, w.lum, w.state_path)
            assert verdict.ok(), verdict.problems
        assert report.exit_code() == (1 if case.status is FAILED else 0)


# --- a PO id no ledger row can be keyed on -----------------------------------------------------

UNKEYABLE_IDS = [
    ("po-id-2-to-the-63", 2**63),  # one past SQLite's INTEGER
    ("po-id-2-to-the-64", 2**64),
    ("po-id-json-infinity", float("inf")),
    ("po-id-negative", -7),
    ("po-id-text", "PO-7"),
]


@pytest.mark.parametrize("served", [c[1] for c in UNKEYABLE_IDS], ids=[c[0] for c in UNKEYABLE_IDS])
def test_a_po_id_out_of_range_fails_that_record_alone(tmp_path, served):
    """No ledger row can hold it: the pass counts it as failed (exit 1) and logs
    `source_record_without_id` with its number; the good POs around it sync; no crash."""
    with world(tmp_path) as w:
        connect(w)
        before = w.source.po("Good Supplier", "Good Item", "1", "10.00")
        hostile = w.source.po("Unkeyable Supplier", "Unkeyable Item", "1", "10.00")
        w.lum.set_raw(hostile["id"], id=served)
        after = w.source.po("Good Supplier", "Good Item", "2", "10.00")
        report = InProcessDaemon(w).run()
        assert report is not None and report.crashed is None and report.aborted is None
        assert report.fatal is None
        store = StateStore.open(w.state_path)
        try:
            good = [store.ledger.entry(before["id"]), store.ledger.entry(after["id"])]
            assert store.ledger.entry(hostile["id"]) is None
        finally:
            store.close()
        assert all(g is not None and g.status is SYNCED for g in good)
        assert report.counts["failed"] >= 1 and report.exit_code() == 1
        events = [json.loads(line) for line in CAPTURED.outputs[-1][1].splitlines()]
        without = [e for e in events if e["event"] == "source_record_without_id"]
        assert without and without[0]["po_number"] == hostile["order_numbers"][0]
        assert all(
            p.get("DocNumber") != hostile["order_numbers"][0]
            for p in w.qbo.objects("PurchaseOrder")
        )
