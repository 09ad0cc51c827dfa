"""Each purchase TaxCode's total rate, as QBO holds it: a TaxInclusive line is sent net
(`documents.tax_inclusive`), and the net is the gross less the tax at the rate QBO will use.

Read once per pass, and only when a document is TaxInclusive: every TaxCode (its
PurchaseTaxRateList names TaxRates, Intuit's TaxCode reference) and every TaxRate (its
RateValue, a percent). A code whose rates are not all readable has no entry; its lines then
fail their document with the reason instead of going out gross.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from reconciler.qbo import query as q
from reconciler.resolve.common import QueryClient, iter_all


class TaxRateTable:
    """TaxCode Id -> the sum of its purchase rates (percent), for one pass."""

    def __init__(self, client: QueryClient) -> None:
        self._client = client
        self._rates: dict[str, Decimal] | None = None

    def rates(self) -> dict[str, Decimal]:
        if self._rates is None:
            self._rates = self._read()
        return self._rates

    def _read(self) -> dict[str, Decimal]:
        every = [q.in_("Active", (True, False))]
        values = {
            str(row["Id"]): _percent(row.get("RateValue"))
            for row in iter_all(self._client, "TaxRate", every)
        }
        table: dict[str, Decimal] = {}
        for code in iter_all(self._client, "TaxCode", every):
            details = (code.get("PurchaseTaxRateList") or {}).get("TaxRateDetail") or []
            found = [values.get(_rate_id(detail)) for detail in details]
            rates = [rate for rate in found if rate is not None]
            if rates and len(rates) == len(found):  # a rate not read: no total for the code
                table[str(code["Id"])] = sum(rates, Decimal(0))
        return table


def _rate_id(detail: Any) -> str | None:
    ref = detail.get("TaxRateRef") if isinstance(detail, dict) else None
    return str(ref.get("value")) if isinstance(ref, dict) else None


def _percent(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None
