"""Pure mapping: a Luminous bill (or receiving report) becomes the QBO Bill it should be.

The rules, beside every kind's (`documents.values`: names, text, money, currency, DocNumber):

Vendor
    the bill's `vendor_name` (a receiving report: its PO's supplier), through the same
    normalisation and the same resolver as a PO's supplier, so both land on one QBO vendor.
DocNumber
    a bill: the supplier's bill number, stripped; longer than QBO's 21 characters: rejected, or
    its last 21 kept (`sync.doc_number_too_long`, as for POs); none, or characters QBO cannot
    search for: `sync.doc_number_prefix` + "B" + the Luminous id (or a failure, by
    `sync.doc_number_missing`), the supplier's number then kept in PrivateNote. A receiving
    report: `bills.receipt_number_prefix` + its id.
Lines
    one per bill item (per allocation when an item is split over PO lines): Qty, UnitPrice (up
    to 5 decimals) and Amount = Qty x UnitPrice rounded half-up to cents; a stated `amount`
    more than a cent away is an error (the bill would not be what the supplier invoiced). A
    line allocated to a PO line links to it (its item and DetailType are the PO line's, as
    QBO's own copy to bill does); a receiving report's line is the received quantity at the PO
    line's unit cost. An unlinked item needs a product. Line taxes -> one line on the tax
    account; each extra cost -> one account line: freight, shipping, delivery and carriage on
    `bills.freight_account`, anything else on `bills.fees_account`.
A void bill is not mapped: `documents.bill.plan` voids or deletes what QBO holds (`bills.on_void`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from reconciler.documents import coding, values
from reconciler.documents.bill.model import (
    BillLink,
    DesiredBill,
    DesiredBillLine,
    POStanding,
    POState,
    SourceBill,
    SourceBillLine,
)
from reconciler.documents.lines import QBOLine
from reconciler.errors import InvalidSourceRecord
from reconciler.model import DesiredItem, DocKind, ItemKind, LineKind, SourceSupplier

FREIGHT_WORDS = re.compile(r"\b(freight|shipping|delivery|carriage|postage)\b", re.IGNORECASE)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class BillRules:
    """What configuration decides about bills; built by `Settings.bill_rules()`, which holds
    every default."""

    doc_number_too_long: str  # "reject" | "truncate"
    doc_number_missing: str  # "derive" | "fail"
    doc_number_prefix: str
    receipt_number_prefix: str
    unpushed_po: str  # "park" | "unlinked"
    on_void: str  # "void" | "delete"
    item_kind: ItemKind
    home_currency: str
    ap_account: str | None
    tax_account: str
    freight_account: str
    fees_account: str
    # classes, locations and tax codes of this company (`documents.coding`); a linked line
    # takes its PO line's, the bill its PO's location
    line_coding: coding.CodingRules = dataclasses.field(default_factory=coding.CodingRules)

    @property
    def numbers(self) -> values.NumberRules:
        return values.NumberRules(self.doc_number_too_long, self.doc_number_missing)


def desired_bill(
    bill: SourceBill, standings: Mapping[int, POStanding], rules: BillRules
) -> DesiredBill:
    """The QBO Bill a source bill should be, given where its POs stand; InvalidSourceRecord
    with the reason when it cannot be one. Lines whose PO will never be pushed are unlinked
    here (the caller parks such a bill instead, by `unpushed_po`)."""
    if not bill.lines and not bill.costs:
        raise InvalidSourceRecord("bill has no lines (QBO needs at least one)", doc_id=bill.id)
    if not bill.vendor_name:
        raise InvalidSourceRecord("bill names no vendor", doc_id=bill.id)
    currency = values.foreign(values.currency(bill.currency, bill.id), rules.home_currency)
    try:
        vendor = values.desired_vendor(
            SourceSupplier(id=bill.vendor_id, name=bill.vendor_name), currency=currency
        )
    except InvalidSourceRecord as exc:
        raise InvalidSourceRecord(exc.message, doc_id=bill.id) from None
    lines = [bill_line(line, n, standings, rules, bill.id) for n, line in enumerate(bill.lines, 1)]
    lines += _cost_lines(bill, rules)
    if sum((line.amount for line in lines), Decimal("0")) < 0:
        raise InvalidSourceRecord("bill total is negative", doc_id=bill.id)
    number, note = _doc_number(bill, rules)
    header = next(
        (
            standings[line.link.po_id]
            for line in lines
            if line.link is not None and line.link.po_id in standings
        ),
        None,
    )
    numbers = tuple(
        (po_id, standing.number or str(po_id))
        for po_id, standing in sorted(standings.items())
        if po_id in bill.linked_po_ids()
    )
    desired = DesiredBill(
        source_id=bill.id,
        kind=bill.origin,
        doc_number=number,
        vendor=vendor,
        lines=tuple(lines),
        txn_date=bill.bill_date,
        due_date=bill.due_date,
        private_note=values.clean_text(_note(bill, note, numbers)),
        currency=currency,
        ap_account=rules.ap_account,
        po_numbers=numbers,
        department_id=header.department_id if header is not None else None,
        tax_calculation=_tax_calculation(header, rules),
    )
    return dataclasses.replace(desired, content_hash=values.content_hash(desired))


def bill_line(
    line: SourceBillLine,
    n: int,
    standings: Mapping[int, POStanding],
    rules: BillRules,
    bill_id: int,
) -> DesiredBillLine:
    """One bill line: linked to its PO line when the PO is in QBO, else an item line."""
    where = f"line {n}"
    standing = standings.get(line.po_id) if line.po_id is not None else None
    po_line = standing.lines.get(f"item:{line.po_line_id}") if standing else None
    qty, price, amount = _priced(line, po_line, where, bill_id)
    key, description = line_key(line, n), values.clean_text(line.description)
    linkable = standing is not None and standing.state is POState.IN_QBO
    if linkable and po_line is not None and line.po_id and line.po_line_id:
        return DesiredBillLine(
            LineKind.ITEM,
            amount,
            key,
            description,
            qty=qty,
            unit_price=price,
            link=BillLink(line.po_id, line.po_line_id),
            class_id=po_line.class_id,
            tax_code_id=po_line.tax_code_id,
        )
    if line.product is None:
        raise InvalidSourceRecord(
            f"{where} names no product, and its PO line cannot be linked", doc_id=bill_id
        )
    why = standing.reason if standing is not None and line.po_line_id is not None else None
    facts = coding.LineFacts(taxable=amount, tax=values.cents(line.tax))
    coded = _coded(facts, rules, where, bill_id)
    item = _item(line, rules, bill_id, where)
    return DesiredBillLine(
        LineKind.ITEM,
        amount,
        key,
        description,
        item,
        qty,
        price,
        unlinked_because=why,
        class_name=coded.class_name,
        tax_code=coded.tax_code,
    )


def _priced(
    line: SourceBillLine, po_line: QBOLine | None, where: str, bill_id: int
) -> tuple[Decimal, Decimal, Decimal]:
    """(quantity, unit price, amount): a receipt line takes its PO line's unit cost, and an
    amount Luminous states more than a cent away from qty x price is the bill's failure (it
    would not be what the supplier invoiced)."""
    price = line.unit_price
    if price is None:  # a receipt line: the PO's unit cost
        price = po_line.unit_price if po_line is not None else None
        if price is None:
            raise InvalidSourceRecord(f"{where}: no unit cost known for PO line", doc_id=bill_id)
    qty = values.checked_quantity(line.quantity, f"{where}: quantity", bill_id)
    price = values.checked_quantity(price, f"{where}: unit price", bill_id)
    amount = values.line_amount(qty, price)
    if line.amount is not None and abs(values.cents(line.amount) - amount) > CENT:
        raise InvalidSourceRecord(
            f"{where}: amount {line.amount} is not quantity {qty} x unit price {price} ({amount})",
            doc_id=bill_id,
        )
    return qty, price, amount


def _coded(
    facts: coding.LineFacts, rules: BillRules, where: str, bill_id: int
) -> coding.LineCoding:
    """An unlinked line's class and tax code, by the PO rules (a bill has no warehouse or
    custom fields of its own: only rules that read the line apply)."""
    try:
        return coding.code_line(facts, coding.DocFacts(), rules.line_coding)
    except InvalidSourceRecord as exc:
        raise InvalidSourceRecord(f"{where}: {exc.message}", doc_id=bill_id) from None


def _tax_calculation(header: POStanding | None, rules: BillRules) -> str | None:
    if header is not None and header.tax_calculation:
        return header.tax_calculation
    return rules.line_coding.global_tax


def line_key(line: SourceBillLine, n: int) -> str:
    """How a bill line is known again on the next write: its Luminous item (and PO line)."""
    key = f"item:{line.id}" if line.id is not None else f"item#{n}"
    return key + (f"@{line.po_line_id}" if line.po_line_id is not None else "")


def _item(line: SourceBillLine, rules: BillRules, bill_id: int, where: str) -> DesiredItem:
    assert line.product is not None
    try:
        return values.desired_item(line.product, rules.item_kind)
    except InvalidSourceRecord as exc:
        raise InvalidSourceRecord(f"{where}: {exc.message}", doc_id=bill_id) from None


def _cost_lines(bill: SourceBill, rules: BillRules) -> list[DesiredBillLine]:
    lines = []
    tax = sum((values.cents(line.tax) for line in bill.lines), Decimal("0"))
    if tax < 0:
        raise InvalidSourceRecord(f"negative tax {tax}", doc_id=bill.id)
    if tax and rules.line_coding.tax is None:  # outside the US QBO computes it from the codes
        lines.append(
            DesiredBillLine(LineKind.ACCOUNT, tax, "tax", "Tax", account=rules.tax_account)
        )
    for n, cost in enumerate(bill.costs, start=1):
        amount = values.cents(cost.amount)
        if amount < 0 or abs(amount) >= values.AMOUNT_LIMIT:
            raise InvalidSourceRecord(f"extra cost {cost.name!r}: bad amount", doc_id=bill.id)
        freight = FREIGHT_WORDS.search(cost.name) is not None
        account = rules.freight_account if freight else rules.fees_account
        key = f"cost:{cost.id}" if cost.id is not None else f"cost#{n}"
        text = values.clean_text(cost.name)
        coded = _coded(coding.LineFacts(charge=True), rules, f"extra cost {n}", bill.id)
        lines.append(
            DesiredBillLine(
                LineKind.ACCOUNT,
                amount,
                key,
                text,
                account=account,
                class_name=coded.class_name,
                tax_code=coded.tax_code,
            )
        )
    return lines


def _doc_number(bill: SourceBill, rules: BillRules) -> tuple[str, str | None]:
    """(DocNumber, a note naming the supplier's number when it could not be the DocNumber)."""
    if bill.origin is DocKind.RECEIPT:
        return f"{rules.receipt_number_prefix}{bill.id}"[-values.DOC_NUMBER_MAX :], None
    derived = f"{rules.doc_number_prefix}B{bill.id}"
    number, changed = values.doc_number(
        bill.number, rules.numbers, what="bill", derived=derived, doc_id=bill.id
    )
    supplier = values.collapsed(bill.number)
    return number, f"Supplier bill number: {supplier}" if changed and supplier else None


def _note(bill: SourceBill, number_note: str | None, pos: tuple[tuple[int, str], ...]) -> str:
    parts = []
    if bill.origin is DocKind.RECEIPT:
        on = f" of PO {', '.join(n for _, n in pos)}" if pos else ""
        parts.append(f"Luminous receiving report {bill.id}{on}")
    if number_note:
        parts.append(number_note)
    if bill.memo:
        parts.append(bill.memo)
    return "\n".join(parts)
