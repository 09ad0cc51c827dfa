"""Coding: the class, location and tax code a purchase line gets (reconciler.documents.coding), the
company facts that decide it (reconciler.qbo.company), and the PO mapping that uses both."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st
from po_samples import D, make_line, make_po, refs_for
from support import rules as make_rules

from reconciler.documents import coding
from reconciler.documents.coding import CodingRules, DocFacts, LineFacts, Lookup, TaxRules
from reconciler.documents.po.body import po_payload
from reconciler.documents.po.mapping import desired_po
from reconciler.documents.tax_inclusive import net_lines, unit_price
from reconciler.errors import InvalidSourceRecord, Parked
from reconciler.model import LineKind, SourceProduct
from reconciler.qbo.company import CompanyProfile, profile_from
from reconciler.qbo.compare import differences

UK = CompanyProfile(country="GB", edition="Plus", class_tracking="line", tracks_locations=True)
US = CompanyProfile(country="US", edition="Plus", class_tracking="line", tracks_locations=True)
UK_TAX = TaxRules(
    source="rate",
    codes=(("20", "20.0% S"), ("5", "5.0% R")),
    zero_rate="0.0% Z",
)


def _uk_rules(**tax_changes) -> CodingRules:
    return CodingRules(tax=dataclasses.replace(UK_TAX, **tax_changes), global_tax="TaxExcluded")


# --- the company -------------------------------------------------------------------------------


def _info(country="GB", sku="QuickBooks Online Plus"):
    return {
        "CompanyName": "Emulated Trading Co",
        "Country": country,
        "NameValue": [{"Name": "OfferingSku", "Value": sku}],
    }


def _prefs(per_line=True, per_txn=False, departments=True):
    return {
        "AccountingInfoPrefs": {
            "ClassTrackingPerTxnLine": per_line,
            "ClassTrackingPerTxn": per_txn,
            "TrackDepartments": departments,
            "DepartmentTerminology": "Store",
        },
        "CurrencyPrefs": {"HomeCurrency": {"value": "GBP"}},
    }


def test_profile_from_companyinfo_and_preferences():
    """Country, edition from OfferingSku, the tracking switches and the location word."""
    profile = profile_from(_info(), _prefs())
    assert (profile.country, profile.edition, profile.class_tracking) == ("GB", "Plus", "line")
    assert profile.tracks_locations and profile.location_label == "Store"
    assert profile.home_currency == "GBP" and not profile.is_us
    assert "country GB" in profile.describe() and "tax codes on every line" in profile.describe()
    assert CompanyProfile.from_json(profile.as_json()) == profile


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"Country": "UK"}, "GB"),  # either spelling is the United Kingdom
        ({"CompanyAddr": {"Country": "CA"}}, "CA"),  # no Country: the address's
        ({}, "US"),  # nothing at all: a US company, whose rule sends nothing others refuse
        ({"Country": "usa"}, "USA"),
    ],
)
def test_the_country_and_its_fallbacks(info, expected):
    profile = profile_from(info, {})
    assert profile.country == expected
    assert profile.is_us is (expected in ("US", "USA"))


def test_editions_and_tracking_switches():
    """Essentials has no tracking; an unnamed edition is not held against anyone; per
    transaction and off are told apart."""
    assert not profile_from(_info(sku="QuickBooks Online Essentials"), {}).edition_has_tracking
    assert profile_from({"NameValue": []}, {}).edition_has_tracking
    assert profile_from(_info(), _prefs(per_line=False, per_txn=True)).class_tracking == (
        "transaction"
    )
    assert profile_from(_info(), _prefs(per_line=False)).class_tracking == "off"
    assert CompanyProfile.from_json("not json") is None and CompanyProfile.from_json(None) is None


# --- classes and locations ---------------------------------------------------------------------


def test_class_from_the_warehouse_through_the_map_and_default():
    """Mapped values (any case, any spacing) give their class; others the default."""
    lookup = Lookup("warehouse", table=(("Main Warehouse", "East"),), default="General")
    rules = CodingRules(classes=lookup)
    line = LineFacts()
    assert coding.code_line(line, DocFacts(warehouse=" main  warehouse "), rules).class_name == (
        "East"
    )
    assert coding.code_line(line, DocFacts(warehouse="Annex"), rules).class_name == "General"
    assert coding.code_line(line, DocFacts(), rules).class_name == "General"
    bare = CodingRules(classes=dataclasses.replace(lookup, default=None))
    assert coding.code_line(line, DocFacts(warehouse="Annex"), bare).class_name is None


def test_class_from_a_custom_field_or_a_product_attribute():
    by_field = CodingRules(classes=Lookup("custom_field", "Division", (("Retail", "Retail"),)))
    doc = DocFacts(custom_fields=(("division", "retail"),))
    assert coding.code_line(LineFacts(), doc, by_field).class_name == "Retail"
    by_product = CodingRules(
        classes=Lookup("product_attribute", "Category", (("Supplements", "Health"),), "Other")
    )
    line = LineFacts(attributes=(("category", "Supplements"), ("Colour", "Red")))
    assert coding.code_line(line, doc, by_product).class_name == "Health"
    assert coding.code_line(LineFacts(charge=True), doc, by_product).class_name == "Other"


def test_location_per_document():
    rules = CodingRules(locations=Lookup("warehouse", table=(("Main Warehouse", "Utah"),)))
    assert coding.location_for(DocFacts(warehouse="Main Warehouse"), rules) == "Utah"
    assert coding.location_for(DocFacts(warehouse="Other"), rules) is None
    assert coding.location_for(DocFacts(), CodingRules()) is None


# --- tax codes ---------------------------------------------------------------------------------


def test_no_tax_rules_no_tax_code():
    """A US company (tax None) never gets a code, whatever Luminous says."""
    assert coding.code_line(LineFacts(tax=D("2"), tax_rate=D("20")), DocFacts(), CodingRules()) == (
        coding.LineCoding(None, None)
    )


@pytest.mark.parametrize(
    ("facts", "code"),
    [
        (LineFacts(taxable=D("100"), tax=D("20.00"), tax_rate=D("20")), "20.0% S"),
        (LineFacts(taxable=D("100"), tax=D("20.00"), tax_rate=D("20.000")), "20.0% S"),
        (LineFacts(taxable=D("33.33"), tax=D("1.67")), "5.0% R"),  # no rate: fitted
        (LineFacts(taxable=D("0.05"), tax=D("0.01")), "20.0% S"),  # 5% would be 0.00
        (LineFacts(taxable=D("10"), tax=D("0")), "0.0% Z"),  # untaxed
        (LineFacts(taxable=D("10"), tax=D("0"), tax_rate=D("0")), "0.0% Z"),
        (LineFacts(charge=True), "0.0% Z"),  # charges without tax.charges: zero_rate
    ],
)
def test_tax_code_by_rate(facts, code):
    assert coding.code_line(facts, DocFacts(), _uk_rules()).tax_code == code


def test_tax_code_by_rate_inclusive_fits_the_gross():
    """TaxInclusive: 769.94 gross at 10% is 69.99 tax (gross x 10 / 110), not 76.99."""
    rules = CodingRules(
        tax=TaxRules(codes=(("10", "GST"),), zero_rate="GST free", calculation="TaxInclusive")
    )
    line = LineFacts(taxable=D("769.94"), tax=D("69.99"))
    assert coding.code_line(line, DocFacts(), rules).tax_code == "GST"
    exclusive = dataclasses.replace(rules, tax=dataclasses.replace(rules.tax, calculation="x"))
    with pytest.raises(InvalidSourceRecord, match="fits no rate"):
        coding.code_line(line, DocFacts(), exclusive)


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        (LineFacts(taxable=D("100"), tax=D("17.00")), r"fits no rate in tax.codes \(20%, 5%\)"),
        (LineFacts(taxable=D("100"), tax=D("17"), tax_rate=D("17")), "tax rate 17% is not in"),
    ],
)
def test_a_line_no_code_fits_fails_with_the_reason(facts, reason):
    with pytest.raises(InvalidSourceRecord, match=reason):
        coding.code_line(facts, DocFacts(), _uk_rules())
    assert coding.code_line(facts, DocFacts(), _uk_rules(default="Exempt")).tax_code == "Exempt"


def test_several_fitting_rates_are_a_failure_not_a_guess():
    rules = _uk_rules(codes=(("20", "20.0% S"), ("21", "Other 21")))
    with pytest.raises(InvalidSourceRecord, match="fits several rates"):
        coding.code_line(LineFacts(taxable=D("0.05"), tax=D("0.01")), DocFacts(), rules)


def test_untaxed_lines_and_charges_need_a_code_somewhere():
    rules = _uk_rules(zero_rate=None)
    with pytest.raises(InvalidSourceRecord, match=r"untaxed line needs tax\.zero_rate"):
        coding.code_line(LineFacts(taxable=D("5")), DocFacts(), rules)
    with pytest.raises(InvalidSourceRecord, match=r"set tax\.charges or tax\.zero_rate"):
        coding.code_line(LineFacts(charge=True), DocFacts(), rules)
    charged = _uk_rules(charges="20.0% S")
    assert coding.code_line(LineFacts(charge=True), DocFacts(), charged).tax_code == "20.0% S"


def test_tax_code_by_tax_class():
    rules = CodingRules(
        tax=TaxRules(
            source="tax_class",
            codes=(("standard", "20.0% S"), ("Reduced", "5.0% R")),
            zero_rate="0.0% Z",
        )
    )
    assert coding.code_line(LineFacts(tax_class="reduced"), DocFacts(), rules).tax_code == (
        "5.0% R"
    )
    assert coding.code_line(LineFacts(), DocFacts(), rules).tax_code == "0.0% Z"
    with pytest.raises(InvalidSourceRecord, match="tax class 'luxury' has no tax code"):
        coding.code_line(LineFacts(tax_class="luxury"), DocFacts(), rules)
    with pytest.raises(InvalidSourceRecord, match="no tax class and tax 3"):
        coding.code_line(LineFacts(tax=D("3")), DocFacts(), rules)


@given(
    st.decimals(min_value=D("0.01"), max_value=D("99999"), places=2),
    st.sampled_from([D("20"), D("5"), D("13"), D("9.975")]),
    st.booleans(),
)
def test_the_rate_a_tax_was_computed_with_always_fits(amount, rate, inclusive):
    """Whatever the amount, the tax a rate gives (half up to the cent) fits that rate."""
    base = D(100) + rate if inclusive else D(100)
    tax = (amount * rate / base).quantize(D("0.01"), rounding="ROUND_HALF_UP")
    assert coding.fits(amount, tax, rate, inclusive)


# --- configuration and company checks ----------------------------------------------------------


def test_configuration_problems():
    assert coding.tax_problems(TaxRules(codes=(("twenty", "20.0% S"), ("120", "x")))) == [
        'tax.codes: \'twenty\' is not a rate (a percent from 0 to 100, like "20" or "5.5")',
        'tax.codes: \'120\' is not a rate (a percent from 0 to 100, like "20" or "5.5")',
    ]
    assert coding.tax_problems(TaxRules(source="tax_class", codes=(("std", "S"),))) == []
    assert coding.lookup_problems("classes", Lookup("custom_field")) == [
        "classes.field must name the custom field"
    ]
    assert coding.lookup_problems("classes", Lookup("warehouse", table=(("a", ""),))) == [
        "classes: 'a' maps to an empty name"
    ]
    assert coding.parse_rate("5.5%") == D("5.5") and coding.parse_rate("NaN") is None


def test_company_problems():
    """Classes in Essentials, locations not tracked, and no tax codes outside the US stop the
    pass with the fix; a US company or a configured UK one has none."""
    classes = Lookup("warehouse", default="East")
    essentials = dataclasses.replace(UK, edition="Essentials")
    [problem] = coding.company_problems(CodingRules(classes=classes), essentials)
    assert "QuickBooks Online Essentials has no classes" in problem
    untracked = dataclasses.replace(US, tracks_locations=False)
    [problem] = coding.company_problems(CodingRules(locations=classes), untracked)
    assert "locations are not tracked" in problem and "DepartmentRef = false" in problem
    [problem] = coding.company_problems(CodingRules(tax=TaxRules()), UK)
    assert "the company is in GB" in problem and "TaxCodeRef = false" in problem
    assert coding.company_problems(_uk_rules(), UK) == []
    assert coding.company_problems(CodingRules(classes=classes), US) == []


def test_rules_for_a_company():
    tax = UK_TAX
    us = coding.rules_for(US, classes=None, locations=None, tax=tax, tax_codes_on=True)
    assert us == CodingRules()
    uk = coding.rules_for(UK, classes=None, locations=None, tax=tax, tax_codes_on=True)
    assert uk.tax == tax and uk.global_tax == "TaxExcluded"
    out = coding.rules_for(UK, classes=None, locations=None, tax=tax, tax_codes_on=False)
    assert out.tax is None and out.global_tax == "NotApplicable"
    assert coding.rules_for(None, classes=None, locations=None, tax=tax, tax_codes_on=True) == us


# --- the PO mapping ----------------------------------------------------------------------------


def _lines(desired, kind=None):
    return [ln for ln in desired.lines if kind is None or ln.kind is kind]


def test_a_us_po_keeps_todays_rule_and_hash():
    """No classes, US company: the same lines and the same content hash as before coding
    existed (the hash below is what the previous release computed for this PO): an upgrade
    rewrites no PO in QBO."""
    po = make_po(
        total_tax=D("2.10"),
        total_shipping_cost=D("4"),
        lines=(make_line(1, discount_amount=D("1")), make_line(2)),
    )
    desired = desired_po(po, make_rules())
    assert [ln.description for ln in _lines(desired, LineKind.ACCOUNT)] == [
        "Discounts (1 line)",
        "Tax",
        "Shipping",
    ]
    assert all(ln.class_name is None and ln.tax_code is None for ln in desired.lines)
    assert desired.location is None and desired.tax_calculation is None
    assert desired.content_hash == "b77a1a775942f080b4ee8fe7c075120d"


def test_a_uk_po_codes_every_line_and_drops_the_tax_line():
    """Item lines by rate, discounts per code, shipping at the zero rate, no tax line."""
    lines = (
        make_line(1, quantity=D("10"), unit_price=D("10"), tax=D("19.00"), discount_amount=D("5")),
        make_line(2, quantity=D("3"), unit_price=D("11.11"), tax=D("1.67")),
        make_line(3, quantity=D("1"), unit_price=D("4"), tax=D("0")),
    )
    po = make_po(lines=lines, total_tax=D("20.67"), total_shipping_cost=D("7.50"))
    rules = make_rules(line_coding=_uk_rules())
    desired = desired_po(po, rules)
    assert [ln.tax_code for ln in _lines(desired, LineKind.ITEM)] == [
        "20.0% S",
        "5.0% R",
        "0.0% Z",
    ]
    charges = [(ln.description, ln.amount, ln.tax_code) for ln in _lines(desired, LineKind.ACCOUNT)]
    assert charges == [
        ("Discounts (1 line)", D("-5.00"), "20.0% S"),
        ("Shipping", D("7.50"), "0.0% Z"),
    ]
    assert desired.tax_calculation == "TaxExcluded"


def test_a_po_with_a_line_no_code_fits_is_rejected_alone_with_the_reason():
    po = make_po(lines=(make_line(1), make_line(2, tax=D("3.57"))))
    with pytest.raises(
        InvalidSourceRecord, match=r"line 2: tax 3\.57 on 21\.00 fits no rate"
    ) as exc:
        desired_po(po, make_rules(line_coding=_uk_rules()))
    assert exc.value.doc_id == po.id


def test_classes_split_discounts_and_follow_the_warehouse():
    """Per-product classes: each class keeps its own discount line; shipping takes the default."""

    def product(n, category):
        return SourceProduct(id=n, name=f"P{n}", sku=f"S{n}", attributes=(("category", category),))

    lines = (
        make_line(1, product=product(1, "Protein"), discount_amount=D("1")),
        make_line(2, product=product(2, "Vitamins"), discount_amount=D("2")),
    )
    po = make_po(lines=lines, total_shipping_cost=D("5"), warehouse_name="Main Warehouse")
    lookup = Lookup(
        "product_attribute", "category", (("Protein", "Sports"), ("Vitamins", "Health")), "Other"
    )
    locations = Lookup("warehouse", table=(("Main Warehouse", "Utah"),))
    rules = make_rules(line_coding=CodingRules(classes=lookup, locations=locations))
    desired = desired_po(po, rules)
    assert [(ln.description, ln.class_name) for ln in desired.lines] == [
        (None, "Sports"),
        (None, "Health"),
        ("Discounts (1 line)", "Sports"),
        ("Discounts (1 line)", "Health"),
        ("Shipping", "Other"),
    ]
    assert desired.location == "Utah"


# --- the body ----------------------------------------------------------------------------------


def test_the_body_carries_class_tax_code_location_and_the_tax_calculation():
    """ClassRef and TaxCodeRef on item and account lines, DepartmentRef and
    GlobalTaxCalculation on the PO, by the ids resolve found; a name without an id parks."""
    lines = (make_line(1, tax=D("4.20")),)
    po = make_po(lines=lines, total_shipping_cost=D("3"), warehouse_name="Main Warehouse")
    lookup = Lookup("warehouse", table=(("Main Warehouse", "East"),))
    rules = make_rules(
        line_coding=dataclasses.replace(_uk_rules(), classes=lookup, locations=lookup)
    )
    desired = desired_po(po, rules)
    refs = dataclasses.replace(
        refs_for(desired),
        class_ids={"East": "500"},
        department_id="7",
        tax_code_ids={"20.0% S": "2", "0.0% Z": "4"},
    )
    body = po_payload(desired, refs)
    item = body["Line"][0]["ItemBasedExpenseLineDetail"]
    shipping = body["Line"][1]["AccountBasedExpenseLineDetail"]
    assert (item["ClassRef"], item["TaxCodeRef"]) == ({"value": "500"}, {"value": "2"})
    assert (shipping["ClassRef"], shipping["TaxCodeRef"]) == ({"value": "500"}, {"value": "4"})
    assert body["DepartmentRef"] == {"value": "7"} and body["GlobalTaxCalculation"] == "TaxExcluded"
    assert len(body["Line"]) == 2  # no tax line: QBO computes the tax
    with pytest.raises(Parked, match=r"tax code '0\.0% Z' has no QBO id"):
        po_payload(desired, dataclasses.replace(refs, tax_code_ids={"20.0% S": "2"}))
    with pytest.raises(Parked, match="location 'East' has no QBO id"):
        po_payload(desired, dataclasses.replace(refs, department_id=None))


def test_a_us_body_is_unchanged():
    desired = desired_po(make_po(total_tax=D("1")), make_rules())
    body = po_payload(desired, refs_for(desired))
    assert "GlobalTaxCalculation" not in body and "DepartmentRef" not in body
    assert all(
        "ClassRef" not in ln[ln["DetailType"]] and "TaxCodeRef" not in ln[ln["DetailType"]]
        for ln in body["Line"]
    )


def test_a_tax_inclusive_line_goes_out_net_and_compares_with_what_qbo_holds():
    """Luminous' 769.94 includes GST 10%: the line goes out as QBO reads and keeps it (Amount
    699.95 net, UnitPrice net, the gross in TaxInclusiveAmt; quickbooks-ruby #346, Intuit's
    PurchaseOrder/Bill references, a real AU company's answers: reconciler/sandbox/qbo/tax.py).
    What QBO then holds is no difference; another gross or tax code is one."""
    gross = {
        "Amount": D("769.94"),
        "DetailType": "ItemBasedExpenseLineDetail",
        "ItemBasedExpenseLineDetail": {
            "ItemRef": {"value": "2"},
            "Qty": D("1"),
            "UnitPrice": D("769.94"),
            "TaxCodeRef": {"value": "5"},
        },
    }
    ours = {"Line": net_lines([gross], {"5": D("10")})}
    line = ours["Line"][0]
    detail = line["ItemBasedExpenseLineDetail"]
    assert line["Amount"] == D("699.95") and detail["TaxInclusiveAmt"] == D("769.94")
    assert detail["UnitPrice"] == D("699.95")
    assert gross["Amount"] == D("769.94")  # the body it came from is left alone
    held = {
        "Line": [
            {
                "Amount": 699.95,
                "DetailType": "ItemBasedExpenseLineDetail",
                "ItemBasedExpenseLineDetail": {
                    "ItemRef": {"value": "2", "name": "Gadget"},
                    "Qty": 1,
                    "UnitPrice": 699.95,
                    "TaxInclusiveAmt": 769.94,
                    "TaxCodeRef": {"value": "5", "name": "GST"},
                },
            }
        ]
    }
    assert differences(ours, held) == []
    held["Line"][0]["ItemBasedExpenseLineDetail"] |= {
        "TaxInclusiveAmt": 770,
        "TaxCodeRef": {"value": "6"},
    }
    assert [d.field for d in differences(ours, held)] == [
        "Line 1 TaxCodeRef",
        "Line 1 TaxInclusiveAmt",
    ]


def test_a_net_unit_price_to_7_places_keeps_qbo_s_6070_check():
    """305.46 gross for 3 at GST 10%: net 277.69, unit price 92.5633333 (3 x it = 277.69 to the
    cent, as the real AU answer shows); a line whose code has no known rate fails its
    document with the reason instead of going out gross."""
    line = {
        "Amount": D("305.46"),
        "DetailType": "ItemBasedExpenseLineDetail",
        "ItemBasedExpenseLineDetail": {"Qty": D("3"), "TaxCodeRef": {"value": "5"}},
    }
    [net] = net_lines([line], {"5": D("10")})
    assert net["Amount"] == D("277.69")
    assert net["ItemBasedExpenseLineDetail"]["UnitPrice"] == D("92.5633333")
    assert all(
        (unit_price(n, q) * q).quantize(D("0.01")) == n
        for n in (D("0.01"), D("277.69"), D("99999.99"))
        for q in (D("1"), D("3"), D("7"), D("1000"), D("0.333"))
    )
    with pytest.raises(Parked, match="no purchase rate"):
        net_lines([line], {})
