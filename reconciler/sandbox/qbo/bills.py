"""Bill, its line links to purchase-order lines, and what those links do to the PO.

- Fields (Intuit's Bill reference): VendorRef and Line required; TxnDate defaults to today,
  DueDate to TxnDate (no Term entity here); DocNumber is the supplier's number, at most 21
  characters and null when not sent (bills are not auto-numbered); TotalAmt is computed, Balance
  starts at TotalAmt and falls as BillPayments are applied ("A Balance of 0 indicates the bill is
  fully paid"). Filterable as Intuit marks them: Id, VendorRef, TxnDate, APAccountRef,
  SalesTermRef, TotalAmt, DueDate, DocNumber, Balance, MetaData times.
- A line's LinkedTxn [{TxnId: PO Id, TxnType: "PurchaseOrder", TxnLineId: the PO line's Id}]
  links it to a PO line; all three are required (Intuit). A link QBO cannot make is silently
  dropped and the bill is created without it (qbo-api.md; routablehq/python-quickbooks #366,
  simstudioai/sim #6194: "may also create the Bill while silently omitting an invalid or
  unavailable requested link"): unknown or deleted PO, a PO of another vendor, a Closed PO, a
  TxnLineId that is not one of the PO's line Ids (a LineNum is not an Id once Ids and positions
  part), a bill line of another DetailType than the PO line. Linking needs a new line: a line
  sent with the Id of an existing bill line keeps the link it had and takes no new one (Intuit:
  "When updating an existing Bill to link to a PurchaseOrder a new Line must be created ... the
  old bill line is deleted"); leaving a linked line out of an update unlinks it.
- The bill shows LinkedTxn [{TxnId, TxnType: "PurchaseOrder"}] per linked PO (and its
  BillPaymentCheck / BillPaymentCreditCard payments, quickbooks-ruby #452); the PO shows
  [{TxnId: bill Id, TxnType: "Bill"}] per linked bill (Intuit's PurchaseOrder.LinkedTxn) and, on
  each billed line, "Received": the quantity billed (item lines with Qty) or the amount billed
  (other lines); Line.Received is read-only on POs (Intuit's Finance.xsd; the field seen in a
  live PO in QuickBooks-V3-Java-SDK #206). A PO line is accounted for when billed Qty >= its Qty
  (item lines with quantities) or billed Amount >= its Amount; when every line is, QBO closes the
  PO (POStatus "Closed"); over-billing is allowed and closes it too. QBO Online has no per-line
  closed flag in the API (ManuallyClosed / OpenQty exist only on Desktop's PO line type). A
  linked PO changes when its bills change: SyncToken and LastUpdatedTime move, so a client's
  stored SyncToken goes stale (5010) and CDC reports the PO.
- Edits that would break a link are 6000: removing a PO line a bill is linked to, or changing
  its item or account; changing the vendor of a PO or a bill that has links (or a bill with
  payments); changing the item or account of a linked bill line. Deleting a PO with links is
  6000 (as before). Deleting a bill removes its links: a PO that its bills had closed opens
  again (a PO closed by the client stays closed); a bill with payments applied cannot be deleted
  (Intuit: "You must unlink any linked transactions ... before deleting it").
- Duplicate bill numbers: checked per vendor (QBO's "Warn if duplicate bill number is used",
  Preferences OtherPrefs WarnDuplicateBillNumber), 6140 as for POs, off with the same switch,
  overridden by include=allowduplicatedocnum.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from reconciler.sandbox.qbo import (  # circular by design: qbo_store used only inside functions
    classes as qbo_classes,
)
from reconciler.sandbox.qbo import (
    lines as qbo_lines,
)
from reconciler.sandbox.qbo import (
    payments as qbo_payments,
)
from reconciler.sandbox.qbo import (
    store as qbo_store,
)
from reconciler.sandbox.qbo import (
    tax as qbo_tax,
)
from reconciler.sandbox.qbo.wire import CENT

PO_TYPE = "PurchaseOrder"
PAYMENT_TYPES = {"Check": "BillPaymentCheck", "CreditCard": "BillPaymentCreditCard"}
LINE_TARGETS = {
    "ItemBasedExpenseLineDetail": "ItemRef",
    "AccountBasedExpenseLineDetail": "AccountRef",
}


# --- the bill -------------------------------------------------------------------------------


def normalise_bill(company: Any, entity: str, obj: dict, existing: dict | None) -> dict:
    """A Bill through QBO's rules: refs, lines and their links, tax, numbers, balance."""
    raw_lines = company._vendor_and_lines(obj)
    _check_vendor_change(company, existing, obj)
    mode = qbo_tax.global_mode(company, obj)
    obj["Line"] = company._normalise_lines(entity, raw_lines, existing, mode)
    _link_lines(company, raw_lines, obj, existing)
    qbo_tax.apply_totals(company, obj)
    _apply_doc_number(company, obj, existing)
    company._apply_ap_account(obj)
    qbo_classes.resolve_txn_refs(company, obj)
    obj.setdefault("TxnDate", company.clock().date().isoformat())
    obj.setdefault("DueDate", obj["TxnDate"])
    obj.setdefault("CurrencyRef", company.home_currency())
    _vendor_address(company, obj)
    _apply_balance(company, obj, existing)
    return obj


