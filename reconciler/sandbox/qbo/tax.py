"""TaxCode and TaxRate, the purchase-line tax code rule and QBO's global tax computation.

US companies keep the pseudo codes TAX and NON and no tax on purchases (the line code defaults
to NON, as before; any other code on a US line is an unknown reference, 2500). Outside the US
every purchase line needs a TaxCode that has purchase rates, and the transaction's tax is
computed here from GlobalTaxCalculation.

Tax is computed line by line (what Intuit's people say QBO does; not a per-rate sum):
each line's tax at each of its code's rates is rounded half up to the cent, then the lines'
taxes are added per rate. Sources: an Intuit staff answer on QuickBooks Community (en-ca,
"If my subtotal is 95.40 ... GST/HST is 15%", thread 306952: "QuickBooks Online will always
calculate line-by-line"; the asker's 31 lines at 1.59 (two of quantity 11) taxed at 12% come
to 9.71, the per-line sum, not 81.09 x 12% = 9.73); a second staff answer (thread 1567567:
"the Amount fields for each line have a precision of two (2) decimal places ... the GST total
may differ when compared to calculating GST directly on the subtotal"); Teachworks' notes for
global QBO users ("the Global version of QuickBooks calculates tax separately for each line
item ... Due to rounding the sales tax for each line, the sales tax total ... may be a few
cents higher or lower").

- TaxExcluded (the default when none is sent): line Amount is net; its tax at rate r is
  Amount x r / 100. Per TaxRate: NetAmountTaxable = sum of the nets, the TaxLine's Amount = sum
  of the lines' rounded taxes. TotalTax is the sum of the TaxLines, TotalAmt = sum of net
  amounts + TotalTax. A live CA company: 6698.22 at HST 13% is TotalTax 870.77, TotalAmt
  7568.99 (quickbooks-online-mcp-server #101).
- TaxInclusive: the line's Amount is read as the NET amount, as QBO stores and answers it,
  never as the gross. quickbooks-ruby #346 (an integrator who tried): GlobalTaxCalculation "only
  affects the display" and "by default QuickBooks assumes all prices exclude tax"; Intuit's
  entity reference (PurchaseOrder and Bill, ItemBasedExpenseLineDetail and
  AccountBasedExpenseLineDetail, minorversion 1) gives the gross its own field,
  TaxInclusiveAmt, "The total amount of the line item including tax", and "Amount: The amount
  of the line item"; every public client sending TaxInclusive lines sends a net Amount with the
  gross in TaxInclusiveAmt. So: Amount is kept as sent (to the cent), checked against Qty x
  UnitPrice as always (6070: the unit price must be the net one too). With TaxInclusiveAmt G
  on the line, its tax at rate r is G x r / (100 + R), R the code's total rate, rounded per
  line: a real AU company's invoices, dumped in a public repository, reproduce to the cent
  (GST 10%: G 769.94 stored as Amount 699.95, tax 69.99; seven lines of G 305.46 ... 21.98,
  NetAmountTaxable 3592.39, TotalTax 359.24). Without TaxInclusiveAmt the Amount is taken
  net and taxed as TaxExcluded, and TaxInclusiveAmt is answered as Amount + its tax: a client
  that puts the gross in Amount books the tax twice, as real QBO would.
- NotApplicable: no tax, no tax code needed; TxnTaxDetail {"TotalTax": 0}.

A TxnTaxDetail the client sends is replaced by the computed one (QBO also takes overrides; the
emulator does not model them). Codes cannot be created, changed or deleted through the entity
endpoints (Intuit lists TaxCode and TaxRate as read and query only; new ones go through
TaxService, not modelled): 500 Unsupported Operation. CDC does not cover them (qbo-api.md).
"""

from __future__ import annotations

import copy
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from reconciler.sandbox.qbo import (  # circular by design: used only inside functions
    store as qbo_store,
)
from reconciler.sandbox.qbo.wire import CENT, to_decimal

MODES = ("TaxExcluded", "TaxInclusive", "NotApplicable")
HUNDRED = Decimal(100)
# What the missing-code refusal says in each country (UK text: qbo-api.md; CA and AU by analogy).
MISSING_CODE_TEXT = {
    "GB": "Make sure all your transactions have a VAT rate before you save.",
    "CA": "Make sure all your transactions have a GST/HST rate before you save.",
    "AU": "Make sure all your transactions have a GST rate before you save.",
}

