"""Bills in companies with classes, locations and tax codes, end to end through both emulators:
a linked bill line takes its PO line's class and tax code and the bill its PO's location and
GlobalTaxCalculation (as QBO's own copy to bill does); lines of the bill's own (extra costs,
unlinked items) are coded by the PO rules. The emulator refuses a line without a tax code
outside the US (6000), as QBO does, so a bill that forgot them fails here."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from bill_fixtures import bill, bills_on, entry, qbo_bill, two_line_po
from sync_harness import harness
from test_company_e2e import UK_TAX, US_CLASSES, US_LOCATIONS, _money, _ref

from reconciler.config.settings import Settings
from reconciler.model import SyncStatus

D = Decimal


def _both(*hooks):
    def hook(settings: Settings) -> Settings:
        for h in hooks:
            settings = h(settings)
        return settings

    return hook


def _coding(**sections):
    def hook(settings: Settings) -> Settings:
        return dataclasses.replace(settings, **sections)

    return hook


def test_a_bill_takes_its_po_lines_classes_and_its_pos_location(tmp_path):
    hook = _both(bills_on(), _coding(classes=US_CLASSES, locations=US_LOCATIONS))
    with harness(tmp_path, settings_hook=hook) as h:
        ids = {n: h.qbo.seed("Class", {"Name": n})["Id"] for n in ("East", "West", "General")}
        utah = h.qbo.seed("Department", {"Name": "Utah"})["Id"]
        main = h.lum.add_warehouse("Main Warehouse", city="Salt Lake City")
        po = two_line_po(h, warehouse_id=main["id"], custom_fields={"Region": "North"})
        b = bill(h, po, extra_costs=[{"name": "Freight in", "quantity": 1, "unit_price": "12.00"}])
        report = h.run()
        assert report.outcome == "ok", report.as_dict()
        qpo, qb = h.qbo_po(po["id"]), qbo_bill(h, b["id"])
        assert [_ref(ln, "ClassRef") for ln in qpo["Line"]] == [ids["East"]] * 2
        linked = [ln for ln in qb["Line"] if ln.get("LinkedTxn")]
        assert len(linked) == 2
        assert [_ref(ln, "ClassRef") for ln in linked] == [ids["East"]] * 2
        assert qb["DepartmentRef"]["value"] == utah
        # the freight is the bill's own: the warehouse rule has no warehouse, so the default
        (freight,) = [ln for ln in qb["Line"] if not ln.get("LinkedTxn")]
        assert _ref(freight, "ClassRef") == ids["General"]
        assert qpo["POStatus"] == "Closed"


def test_a_bill_in_a_uk_company_has_a_tax_code_on_every_line_to_the_cent(tmp_path):
    hook = _both(bills_on(), _coding(tax=dataclasses.replace(UK_TAX, charges="20.0% S")))
    with harness(tmp_path, qbo_options={"country": "GB"}, settings_hook=hook) as h:
        whey = h.product("Whey Protein 5lb", "NC-WHEY-5")
        oats = h.product("Oats 1kg", "NC-OAT-1")
        supplier = h.supplier("Maple Goods")
        po = h.lum.create_po(
            {
                "supplier_id": supplier["id"],
                "approval_status": "approved",
                "items": [
                    {
                        "product_id": whey["id"],
                        "quantity": "10",
                        "unit_price": "42.50",
                        "tax_rate": "20",
                    },
                    {
                        "product_id": oats["id"],
                        "quantity": "3",
                        "unit_price": "11.11",
                        "tax_rate": "5",
                    },
                ],
            },
            updated_at=h.next_stamp(),
        )
        b = bill(h, po, extra_costs=[{"name": "Delivery", "quantity": 1, "unit_price": "10.00"}])
        report = h.run()
        assert report.outcome == "ok", report.as_dict()
        assert entry(h, b["id"]).status is SyncStatus.SYNCED
        qpo, qb = h.qbo_po(po["id"]), qbo_bill(h, b["id"])
        names = {c["Id"]: c["Name"] for c in h.qbo.objects("TaxCode")}
        po_codes = [names[_ref(ln, "TaxCodeRef")] for ln in qpo["Line"]]
        assert po_codes == ["20.0% S", "5.0% R"]
        bill_codes = [names[_ref(ln, "TaxCodeRef")] for ln in qb["Line"]]
        assert bill_codes == ["20.0% S", "5.0% R", "20.0% S"]  # the delivery: tax.charges
        assert qb["GlobalTaxCalculation"] == qpo["GlobalTaxCalculation"] == "TaxExcluded"
        assert not any(ln.get("Description") == "Tax" for ln in qb["Line"])
        # 425.00 + 33.33 + 10.00; tax 85.00 + 1.67 + 2.00, as QBO computes it per rate
        assert _money(qb["TxnTaxDetail"]["TotalTax"]) == D("88.67")
        assert _money(qb["TotalAmt"]) == D("557.00")


def test_a_tax_inclusive_bill_goes_out_net_with_its_gross_in_taxinclusiveamt(tmp_path):
    """TaxInclusive in a UK company: QBO reads a line's Amount as the net and the gross from
    TaxInclusiveAmt (quickbooks-ruby #346; Intuit's Bill reference; reconciler/sandbox/qbo/
    tax.py), so the PO and the bill (linked lines and the bill's own delivery) go out net:
    425.00 at 20% is 354.17 + 70.83, 33.33 at 5% is 31.74 + 1.59, the 10.00 delivery 8.33 +
    1.67. Sent gross in Amount, QBO would book 468.33 + 94.34 of tax."""
    tax = dataclasses.replace(UK_TAX, charges="20.0% S", calculation="TaxInclusive")
    hook = _both(bills_on(), _coding(tax=tax))
    with harness(tmp_path, qbo_options={"country": "GB"}, settings_hook=hook) as h:
        items = [
            {
                "product_id": h.product(name, sku)["id"],
                "quantity": q,
                "unit_price": p,
                "tax_rate": r,
            }
            for name, sku, q, p, r in (
                ("Whey Protein 5lb", "NC-WHEY-5", "10", "42.50", "20"),
                ("Oats 1kg", "NC-OAT-1", "3", "11.11", "5"),
            )
        ]
        po = h.lum.create_po(
            {
                "supplier_id": h.supplier("Maple Goods")["id"],
                "approval_status": "approved",
                "items": items,
            },
            updated_at=h.next_stamp(),
        )
        b = bill(h, po, extra_costs=[{"name": "Delivery", "quantity": 1, "unit_price": "10.00"}])
        report = h.run()
        assert report.outcome == "ok", report.as_dict()
        qpo, qb = h.qbo_po(po["id"]), qbo_bill(h, b["id"])
        assert qb["GlobalTaxCalculation"] == qpo["GlobalTaxCalculation"] == "TaxInclusive"
        assert [_money(ln["Amount"]) for ln in qpo["Line"]] == [D("354.17"), D("31.74")]
        assert [_money(ln["Amount"]) for ln in qb["Line"]] == [D("354.17"), D("31.74"), D("8.33")]
        grosses = [_money(ln[ln["DetailType"]]["TaxInclusiveAmt"]) for ln in qb["Line"]]
        assert grosses == [D("425.00"), D("33.33"), D("10.00")]
        assert _money(qb["TxnTaxDetail"]["TotalTax"]) == D("74.09")
        assert _money(qb["TotalAmt"]) == D("468.33") and _money(qpo["TotalAmt"]) == D("458.33")
        assert len([ln for ln in qb["Line"] if ln["LinkedTxn"]]) == 2
        assert entry(h, b["id"]).status is SyncStatus.SYNCED
