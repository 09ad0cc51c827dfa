"""Pure: a desired QBO Bill becomes its JSON body, and QBO's answer is checked for its links.

- A bill line linked to a PO line carries a line-level `LinkedTxn` [{TxnId: the QBO PO Id,
  TxnType: "PurchaseOrder", TxnLineId: the QBO PO line's Id}] (all three required; qbo-api.md
  "Bill linked to a PurchaseOrder"), and the PO line's DetailType and item (or account): QBO
  links a bill line only to a PO line of the same kind. `bill_line_payload` is the one place a
  bill line is written (class and tax code go there too).
- An update sends each line QBO already has with its `Id` when its link is what we want (a
  kept line keeps its link); a line that must link anew goes without an Id: "Linking lines of
  an existing bill needs new lines" (qbo-api.md).
- Void: QBO's API has no void for bills (Intuit's Bill reference lists create, read, update and
  delete; void exists for BillPayment, Invoice, Payment, SalesReceipt). `void_payload` does
  what QBO's own Void does: the bill stays, with its number, every amount and quantity 0
  (a TaxInclusive line's gross, TaxInclusiveAmt, too: QBO taxes it), "Voided" before its memo.
- TaxInclusive: lines go out net with the gross in TaxInclusiveAmt (`documents.tax_inclusive`).
- QBO has been seen to create a Bill while dropping a link it could not make: `missing_links`
  reads the links back from the answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from reconciler.documents.bill.model import DesiredBill, DesiredBillLine
from reconciler.documents.lines import QBOLine, qbo_line
from reconciler.documents.references import ResolvedRefs, coded_detail
from reconciler.documents.tax_inclusive import INCLUSIVE, net_lines
from reconciler.documents.values import NOTE_MAX, TRUNCATION_MARKER, clean_text, fit, item_key
from reconciler.errors import ConfigError, Parked
from reconciler.model import LineKind

ITEM_DETAIL = "ItemBasedExpenseLineDetail"
ACCOUNT_DETAIL = "AccountBasedExpenseLineDetail"
PO_TYPE = "PurchaseOrder"
VOIDED = "Voided"


@dataclass(frozen=True)
class POLinkRef:
    """The QBO side of one link: the PO's Id and the PO line (as its answer showed it)."""

    txn_id: str
    line: QBOLine
    po_doc_id: int  # the Luminous PO, for the history and the status
    po_number: str | None = None


def bill_line_payload(
    line: DesiredBillLine, refs: ResolvedRefs, link: POLinkRef | None, number: int
) -> dict[str, Any]:
    """One Bill line: linked to its PO line, an item line, or an account line."""
    body: dict[str, Any] = {"LineNum": number, "Amount": line.amount}
    if line.description:
        body["Description"] = line.description
    if link is not None:
        detail_type = link.line.detail_type
        target = {"value": link.line.target_id}
        if detail_type == ITEM_DETAIL:
            detail = {"ItemRef": target, "Qty": line.qty, "UnitPrice": line.unit_price}
        else:
            detail = {"AccountRef": target}
        for ref, value in (("ClassRef", line.class_id), ("TaxCodeRef", line.tax_code_id)):
            if value is not None:  # the PO line's, as QBO's copy to bill takes them
                detail[ref] = {"value": value}
        body["DetailType"] = detail_type
        body[detail_type] = detail
        body["LinkedTxn"] = [
            {"TxnId": link.txn_id, "TxnType": PO_TYPE, "TxnLineId": link.line.qbo_line_id}
        ]
        return body
    if line.kind is LineKind.ACCOUNT:
        if line.account is None or line.account not in refs.account_ids:
            raise ConfigError([f"account {line.account!r} was not found in QuickBooks"])
        body["DetailType"] = ACCOUNT_DETAIL
        account = {"AccountRef": {"value": refs.account_ids[line.account]}}
        body[ACCOUNT_DETAIL] = coded_detail(line, refs, account)
        return body
    assert line.item is not None
    item_id = refs.item_ids.get(item_key(line.item))
    if item_id is None and refs.missing_item_account_id is not None:
        text = f"{line.item.name} x {line.qty} @ {line.unit_price}"
        body["Description"] = clean_text(
            f"{text}: {line.description}" if line.description else text
        )
        body["DetailType"] = ACCOUNT_DETAIL
        account = {"AccountRef": {"value": refs.missing_item_account_id}}
        body[ACCOUNT_DETAIL] = coded_detail(line, refs, account)
        return body
    if item_id is None:
        raise Parked(f"item {line.item.name!r} has no QBO id", code="unresolved_item")
    body["DetailType"] = ITEM_DETAIL
    item = {
        "ItemRef": {"value": item_id, "name": line.item.name},
        "Qty": line.qty,
        "UnitPrice": line.unit_price,
    }
    body[ITEM_DETAIL] = coded_detail(line, refs, item)
    return body


