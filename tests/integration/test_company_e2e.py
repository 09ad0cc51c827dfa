"""End to end, Luminous emulator -> run_pass -> QBO emulator over HTTP: classes and locations
in a US company, tax codes in UK and Canadian companies (TaxExcluded and TaxInclusive, to the
cent as QBO computes them: qbo_tax's rules, sources in tests/contract/test_qbo_emulator_tax.py),
a PO that cannot be given a valid code failing alone, QBO Plus's limit of 40 classes and
locations, and an edition without classes stopping the pass with the fix."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sync_harness import harness

from reconciler.config.settings import (
    ClassesSettings,
    LocationsSettings,
    Settings,
    TaxSettings,
)
from reconciler.model import SyncStatus
from reconciler.sandbox.qbo.server import FaultRule

D = Decimal
ITEM, ACCOUNT = "ItemBasedExpenseLineDetail", "AccountBasedExpenseLineDetail"


def configured(**sections: Any):
    """A settings hook that sets [classes], [locations], [tax] (and [fields] pairs)."""

    fields = sections.pop("fields", {})

    def hook(settings: Settings) -> Settings:
        changed = dataclasses.replace(settings, **sections)
        merged = tuple({**dict(settings.fields), **fields}.items())
        return dataclasses.replace(changed, fields=merged)

    return hook


def _queries(h, entity: str) -> list[dict]:
    return [
        e
        for e in h.qbo.request_log
        if e["path"].endswith("/query") and f"FROM {entity} " in e["query"].get("query", "")
    ]


def _detail(line: dict) -> dict:
    return line[line["DetailType"]]


def _ref(line: dict, name: str) -> str | None:
    return (_detail(line).get(name) or {}).get("value")


def _money(value: Any) -> Decimal:
    return D(str(value))


# --- classes and locations in a US company -----------------------------------------------------


US_CLASSES = ClassesSettings(
    source="warehouse",
    map=(("Main Warehouse", "East"), ("Reno DC", "West")),
    default="General",
)
US_LOCATIONS = LocationsSettings(source="custom_field", field="Region", map=(("north", "Utah"),))


def test_us_company_class_on_every_line_and_location_per_po(tmp_path):
    """The warehouse picks the class of every line (tax and shipping too), a custom field the
    location; a PO without a warehouse fails with the reason (sync.missing_warehouse = "fail",
    the default: issue 31, absent fields are decisions). The US rule holds:
    tax is a line on the tax account, no tax codes, no GlobalTaxCalculation. Classes and
    locations cost one IN query each for the pass, then nothing."""
    hook = configured(classes=US_CLASSES, locations=US_LOCATIONS)
    with harness(tmp_path, settings_hook=hook) as h:
        ids = {n: h.qbo.seed("Class", {"Name": n})["Id"] for n in ("East", "West", "General")}
        utah = h.qbo.seed("Department", {"Name": "Utah"})["Id"]
        main = h.lum.add_warehouse("Main Warehouse", city="Salt Lake City")
        reno = h.lum.add_warehouse("Reno DC", city="Reno")
        east = h.po(
            warehouse_id=main["id"],
            total_tax="12.75",
            total_shipping_cost="25.00",
            custom_fields={"Region": "North"},
        )
        west = h.po(warehouse_id=reno["id"])
        plain = h.po()
        report = h.run()
        assert report.fatal is None and report.counts["created"] == 2
        assert '[classes] source = "warehouse" needs one' in h.entry(plain["id"]).last_error_message

        q_east = h.qbo_po(east["id"])
        assert [_ref(ln, "ClassRef") for ln in q_east["Line"]] == [ids["East"]] * 3
        assert [ln.get("Description") for ln in q_east["Line"][1:]] == ["Tax", "Shipping"]
        assert q_east["DepartmentRef"]["value"] == utah
        assert "GlobalTaxCalculation" not in q_east and "TxnTaxDetail" not in q_east
        assert all(_ref(ln, "TaxCodeRef") == "NON" for ln in q_east["Line"])
        assert _money(q_east["TotalAmt"]) == D("462.75")  # 425.00 + 12.75 + 25.00
        q_west = h.qbo_po(west["id"])
        assert _ref(q_west["Line"][0], "ClassRef") == ids["West"] and "DepartmentRef" not in q_west
        assert len(_queries(h, "Class")) == 1 and len(_queries(h, "Department")) == 1

        h.clock.sleep(1.1)  # a new client per pass: leave QBO's per-second window
        h.qbo.reset_log()
        h.po(warehouse_id=main["id"], custom_fields={"Region": "north"})
        again = h.run()
        assert again.counts["created"] == 1
        assert _queries(h, "Class") == [] and _queries(h, "Department") == []
        assert h.qbo.count(path_contains="/companyinfo/") == 0  # the profile is kept a day


def test_classes_from_a_product_attribute_split_the_discounts(tmp_path):
    """Class by the product's category: each line its own, a discount line per class."""
    classes = ClassesSettings(
        source="product_attribute",
        field="category",
        map=(("Protein", "Sports"), ("Vitamins", "Health")),
        default="Other",
    )
    with harness(tmp_path, settings_hook=configured(classes=classes)) as h:
        ids = {n: h.qbo.seed("Class", {"Name": n})["Id"] for n in ("Sports", "Health", "Other")}
        whey = h.product("Whey", "W-1", category={"id": 1, "name": "Protein"})
        zinc = h.product("Zinc", "Z-1", category={"id": 2, "name": "Vitamins"})
        po = h.lum.create_po(
            {
                "supplier_id": h.supplier("Nutricost")["id"],
                "approval_status": "approved",
                "items": [
                    {
                        "product_id": whey["id"],
                        "quantity": "2",
                        "unit_price": "10",
                        "discount_amount": "1",
                    },
                    {
                        "product_id": zinc["id"],
                        "quantity": "1",
                        "unit_price": "5",
                        "discount_amount": "0.50",
                    },
                ],
                "total_shipping_cost": "3.00",
            },
            updated_at=h.next_stamp(),
        )
        assert h.run().counts["created"] == 1
        lines = h.qbo_po(po["id"])["Line"]
        assert [(ln.get("Description"), _ref(ln, "ClassRef")) for ln in lines] == [
            (None, ids["Sports"]),
            (None, ids["Health"]),
            ("Discounts (1 line)", ids["Sports"]),
            ("Discounts (1 line)", ids["Health"]),
            ("Shipping", ids["Other"]),
        ]