# Seed data: rates (Id, Name, RateValue, SpecialTaxType) and codes (Id, Name, Description,
# purchase rate Ids, sales rate Ids). Names follow what QBO shows in those countries; a
# user-defined sales-only code "0%" (empty PurchaseTaxRateList, as in a real company's dump)
# exercises the "no purchase rates" refusal.
TAX_SEEDS: dict[str, dict[str, list[tuple]]] = {
    "GB": {
        "rates": [
            ("1", "20.0% S", "20", "NONE"),
            ("2", "5.0% R", "5", "NONE"),
            ("3", "0.0% Z", "0", "ZERO_RATE"),
            ("4", "Exempt", "0", "ZERO_RATE"),
            ("5", "No VAT", "0", "ZERO_RATE"),
        ],
        "codes": [
            ("2", "20.0% S", "20.0% Standard", ["1"], ["1"]),
            ("3", "5.0% R", "5.0% Reduced", ["2"], ["2"]),
            ("4", "0.0% Z", "0.0% Zero", ["3"], ["3"]),
            ("5", "Exempt", "Exempt", ["4"], ["4"]),
            ("6", "No VAT", "No VAT", ["5"], ["5"]),
            ("7", "0%", "0%", [], ["3"]),
        ],
    },
    "CA": {
        "rates": [
            ("1", "GST", "5", "NONE"),
            ("2", "HST ON", "13", "NONE"),
            ("3", "QST QC", "9.975", "NONE"),
            ("4", "Zero-rated", "0", "ZERO_RATE"),
            ("5", "Exempt", "0", "ZERO_RATE"),
        ],
        "codes": [
            ("2", "Exempt", "Exempt", ["5"], ["5"]),
            ("3", "Zero-rated", "Zero-rated", ["4"], ["4"]),
            ("4", "GST", "GST", ["1"], ["1"]),
            ("5", "HST ON", "HST Ontario", ["2"], ["2"]),
            ("6", "GST/QST QC - 9.975", "GST/QST Quebec", ["1", "3"], ["1", "3"]),
            ("7", "0%", "0%", [], ["4"]),
        ],
    },
    "AU": {
        "rates": [
            ("3", "GST (sales)", "10", "NONE"),
            ("4", "GST (purchases)", "10", "NONE"),
            ("5", "GST free", "0", "ZERO_RATE"),
            ("6", "Input taxed", "0", "ZERO_RATE"),
        ],
        "codes": [
            ("5", "GST", "GST", ["4"], ["3"]),
            ("6", "GST free", "GST free", ["5"], ["5"]),
            ("7", "Input taxed", "Input taxed", ["6"], ["6"]),
            ("8", "0%", "0%", [], ["5"]),
        ],
    },
}
US_CODES = [("TAX", "TAX", True), ("NON", "NON", False)]


# --- seeding ------------------------------------------------------------------------------


def seed_tax_codes(company: Any, country: str) -> None:
    """Replace the company's tax codes and rates with the given country's."""
    for entity in ("TaxCode", "TaxRate"):
        company.objects[entity].clear()
    if country == "US":
        for code_id, name, taxable in US_CODES:
            body = {"Id": code_id, "Name": name, "Description": name, "Taxable": taxable}
            company.create("TaxCode", body | {"TaxGroup": False, "Active": True}, seeding=True)
        return
    seeds = TAX_SEEDS[country]
    for rate_id, name, value, special in seeds["rates"]:
        company.create("TaxRate", _rate(rate_id, name, value, special), seeding=True)
    names = {rate_id: name for rate_id, name, _, _ in seeds["rates"]}
    for code_id, name, description, purchase, sales in seeds["codes"]:
        body = {
            "Id": code_id,
            "Name": name,
            "Description": description,
            "Active": True,
            "Hidden": False,
            "TaxGroup": True,
            "Taxable": True,
            "TaxCodeConfigType": "USER_DEFINED",
            "PurchaseTaxRateList": {"TaxRateDetail": _details(purchase, names)},
            "SalesTaxRateList": {"TaxRateDetail": _details(sales, names)},
        }
        company.create("TaxCode", body, seeding=True)


def _rate(rate_id: str, name: str, value: str, special: str) -> dict:
    return {
        "Id": rate_id,
        "Name": name,
        "Description": name,
        "RateValue": Decimal(value),
        "Active": True,
        "AgencyRef": {"value": "1"},
        "SpecialTaxType": special,
        "DisplayType": "ReadOnly",
    }


def _details(rate_ids: list[str], names: dict[str, str]) -> list[dict]:
    return [
        {
            "TaxRateRef": {"value": rate_id, "name": names[rate_id]},
            "TaxTypeApplicable": "TaxOnAmount",
            "TaxOrder": 0,
        }
        for rate_id in rate_ids
    ]


def normalise_tax_entity(company: Any, entity: str, obj: dict, existing: dict | None) -> dict:
    """Seeded codes and rates are stored as given (the API cannot write them)."""
    obj.setdefault("Active", True)
    return obj


# --- the line rule --------------------------------------------------------------------------