def bill_payload(
    desired: DesiredBill, refs: ResolvedRefs, links: Mapping[int, POLinkRef]
) -> dict[str, Any]:
    """The Bill body (no Id/SyncToken, no line Ids); `links`: line number -> its PO line."""
    lines = [
        bill_line_payload(line, refs, links.get(n), n)
        for n, line in enumerate(desired.lines, start=1)
    ]
    if desired.tax_calculation == INCLUSIVE:
        lines = net_lines(lines, refs.tax_rates)
    body: dict[str, Any] = {
        "VendorRef": {"value": refs.vendor_id, "name": desired.vendor.display_name},
        "Line": lines,
        "DocNumber": desired.doc_number,
    }
    ap_account_id = refs.ap_account_id or (
        refs.account_ids.get(desired.ap_account) if desired.ap_account else None
    )
    if ap_account_id:
        body["APAccountRef"] = {"value": ap_account_id}
    if desired.txn_date:
        body["TxnDate"] = desired.txn_date.isoformat()
    if desired.due_date:
        body["DueDate"] = desired.due_date.isoformat()
    body["PrivateNote"] = desired.private_note or ""
    if desired.currency:
        body["CurrencyRef"] = {"value": desired.currency}
    if desired.department_id:  # its PO's location
        body["DepartmentRef"] = {"value": desired.department_id}
    if desired.tax_calculation:
        body["GlobalTaxCalculation"] = desired.tax_calculation
    return body


def with_line_ids(
    payload: Mapping[str, Any],
    keys: Sequence[str],
    kept: Mapping[str, QBOLine],
    current: Mapping[str, Any],
) -> dict[str, Any]:
    """The update body: each line QBO still has (by its source key) sent with its Id, unless
    it must link anew (a new line, a new link)."""
    held = {str(line.get("Id")): line for line in current.get("Line") or [] if line.get("Id")}
    lines = []
    used: set[str] = set()
    for key, line in zip(keys, payload.get("Line") or [], strict=True):
        line = dict(line)
        known = kept.get(key)
        qbo = held.get(known.qbo_line_id) if known is not None else None
        if qbo is not None and known.qbo_line_id not in used and _same_link(line, qbo):  # type: ignore[union-attr]
            line["Id"] = known.qbo_line_id  # type: ignore[union-attr]
            used.add(known.qbo_line_id)  # type: ignore[union-attr]
        lines.append(line)
    return {**payload, "Line": lines}


def _same_link(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> bool:
    """A kept line keeps the link it has: fine when it is the one we want, or we want none."""
    wanted = _po_link(ours)
    return wanted is None or wanted == _po_link(theirs)


def _po_link(line: Mapping[str, Any]) -> tuple[str, str] | None:
    for link in line.get("LinkedTxn") or []:
        if isinstance(link, Mapping) and link.get("TxnType") == PO_TYPE:
            return (str(link.get("TxnId")), str(link.get("TxnLineId")))
    return None


def void_payload(current: Mapping[str, Any]) -> dict[str, Any]:
    """What QBO's Void does to a bill, as an update: lines kept (with their Ids and links),
    every amount and quantity 0, "Voided" before the memo."""
    lines = []
    for line in current.get("Line") or []:
        detail_type = line.get("DetailType")
        if detail_type not in (ITEM_DETAIL, ACCOUNT_DETAIL):
            continue
        detail = dict(line.get(detail_type) or {})
        if detail_type == ITEM_DETAIL:
            detail["Qty"] = Decimal("0")
        if "TaxInclusiveAmt" in detail:  # QBO taxes the gross: a void has none
            detail["TaxInclusiveAmt"] = Decimal("0")
        zeroed = {"Id": line["Id"], "Amount": Decimal("0"), "DetailType": detail_type}
        zeroed[detail_type] = detail
        for name in ("Description", "LinkedTxn"):
            if line.get(name):
                zeroed[name] = line[name]
        lines.append(zeroed)
    note = current.get("PrivateNote") or ""
    if not note.startswith(VOIDED):
        note = f"{VOIDED} {note}".strip()
    return {"Line": lines, "PrivateNote": fit(note, NOTE_MAX, TRUNCATION_MARKER)}


def is_void(entity: Mapping[str, Any]) -> bool:
    return str(entity.get("PrivateNote") or "").startswith(VOIDED) and money(
        entity.get("TotalAmt")
    ) == Decimal("0")


def paid_amount(entity: Mapping[str, Any]) -> Decimal:
    """What has been paid on a QBO bill: TotalAmt - Balance (Intuit: "A Balance of 0
    indicates the bill is fully paid")."""
    return money(entity.get("TotalAmt")) - money(entity.get("Balance"))


def missing_links(links: Mapping[int, POLinkRef], entity: Mapping[str, Any]) -> list[str]:
    """Each link asked for that QBO's answer does not show, as a sentence."""
    answered = [line for line in entity.get("Line") or [] if isinstance(line, Mapping)]
    by_number = {line.get("LineNum"): line for line in answered}
    missing = []
    for number, ref in sorted(links.items()):
        line = by_number.get(number) or (answered[number - 1] if number <= len(answered) else None)
        got = qbo_line("", line) if line is not None and line.get("Id") else None
        if got is None or (got.linked_txn_id, got.linked_line_id) != (
            ref.txn_id,
            ref.line.qbo_line_id,
        ):
            name = f"PO {ref.po_number}" if ref.po_number else f"QBO PO {ref.txn_id}"
            missing.append(f"line {number} to {name} line {ref.line.qbo_line_id}")
    return missing


def money(value: Any) -> Decimal:
    """A money field of an answer as a Decimal (0 when absent)."""
    try:
        return Decimal(str(value)) if value is not None else Decimal("0")
    except InvalidOperation:
        return Decimal("0")