def _vendor_address(company: Any, obj: dict) -> None:
    """QBO copies the vendor's address onto a bill that names none, as an address of its own
    (recorded: bill_create_batch.json answers VendorAddr with a new Id)."""
    vendor = company.objects["Vendor"].get(obj["VendorRef"]["value"]) or {}
    if "VendorAddr" not in obj and isinstance(vendor.get("BillAddr"), dict):
        obj["VendorAddr"] = {k: v for k, v in vendor["BillAddr"].items() if k != "Id"}


def _check_vendor_change(company: Any, existing: dict | None, obj: dict) -> None:
    if existing is None or qbo_store._ref_id(existing["VendorRef"]) == obj["VendorRef"]["value"]:
        return
    if po_links(existing):
        raise qbo_store.business_rule(
            "This bill is linked to a purchase order; its vendor cannot be changed."
        )
    if payments_on(company, existing["Id"]):
        raise qbo_store.business_rule(
            "This bill has payments applied to it; its vendor cannot be changed."
        )


def _apply_doc_number(company: Any, obj: dict, existing: dict | None) -> None:
    doc_number = qbo_store._text(obj, "DocNumber")
    if not doc_number:
        obj.pop("DocNumber", None)
        return
    if company.checks_duplicate_docnumbers():
        vendor = obj["VendorRef"]["value"]
        for other in company.objects["Bill"].values():
            same_vendor = qbo_store._ref_id(other.get("VendorRef")) == vendor
            same_number = qbo_store._key(other.get("DocNumber", "")) == qbo_store._key(doc_number)
            if same_vendor and same_number and other["Id"] != (existing or {}).get("Id"):
                raise qbo_store.duplicate_doc_number(doc_number, "Bill", other["Id"])
    obj["DocNumber"] = doc_number


def _apply_balance(company: Any, obj: dict, existing: dict | None) -> None:
    """Balance = TotalAmt - payments applied; a total below what is paid is 6000."""
    paid = sum(
        (amount for _, _, amount in payments_on(company, (existing or {}).get("Id"))), Decimal(0)
    )
    if paid > obj["TotalAmt"]:
        raise qbo_store.business_rule(
            f"This bill has payments of {paid.quantize(CENT)} applied to it; its total cannot be "
            "less than that."
        )
    obj["Balance"] = (obj["TotalAmt"] - paid).quantize(CENT)
    set_txn_links(obj, bill_links(company, obj, (existing or {}).get("Id")))


def set_txn_links(bill: dict, links: list[dict]) -> None:
    """The bill's own LinkedTxn: there when it has links, absent when not (recorded: an unlinked
    bill answers no top-level LinkedTxn, bill_create_batch.json; a linked one lists its POs,
    bill_linked_to_po.json)."""
    if links:
        bill["LinkedTxn"] = links
    else:
        bill.pop("LinkedTxn", None)


# --- line links -------------------------------------------------------------------------------


def _link_lines(company: Any, raw_lines: list, obj: dict, existing: dict | None) -> None:
    kept = qbo_lines.kept_line_ids(obj["Line"], existing)
    before = {line["Id"]: line for line in (existing or {}).get("Line", [])}
    vendor = obj["VendorRef"]["value"]
    for raw, line in zip(raw_lines, obj["Line"], strict=True):
        links: list[dict] = []
        if line["Id"] in kept:
            previous = before[line["Id"]]
            if previous.get("LinkedTxn"):
                _refuse_target_change(previous, line, "A bill line linked to a purchase order")
                links = copy.deepcopy(previous["LinkedTxn"])
        elif (link := _made_link(company, raw, line, vendor)) is not None:
            links = [link]
        _place_links(line, links)


def _place_links(line: dict, links: list[dict]) -> None:
    """Every bill line carries LinkedTxn, [] when unlinked, after its Amount (recorded:
    bill_create_batch.json, bill_linked_to_po.json)."""
    rebuilt = {}
    for key, value in line.items():
        if key != "LinkedTxn":
            rebuilt[key] = value
        if key == "Amount":
            rebuilt["LinkedTxn"] = links
    line.clear()
    line.update(rebuilt)


