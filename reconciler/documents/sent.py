"""Pure: what a write sent to QBO, in the few facts a person checks on the document's page.

The body itself is QBO's JSON (a PurchaseOrder or a Bill, `documents/po/body`,
`documents/bill/body`); kept whole for every document it would outweigh the ledger. Kept
instead: its date, the sum of its lines and its currency, and per line what it bought (the
item's or the account's name), its description, quantity, unit price, amount and the PO it is
linked to. Money stays `Decimal` (as text in JSON).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

DESCRIPTION_KEPT = 120  # characters of a line's description


@dataclass(frozen=True)
class SentLine:
    number: int
    what: str | None  # the item's name, else the account's
    description: str | None
    qty: Decimal | None
    unit_price: Decimal | None
    amount: Decimal | None
    linked: tuple[str, ...] = ()  # QBO ids of the POs the line is linked to


@dataclass(frozen=True)
class SentSummary:
    txn_date: str | None
    amount: Decimal | None  # the sum of the lines' amounts
    currency: str | None
    lines: tuple[SentLine, ...]

    def lines_json(self) -> str:
        return json.dumps([_line_dict(line) for line in self.lines], ensure_ascii=False)

    @classmethod
    def from_stored(cls, row: Mapping[str, Any]) -> SentSummary:
        """From a `doc_sent` row (`state.sent`)."""
        try:
            lines = json.loads(row.get("lines") or "[]")
        except ValueError:
            lines = []
        return cls(
            txn_date=row.get("txn_date"),
            amount=_decimal(row.get("amount")),
            currency=row.get("currency"),
            lines=tuple(
                _line_from(n, line) for n, line in enumerate(lines, 1) if isinstance(line, dict)
            ),
        )


def summary(body: Mapping[str, Any]) -> SentSummary:
    """The summary of one body as the writer built it."""
    lines = tuple(
        _line(n, line)
        for n, line in enumerate(body.get("Line") or (), 1)
        if isinstance(line, Mapping) and line.get("DetailType") != "SubTotalLineDetail"
    )
    amounts = [line.amount for line in lines if line.amount is not None]
    currency = body.get("CurrencyRef")
    return SentSummary(
        txn_date=str(body["TxnDate"]) if body.get("TxnDate") else None,
        amount=sum(amounts, Decimal(0)) if amounts else None,
        currency=str(currency.get("value")) if isinstance(currency, Mapping) else None,
        lines=lines,
    )


def _line(number: int, line: Mapping[str, Any]) -> SentLine:
    kind = line.get("DetailType")
    detail = line.get(kind) if isinstance(kind, str) else None
    detail = detail if isinstance(detail, Mapping) else {}
    ref = detail.get("ItemRef") or detail.get("AccountRef")
    what = None
    if isinstance(ref, Mapping):
        what = ref.get("name") or (f"#{ref['value']}" if ref.get("value") else None)
    description = line.get("Description")
    linked = tuple(
        str(link["TxnId"])
        for link in line.get("LinkedTxn") or ()
        if isinstance(link, Mapping) and link.get("TxnId") is not None
    )
    return SentLine(
        number=int(line.get("LineNum") or number),
        what=str(what) if what else None,
        description=str(description)[:DESCRIPTION_KEPT] if description else None,
        qty=_decimal(detail.get("Qty")),
        unit_price=_decimal(detail.get("UnitPrice")),
        amount=_decimal(line.get("Amount")),
        linked=linked,
    )


def _line_dict(line: SentLine) -> dict[str, Any]:
    return {
        "n": line.number,
        "what": line.what,
        "description": line.description,
        "qty": _text(line.qty),
        "unit_price": _text(line.unit_price),
        "amount": _text(line.amount),
        "linked": list(line.linked),
    }


def _line_from(number: int, data: Mapping[str, Any]) -> SentLine:
    return SentLine(
        number=int(data.get("n") or number),
        what=data.get("what"),
        description=data.get("description"),
        qty=_decimal(data.get("qty")),
        unit_price=_decimal(data.get("unit_price")),
        amount=_decimal(data.get("amount")),
        linked=tuple(str(t) for t in data.get("linked") or ()),
    )


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