# --- tax codes outside the US ------------------------------------------------------------------


UK_TAX = TaxSettings(codes=(("20", "20.0% S"), ("5", "5.0% R")), zero_rate="0.0% Z")
CA_TAX = TaxSettings(
    codes=(("13", "HST ON"), ("5", "GST"), ("14.975", "GST/QST QC - 9.975")),
    zero_rate="Zero-rated",
)
# (country, calculation): tax settings, line data (qty, price, tax_rate, tax), then what QBO
# computes: the lines' codes, the stored (net) line amounts, TotalTax and TotalAmt. Worked by
# hand from qbo_tax's rules (line by line: each line's tax per rate rounded half up, then
# added; inclusive: the client sends net = gross x 100 / (100 + the code's rate) with the gross
# in TaxInclusiveAmt, and a line's tax at rate r is gross x r / (100 + the code's rate)).
CASES = {
    ("GB", "TaxExcluded"): (
        UK_TAX,
        [("10", "42.50", "20", None), ("3", "11.11", "5", None), ("1", "1.00", None, "0")],
        ["20.0% S", "5.0% R", "0.0% Z", "0.0% Z"],
        ["425.00", "33.33", "1.00", "25.00"],
        "86.67",  # 85.00 + 1.67 (33.33 x 5% = 1.6665)
        "571.00",
    ),
    ("GB", "TaxInclusive"): (
        UK_TAX,
        [("10", "42.50", "20", None), ("3", "11.11", "5", None), ("1", "1.00", None, "0")],
        ["20.0% S", "5.0% R", "0.0% Z", "0.0% Z"],
        ["354.17", "31.74", "1.00", "25.00"],  # 425 / 1.2, 33.33 / 1.05
        "72.42",  # 70.83 + 1.59
        "484.33",  # the gross total
    ),
    ("CA", "TaxExcluded"): (
        CA_TAX,
        # the 769.94 line has no rate: its tax (38.50) says 5%
        [
            ("2", "56.50", "13", None),
            ("1", "769.94", None, "38.50"),
            ("3", "11.50", "14.975", None),
        ],
        ["HST ON", "GST", "GST/QST QC - 9.975", "Zero-rated"],
        ["113.00", "769.94", "34.50", "10.00"],
        "58.36",  # HST 14.69, GST 38.50 + 1.73 = 40.23 (line by line), QST 3.44
        "985.80",
    ),
    ("CA", "TaxInclusive"): (
        CA_TAX,
        [
            ("2", "56.50", "13", None),
            ("1", "769.94", None, "36.66"),
            ("3", "11.50", "14.975", None),
        ],
        ["HST ON", "GST", "GST/QST QC - 9.975", "Zero-rated"],
        ["100.00", "733.28", "30.01", "10.00"],
        "54.15",  # HST 13.00, GST 36.6638 + 1.5003 = 38.16, QST 2.99
        "927.44",  # the gross total
    ),
}


