"""Pure: a purchase line of a TaxInclusive document, written as QBO reads it.

QBO reads a line's `Amount` as the amount before tax, whatever GlobalTaxCalculation says
("by default QuickBooks assumes all prices exclude tax", quickbooks-ruby #346); the gross has
its own field, `TaxInclusiveAmt` on ItemBasedExpenseLineDetail and
AccountBasedExpenseLineDetail ("The total amount of the line item including tax", Intuit's
PurchaseOrder and Bill references), and QBO answers a TaxInclusive line with the net Amount
and the gross there (a real AU company's answers). Luminous' prices include the tax, so each
line goes out as:

- `TaxInclusiveAmt`: the gross (what Luminous says the line costs);
- `Amount`: the net, gross x 100 / (100 + R) half up to the cent, R the line's tax code's
  total purchase rate as QBO holds it (`resolve.tax_rates`);
- an item line's `UnitPrice`: the net unit price to 7 places (QBO keeps unit prices to 7,
  QuickBooks Community staff, thread 1567567; the AU answers show 92.5633333), chosen so that
  Qty x UnitPrice is the net to the cent (QBO's 6070 check).

A line whose code's rate is not known, or whose quantity admits no such unit price, fails
its document with the reason: sending the gross as the net would overstate it by its tax.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from reconciler.errors import Parked

INCLUSIVE = "TaxInclusive"
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
UNIT_PLACES = Decimal("0.0000001")
ITEM_DETAIL = "ItemBasedExpenseLineDetail"


def net_lines(lines: list[dict[str, Any]], rates: Mapping[str, Decimal]) -> list[dict[str, Any]]:
    """Every line of a TaxInclusive document, net with its gross in TaxInclusiveAmt."""
    return [net_line(line, rates) for line in lines]


def net_line(line: dict[str, Any], rates: Mapping[str, Decimal]) -> dict[str, Any]:
    """One line (a new dict): Amount net, the gross in the detail's TaxInclusiveAmt."""
    detail_type = line["DetailType"]
    detail = dict(line[detail_type])
    code = (detail.get("TaxCodeRef") or {}).get("value")
    if code is None:
        return line
    rate = rates.get(str(code))
    if rate is None:
        raise Parked(
            f"tax code {code} has no purchase rate the sync could read from QuickBooks: a "
            "TaxInclusive line cannot be sent without its net amount",
            code="unresolved_reference",
        )
    gross = Decimal(line["Amount"])
    net = (gross * HUNDRED / (HUNDRED + rate)).quantize(CENT, rounding=ROUND_HALF_UP)
    detail["TaxInclusiveAmt"] = gross
    qty = detail.get("Qty")
    if detail_type == ITEM_DETAIL and qty:
        detail["UnitPrice"] = unit_price(net, Decimal(qty))
    return {**line, "Amount": net, detail_type: detail}


def unit_price(net: Decimal, qty: Decimal) -> Decimal:
    """A unit price to 7 places whose product with `qty` is `net` to the cent."""
    middle = (net / qty).quantize(UNIT_PLACES, rounding=ROUND_HALF_UP)
    for candidate in (middle, middle - UNIT_PLACES, middle + UNIT_PLACES):
        if (candidate * qty).quantize(CENT, rounding=ROUND_HALF_UP) == net:
            return candidate
    raise Parked(
        f"no unit price to 7 places gives the net amount {net} for quantity {qty} "
        "(QBO checks Amount = Qty x UnitPrice)",
        code="unpriceable_line",
    )