def _made_link(company: Any, raw: Any, line: dict, vendor_id: str) -> dict | None:
    """The PO link a new bill line asks for, if QBO can make it; None drops it silently."""
    wanted = _asked_link(raw)
    if wanted is None:
        return None
    po = company.objects["PurchaseOrder"].get(str(wanted["TxnId"]))
    if po is None or po.get("POStatus") == "Closed":
        return None
    if qbo_store._ref_id(po.get("VendorRef")) != vendor_id:
        return None
    po_line = next((pl for pl in po["Line"] if pl["Id"] == str(wanted["TxnLineId"])), None)
    if po_line is None or po_line["DetailType"] != line["DetailType"]:
        return None
    return {"TxnId": po["Id"], "TxnType": PO_TYPE, "TxnLineId": po_line["Id"]}


def _asked_link(raw: Any) -> dict | None:
    """The line's first PurchaseOrder LinkedTxn with TxnId and TxnLineId (all three required)."""
    links = raw.get("LinkedTxn") if isinstance(raw, dict) else None
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("TxnType") == PO_TYPE:
            missing = any(link.get(name) in (None, "") for name in ("TxnId", "TxnLineId"))
            return None if missing else link
    return None


def _refuse_target_change(before: dict, after: dict, what: str) -> None:
    """6000 if a linked line changes its detail type, item or account."""
    kind = before["DetailType"]
    new_detail = after.get(kind) if after.get("DetailType") == kind else None
    old_target = qbo_store._ref_id(before[kind].get(LINE_TARGETS[kind]))
    if (
        not isinstance(new_detail, dict)
        or qbo_store._ref_id(new_detail.get(LINE_TARGETS[kind])) != old_target
    ):
        raise qbo_store.business_rule(f"{what} cannot change its product, service or account.")


def po_links(bill: dict) -> list[dict]:
    """The bill's line links to PO lines."""
    return [
        link
        for line in bill.get("Line", [])
        for link in line.get("LinkedTxn", [])
        if link.get("TxnType") == PO_TYPE
    ]


def bill_links(company: Any, bill: dict, bill_id: str | None) -> list[dict]:
    """The bill's transaction-level LinkedTxn: its POs, then its payments."""
    po_ids = list(dict.fromkeys(link["TxnId"] for link in po_links(bill)))
    links = [{"TxnId": po_id, "TxnType": PO_TYPE} for po_id in po_ids]
    links += [
        {"TxnId": pay_id, "TxnType": pay_type}
        for pay_id, pay_type, _ in payments_on(company, bill_id)
    ]
    return links


def payments_on(company: Any, bill_id: str | None) -> list[tuple[str, str, Decimal]]:
    """(payment Id, LinkedTxn type, amount) of every BillPayment line applied to a bill."""
    found = []
    for payment in qbo_payments.payers(company, "Bill", bill_id):
        pay_type = PAYMENT_TYPES.get(payment.get("PayType"), "BillPaymentCheck")
        for line in payment.get("Line", []):
            for link in line.get("LinkedTxn", []):
                if link.get("TxnType") == "Bill" and str(link.get("TxnId")) == bill_id:
                    found.append((payment["Id"], pay_type, line["Amount"]))
    return found


def refresh_bill(company: Any, bill_id: str) -> None:
    """Re-derive a stored bill's Balance and LinkedTxn after its payments changed."""
    bill = company.objects["Bill"].get(bill_id)
    if bill is None:
        return
    paid = sum((amount for _, _, amount in payments_on(company, bill_id)), Decimal(0))
    balance = (bill["TotalAmt"] - paid).quantize(CENT)
    links = bill_links(company, bill, bill_id)
    if balance != bill.get("Balance") or links != bill.get("LinkedTxn", []):
        bill["Balance"] = balance
        set_txn_links(bill, links)
        company.touch("Bill", bill)


# --- the purchase order side -------------------------------------------------------------------


def receipts(company: Any, po_id: str) -> tuple[dict[str, dict], list[str]]:
    """Per PO line Id: quantity and amount billed; and the Ids of the bills linked to the PO."""
    got: dict[str, dict] = {}
    bills: list[str] = []
    for bill in sorted(company.objects["Bill"].values(), key=_numeric_id):
        for line in bill["Line"]:
            for link in line.get("LinkedTxn", []):
                if link.get("TxnType") != PO_TYPE or link.get("TxnId") != po_id:
                    continue
                entry = got.setdefault(link["TxnLineId"], {"qty": None, "amount": Decimal(0)})
                entry["amount"] += line["Amount"]
                qty = line[line["DetailType"]].get("Qty")
                if qty is not None:
                    entry["qty"] = (entry["qty"] or Decimal(0)) + Decimal(str(qty))
                if bill["Id"] not in bills:
                    bills.append(bill["Id"])
    return got, bills