@pytest.mark.parametrize(("country", "calculation"), sorted(CASES))
def test_tax_codes_on_every_line_to_the_cent(tmp_path, country, calculation):
    """Outside the US every line (shipping too) gets its TaxCode, the tax line is gone, and
    QBO's totals are as QBO computes them, to the cent."""
    tax, data, codes, nets, total_tax, total = CASES[(country, calculation)]
    tax = dataclasses.replace(tax, calculation=calculation)
    with harness(
        tmp_path, qbo_options={"country": country}, settings_hook=configured(tax=tax)
    ) as h:
        items = []
        for n, (qty, price, rate, line_tax) in enumerate(data):
            item = {"product_id": h.product(f"Product {n}", f"P-{n}")["id"], "quantity": qty}
            item["unit_price"] = price
            if rate is not None:
                item["tax_rate"] = rate
            if line_tax is not None:
                item["tax"] = line_tax
            items.append(item)
        shipping = "25.00" if country == "GB" else "10.00"
        po = h.lum.create_po(
            {
                "supplier_id": h.supplier("Maple Goods")["id"],
                "approval_status": "approved",
                "items": items,
                "total_shipping_cost": shipping,
            },
            updated_at=h.next_stamp(),
        )
        report = h.run()
        assert report.fatal is None and report.counts["created"] == 1
        qpo = h.qbo_po(po["id"])
        names = {c["Id"]: c["Name"] for c in h.qbo.objects("TaxCode")}
        assert [names[_ref(ln, "TaxCodeRef")] for ln in qpo["Line"]] == codes
        assert [_money(ln["Amount"]) for ln in qpo["Line"]] == [D(n) for n in nets]
        assert qpo["GlobalTaxCalculation"] == calculation
        assert _money(qpo["TxnTaxDetail"]["TotalTax"]) == D(total_tax)
        assert _money(qpo["TotalAmt"]) == D(total)
        assert not any(ln.get("Description") == "Tax" for ln in qpo["Line"])
        if calculation == "TaxInclusive":  # the gross Luminous gave, in TaxInclusiveAmt
            grosses = [D(q) * D(p) for q, p, _, _ in data] + [D(shipping)]
            held = [_money(ln[ln["DetailType"]]["TaxInclusiveAmt"]) for ln in qpo["Line"]]
            assert held == grosses
        # A lost state file: the PO is found in QBO and adopted; what QBO stored (net lines,
        # the gross in TaxInclusiveAmt) is no difference from what would be sent: no write.
        Path(h.settings.state.path).unlink()
        h.clock.sleep(1.1)  # (out of QBO's per-second window)
        again = h.run()
        assert again.counts["adopted"] == 1 and again.qbo_writes == 0
        assert h.qbo.get("PurchaseOrder", qpo["Id"])["SyncToken"] == qpo["SyncToken"]