def apply_line_tax_code(company: Any, detail: dict, mode: str | None) -> None:
    """US: default NON, else one of the company's codes (TAX, NON: 2500 otherwise). Elsewhere:
    a valid, active code with purchase rates (6000 otherwise), never a default."""
    if company.country == "US":
        code = qbo_store._ref_id(detail.get("TaxCodeRef")) or "NON"
        company._resolve_ref("TaxCodeRef", {"value": code}, "TaxCode")  # 2500 if not TAX / NON
        detail["TaxCodeRef"] = {"value": code}  # as QBO shows it on US lines: no name
        return
    ref = detail.get("TaxCodeRef")
    if qbo_store._ref_id(ref) is None:
        if mode == "NotApplicable":
            detail.pop("TaxCodeRef", None)
            return
        raise qbo_store.business_rule(MISSING_CODE_TEXT[company.country])
    resolved = company._resolve_ref("TaxCodeRef", ref, "TaxCode")
    if mode != "NotApplicable" and not purchase_rates(company, resolved["value"]):
        raise qbo_store.business_rule(MISSING_CODE_TEXT[company.country])
    detail["TaxCodeRef"] = resolved


def purchase_rates(company: Any, code_id: str) -> list[tuple[str, Decimal]]:
    """(TaxRate Id, RateValue) of a code's purchase rates, in TaxOrder."""
    code = company.objects["TaxCode"].get(str(code_id)) or {}
    details = (code.get("PurchaseTaxRateList") or {}).get("TaxRateDetail") or []
    rates = []
    for detail in sorted(details, key=lambda d: d.get("TaxOrder", 0)):
        rate_id = str(detail["TaxRateRef"]["value"])
        rate = company.objects["TaxRate"].get(rate_id) or {}
        rates.append((rate_id, to_decimal(rate.get("RateValue")) or Decimal(0)))
    return rates


def global_mode(company: Any, obj: dict) -> str | None:
    """The transaction's GlobalTaxCalculation (defaulted outside the US), checked."""
    if company.country == "US":
        return obj.get("GlobalTaxCalculation")
    mode = obj.setdefault("GlobalTaxCalculation", "TaxExcluded")
    if mode not in MODES:
        raise qbo_store.unsupported_property(
            f"Property Name:GlobalTaxCalculation value {mode!r} is invalid"
        )
    return mode


# --- totals ---------------------------------------------------------------------------------


def apply_totals(company: Any, obj: dict) -> None:
    """Set TotalAmt (and, outside the US, line nets and TxnTaxDetail) on a normalised txn."""
    lines = obj["Line"]
    if company.country == "US":
        # no purchase tax: a TxnTaxDetail sent is not kept (recorded: bill_create_batch.json
        # sends TxnTaxCodeRef "Tucson" and the answer has no TxnTaxDetail)
        obj.pop("TxnTaxDetail", None)
        obj["TotalAmt"] = _sum(line["Amount"] for line in lines)
        return
    mode = obj["GlobalTaxCalculation"]
    if mode != "TaxInclusive":
        for line in lines:
            line[line["DetailType"]].pop("TaxInclusiveAmt", None)
    if mode == "NotApplicable":
        obj["TxnTaxDetail"] = {"TotalTax": Decimal("0.00")}
        obj["TotalAmt"] = _sum(line["Amount"] for line in lines)
        return
    groups = _rate_groups(company, lines, inclusive=mode == "TaxInclusive")
    tax_lines = [_tax_line(rate_id, group) for rate_id, group in groups.items()]
    total_tax = _sum(t["Amount"] for t in tax_lines)
    obj["TxnTaxDetail"] = {"TotalTax": total_tax, "TaxLine": tax_lines}
    obj["TotalAmt"] = _sum(line["Amount"] for line in lines) + total_tax


def _rate_groups(company: Any, lines: list[dict], *, inclusive: bool) -> dict[str, dict]:
    """Per TaxRate (first appearance first): its percent, the nets, and the tax of each line
    at that rate, each rounded to the cent before they are added (line by line)."""
    groups: dict[str, dict] = {}
    for line in lines:
        detail = line[line["DetailType"]]
        rates = purchase_rates(company, detail["TaxCodeRef"]["value"])
        total_rate = sum((value for _, value in rates), Decimal(0))
        gross = to_decimal(detail.get("TaxInclusiveAmt")) if inclusive else None
        line_tax = Decimal(0)
        for rate_id, value in rates:
            group = groups.setdefault(
                rate_id, {"percent": value, "net": Decimal(0), "tax": Decimal(0)}
            )
            group["net"] += line["Amount"]
            if gross is not None:
                tax = _cent(gross * value / (HUNDRED + total_rate))
            else:
                tax = _cent(line["Amount"] * value / HUNDRED)
            group["tax"] += tax
            line_tax += tax
        if inclusive:
            detail["TaxInclusiveAmt"] = _cent(line["Amount"] + line_tax if gross is None else gross)
    return groups


def _tax_line(rate_id: str, group: dict) -> dict:
    return {
        "Amount": _cent(group["tax"]),
        "DetailType": "TaxLineDetail",
        "TaxLineDetail": {
            "TaxRateRef": {"value": rate_id},
            "PercentBased": True,
            "TaxPercent": copy.copy(group["percent"]),
            "NetAmountTaxable": _cent(group["net"]),
        },
    }


def _cent(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _sum(values) -> Decimal:
    return _cent(sum(values, Decimal(0)))
