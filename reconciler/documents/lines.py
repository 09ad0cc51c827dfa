"""Pure: the lines of a QBO document as its answers showed them, for every kind alike.

A later write finds its lines again by these: an update sends each kept line with its QBO
`Id` (a line sent without one is a new line to QBO, and a bill linked to the old one would
block the update), and a bill line links to a PO line by the PO line's Id. `state.lines`
keeps them, keyed by the source line each came from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class QBOLine:
    """One line of a QBO document as its answer showed it: how a later write finds it again
    (a PO line a bill links to, a bill line kept on an update)."""

    key: str  # the source line it came from ("item:<Luminous line id>", "tax", ...)
    qbo_line_id: str
    detail_type: str
    target_id: str | None  # its ItemRef or AccountRef value
    qty: Decimal | None = None
    unit_price: Decimal | None = None
    amount: Decimal | None = None
    linked_txn_id: str | None = None  # bill lines: the PO (QBO Id) it is linked to
    linked_line_id: str | None = None  # bill lines: the PO line (QBO line Id)
    class_id: str | None = None  # its ClassRef: a bill line linked to it takes the same
    tax_code_id: str | None = None  # its TaxCodeRef (outside the US)


def answered_lines(
    keys: Sequence[str | None], entity: Mapping[str, Any] | None
) -> list[QBOLine] | None:
    """The QBO lines of a write's answer, keyed by the source lines sent (`keys`, in the order
    sent): QBO numbers lines 1..n in the order it got them (LineNum), so line n is key n. None
    when the answer has no lines to learn from (a delete)."""
    raw = (entity or {}).get("Line")
    if not isinstance(raw, list):
        return None
    lines = [line for line in raw if isinstance(line, Mapping) and line.get("Id") is not None]
    by_number = {line.get("LineNum"): line for line in lines}
    found: list[QBOLine] = []
    for number, key in enumerate(keys, start=1):
        line = by_number.get(number) or (lines[number - 1] if number <= len(lines) else None)
        if key is None or line is None:
            continue
        found.append(qbo_line(key, line))
    return found


def qbo_line(key: str, line: Mapping[str, Any]) -> QBOLine:
    """One QBO line as stored: its Id, kind, item or account, numbers and PO link."""
    detail_type = str(line.get("DetailType") or "")
    detail = line.get(detail_type) if isinstance(line.get(detail_type), Mapping) else {}
    target = detail.get("ItemRef") or detail.get("AccountRef")
    link = next(
        (
            x
            for x in line.get("LinkedTxn") or []
            if isinstance(x, Mapping) and x.get("TxnType") == "PurchaseOrder"
        ),
        None,
    )
    return QBOLine(
        key=key,
        qbo_line_id=str(line["Id"]),
        detail_type=detail_type,
        target_id=_ref(target),
        qty=_decimal(detail.get("Qty")),
        unit_price=_decimal(detail.get("UnitPrice")),
        amount=_decimal(line.get("Amount")),
        linked_txn_id=_text(link.get("TxnId")) if link else None,
        linked_line_id=_text(link.get("TxnLineId")) if link else None,
        class_id=_ref(detail.get("ClassRef")),
        tax_code_id=_ref(detail.get("TaxCodeRef")),
    )


def _ref(value: Any) -> str | None:
    return _text(value.get("value")) if isinstance(value, Mapping) else None


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def matched_lines(
    keys: Sequence[str | None], ours: Sequence[Mapping[str, Any]], held: Sequence[Mapping[str, Any]]
) -> list[QBOLine]:
    """QBO's lines of a document written before its line Ids were recorded, keyed by our
    source lines: each of our lines (in order) takes the first unclaimed QBO line of the same
    kind and item or account, one with the same quantity and price first. A line with no
    counterpart gets none (it is sent as a new line)."""
    held_lines = [
        qbo_line("", line) for line in held if isinstance(line, Mapping) and line.get("Id")
    ]
    claimed: set[str] = set()
    found: list[QBOLine] = []
    for key, body in zip(keys, ours, strict=True):
        if key is None:
            continue
        want = qbo_line(key, {**body, "Id": "-"})
        same = [
            h
            for h in held_lines
            if h.qbo_line_id not in claimed
            and (h.detail_type, h.target_id) == (want.detail_type, want.target_id)
        ]
        exact = [h for h in same if (h.qty, h.unit_price) == (want.qty, want.unit_price)]
        pick = (exact or same or [None])[0]
        if pick is not None:
            claimed.add(pick.qbo_line_id)
            found.append(dataclasses.replace(pick, key=key))
    return found