def test_a_po_that_cannot_be_given_a_valid_code_fails_alone(tmp_path):
    """A rate the mapping has no code for, and a code QBO refuses on purchases (sales-only),
    each fail their PO with the reason; the good PO syncs, the pass goes on."""
    tax = dataclasses.replace(UK_TAX, codes=(*UK_TAX.codes, ("7", "0%")))
    with harness(tmp_path, qbo_options={"country": "GB"}, settings_hook=configured(tax=tax)) as h:
        good = h.product("Oats", "OAT")

        def po(rate: str) -> dict:
            item = {"product_id": good["id"], "quantity": "1", "unit_price": "10", "tax_rate": rate}
            return h.lum.create_po(
                {
                    "supplier_id": h.supplier("Acme UK")["id"],
                    "approval_status": "approved",
                    "items": [item],
                },
                updated_at=h.next_stamp(),
            )

        ok, unmapped, sales_only = po("20"), po("17.5"), po("7")
        report = h.run()
        assert report.fatal is None and report.counts["created"] == 1
        assert h.entry(ok["id"]).status is SyncStatus.SYNCED
        bad = h.entry(unmapped["id"])
        assert bad.status is SyncStatus.FAILED and bad.qbo_id is None
        assert "tax rate 17.5% is not in tax.codes" in bad.last_error_message
        refused = h.entry(sales_only["id"])
        assert refused.status is SyncStatus.FAILED
        assert "tax code '0%' has no purchase rate" in refused.last_error_message
        assert len(h.qbo.objects("PurchaseOrder")) == 1


def test_a_company_outside_the_us_without_tax_codes_stops_with_the_fix(tmp_path):
    """No [tax] in a UK company: every PO would be refused (6000), so the pass stops at its
    start with what to configure, and writes nothing."""
    with harness(tmp_path, qbo_options={"country": "GB"}) as h:
        h.po()
        report = h.run()
        assert "the company is in GB" in report.fatal and "configure [tax]" in report.fatal
        assert h.qbo.objects("PurchaseOrder") == []


def test_out_of_scope_of_tax_when_taxcoderef_is_off(tmp_path):
    """[fields] TaxCodeRef = false in a UK company: GlobalTaxCalculation NotApplicable and the
    tax as a line on the tax account, as in the US."""
    hook = configured(fields={"TaxCodeRef": None})
    with harness(tmp_path, qbo_options={"country": "GB"}, settings_hook=hook) as h:
        po = h.po(total_tax="8.50")
        assert h.run().counts["created"] == 1
        qpo = h.qbo_po(po["id"])
        assert qpo["GlobalTaxCalculation"] == "NotApplicable"
        assert [ln.get("Description") for ln in qpo["Line"]][-1] == "Tax"
        assert _money(qpo["TotalAmt"]) == D("433.50")


# --- plan limits -------------------------------------------------------------------------------


def test_plus_limit_refuses_a_reactivation_and_the_po_fails_alone(tmp_path):
    """QBO Plus with 40 active classes and locations: the PO whose class is inactive cannot
    have it made active (QBO's 6000 names the limit) and fails alone; once a slot is free, its
    next version syncs and the class is active again."""
    classes = dataclasses.replace(US_CLASSES, default="")
    with harness(
        tmp_path, qbo_options={"edition": "Plus"}, settings_hook=configured(classes=classes)
    ) as h:
        west = h.qbo.seed("Class", {"Name": "West"})
        east = h.qbo.seed("Class", {"Name": "East", "Active": False})
        fillers = [h.qbo.seed("Class", {"Name": f"Line {n}"}) for n in range(29)]
        for n in range(10):
            h.qbo.seed("Department", {"Name": f"Store {n}"})
        main = h.lum.add_warehouse("Main Warehouse")
        reno = h.lum.add_warehouse("Reno DC")
        blocked, also_blocked = h.po(warehouse_id=main["id"]), h.po(warehouse_id=main["id"])
        fine = h.po(warehouse_id=reno["id"])
        report = h.run()
        assert report.fatal is None and report.counts["created"] == 1
        assert _ref(h.qbo_po(fine["id"])["Line"][0], "ClassRef") == west["Id"]
        for po in (blocked, also_blocked):
            entry = h.entry(po["id"])
            assert entry.status is SyncStatus.FAILED and entry.last_error_code == "6000"
            assert "usage limit of 40" in entry.last_error_message
        assert h.qbo.get("Class", east["Id"])["Active"] is False
        assert h.qbo.count(method="POST", path_contains="/class") == 1  # asked once a pass

        h.qbo.edit_as_other_user("Class", fillers[0]["Id"], {"Active": False})
        h.edit(blocked["id"], private_note="retry after freeing a class")
        h.edit(also_blocked["id"], private_note="retry after freeing a class")
        h.clock.sleep(1.1)  # (out of QBO's per-second window)
        assert h.run().counts["created"] == 2
        assert _ref(h.qbo_po(blocked["id"])["Line"][0], "ClassRef") == east["Id"]
        assert h.qbo.get("Class", east["Id"])["Active"] is True