def apply_receipts(company: Any, po: dict, po_id: str | None) -> dict[str, dict]:
    """Set the PO's Bill links and each line's Received from its bills; answer the receipts."""
    got, bills = receipts(company, po_id) if po_id else ({}, [])
    po["Line"] = [_with_received(line, got.get(line["Id"])) for line in po["Line"]]
    others = [link for link in po.get("LinkedTxn", []) if link.get("TxnType") != "Bill"]
    # an unbilled PO answers "LinkedTxn": [] (recorded: po_create_batch.json, PO 166 in
    # bill_linked_to_po.json); its lines carry none
    po["LinkedTxn"] = others + [{"TxnId": bill_id, "TxnType": "Bill"} for bill_id in bills]
    return got


def _with_received(line: dict, got: dict | None) -> dict:
    """The line with Received (after Amount, where QBO shows it) or without it."""
    rebuilt = {}
    for key, value in line.items():
        if key == "Received":
            continue
        rebuilt[key] = value
        if key == "Amount" and got is not None:
            rebuilt["Received"] = _received_value(line, got)
    return rebuilt


def _received_value(line: dict, got: dict) -> Decimal:
    if _counts_quantity(line, got):
        return got["qty"]
    return got["amount"].quantize(CENT)


def _counts_quantity(line: dict, got: dict) -> bool:
    detail = line[line["DetailType"]]
    return line["DetailType"] == "ItemBasedExpenseLineDetail" and (
        detail.get("Qty") is not None and got["qty"] is not None
    )


def fully_received(po: dict, got: dict[str, dict]) -> bool:
    """Whether linked bills account for every line of the PO."""
    for line in po["Line"]:
        entry = got.get(line["Id"])
        if entry is None:
            return False
        if _counts_quantity(line, entry):
            ordered = Decimal(str(line[line["DetailType"]]["Qty"]))
            if entry["qty"] < ordered:
                return False
        elif entry["amount"] < line["Amount"]:
            return False
    return True


def refresh_purchase_orders(company: Any, po_ids: set[str]) -> None:
    """After bills changed: links, Received, and QBO's automatic close / reopen of each PO."""
    for po_id in sorted(po_ids, key=lambda i: int(i) if i.isdigit() else 0):
        po = company.objects["PurchaseOrder"].get(po_id)
        if po is None:
            continue
        before = copy.deepcopy(po)
        got = apply_receipts(company, po, po_id)
        _auto_status(company, po, got)
        if po != before:
            company.touch("PurchaseOrder", po)


def _auto_status(company: Any, po: dict, got: dict[str, dict]) -> None:
    if got and fully_received(po, got):
        if po.get("POStatus") == "Open":
            po["POStatus"] = "Closed"
            company.auto_closed_pos.add(po["Id"])
    elif po.get("POStatus") == "Closed" and po["Id"] in company.auto_closed_pos:
        po["POStatus"] = "Open"
        company.auto_closed_pos.discard(po["Id"])


def check_po_edit(company: Any, existing: dict, merged: dict) -> None:
    """6000 for a PO update that removes or re-targets a line a bill is linked to."""
    got, _ = receipts(company, existing["Id"])
    raw = merged.get("Line")
    if not got or not isinstance(raw, list):
        return
    sent = {str(line["Id"]): line for line in raw if isinstance(line, dict) and line.get("Id")}
    for line in existing["Line"]:
        if line["Id"] not in got:
            continue
        if line["Id"] not in sent:
            raise qbo_store.business_rule(
                "A purchase order line that a bill is linked to cannot be removed."
            )
        _refuse_target_change(line, sent[line["Id"]], "A purchase order line linked to a bill")


# --- write hooks --------------------------------------------------------------------------------


def after_bill_write(company: Any, before: dict | None, stored: dict) -> None:
    """A bill was created or changed: every PO it links or linked to is re-derived."""
    po_ids = {link["TxnId"] for link in po_links(stored)}
    po_ids |= {link["TxnId"] for link in po_links(before or {})}
    refresh_purchase_orders(company, po_ids)


def blocks_delete(bill: dict) -> bool:
    """A bill with payments applied cannot be deleted; PO links do not stop it."""
    return any(link.get("TxnType") in PAYMENT_TYPES.values() for link in bill.get("LinkedTxn", []))


def _numeric_id(obj: dict) -> int:
    return int(obj["Id"]) if str(obj.get("Id", "")).isdigit() else 0