def test_inactive_class_with_policy_fail_parks_the_po(tmp_path):
    """on_inactive = "fail": the POs of an inactive class fail with the reason, the others
    sync; QBO is asked about the class once for the whole pass, and nothing is changed there."""
    classes = dataclasses.replace(US_CLASSES, on_inactive="fail")
    with harness(tmp_path, settings_hook=configured(classes=classes)) as h:
        east = h.qbo.seed("Class", {"Name": "East", "Active": False})
        h.qbo.seed("Class", {"Name": "General"})
        main = h.lum.add_warehouse("Main Warehouse")
        first, second = h.po(warehouse_id=main["id"]), h.po(warehouse_id=main["id"])
        other = h.po(warehouse_id=h.lum.add_warehouse("Elsewhere")["id"])  # the default class
        report = h.run()
        assert report.counts["created"] == 1 and h.entry(other["id"]).status is SyncStatus.SYNCED
        for po in (first, second):
            entry = h.entry(po["id"])
            assert entry.status is SyncStatus.FAILED
            assert "class 'East' is inactive in QuickBooks (policy: fail)" in (
                entry.last_error_message
            )
        assert len(_queries(h, "Class")) == 1
        assert h.qbo.get("Class", east["Id"])["Active"] is False


def test_an_edition_without_classes_stops_the_pass_with_the_fix(tmp_path):
    """Essentials has no classes: [classes] set stops the pass at its start, nothing written."""
    with harness(
        tmp_path,
        qbo_options={"edition": "Essentials"},
        settings_hook=configured(classes=US_CLASSES),
    ) as h:
        h.po()
        report = h.run()
        assert "QuickBooks Online Essentials has no classes" in report.fatal
        assert h.qbo.objects("PurchaseOrder") == []


# --- the company profile: read once, kept a day ------------------------------------------------


def test_the_company_is_read_again_after_a_day_or_when_it_refuses_the_configuration(tmp_path):
    """Two reads on the first pass, none while the kept profile is under a day old, two again
    after; a kept profile that refuses the configuration (classes set, the company was on
    Essentials) is read again before the pass stops: the upgrade to Plus is seen at once."""
    with harness(tmp_path, qbo_options={"edition": "Essentials"}) as h:
        reads = lambda: h.qbo.count(path_contains="/companyinfo/")  # noqa: E731
        h.run()
        assert reads() == 1 and len(_queries(h, "Preferences")) == 1
        h.clock.advance(hours=23)
        h.run()
        assert reads() == 1
        h.clock.advance(hours=2)
        h.run()
        assert reads() == 2

        h.qbo.edition = "Plus"
        general = h.qbo.seed("Class", {"Name": "General"})
        with_classes = configured(classes=US_CLASSES)(h.settings)
        po = h.po(warehouse_id=h.lum.add_warehouse("Elsewhere")["id"])  # the default class
        report = h.run(settings=with_classes)
        assert report.fatal is None and reads() == 3
        assert _ref(h.qbo_po(po["id"])["Line"][0], "ClassRef") == general["Id"]


def test_a_kept_profile_carries_a_pass_through_an_outage_of_companyinfo(tmp_path):
    """The profile is due for a refresh but QBO fails to answer it: the kept one is used (a
    stale country is still the country) and the pass goes on."""
    tax = configured(tax=UK_TAX)
    with harness(tmp_path, qbo_options={"country": "GB"}, settings_hook=tax) as h:
        h.run()
        h.clock.advance(hours=25)
        rule = h.qbo.add_fault(FaultRule(path_regex=r"/companyinfo/", status=503, times=None))
        oats = h.product("Oats", "OAT")
        line = {"product_id": oats["id"], "quantity": "1", "unit_price": "10", "tax_rate": "20"}
        po = h.po(items=[line])  # the record's items, as given
        report = h.run()
        assert rule.fired >= 1 and report.fatal is None and report.aborted is None
        assert report.counts["created"] == 1
        assert _money(h.qbo_po(po["id"])["TxnTaxDetail"]["TotalTax"]) == D("2.00")
