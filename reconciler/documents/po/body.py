"""Pure: a desired PO (`documents.po.model`) becomes the PurchaseOrder JSON body QBO takes.

The mapping (`documents.po.mapping`) decides what a document should be; this module only writes
it in QBO's shape, with the ids `resolve` found for its references. Decimals stay Decimals (the
client writes them as exact JSON numbers). A reference that has no id here is a configuration
problem (accounts, custom fields) or a reference that could not be resolved (items).
"""

from __future__ import annotations

from typing import Any

from reconciler.documents.po.mapping import MappingRules
from reconciler.documents.po.model import DesiredLine, DesiredPO
from reconciler.documents.references import ResolvedRefs, address_payload, coded_detail
from reconciler.documents.tax_inclusive import INCLUSIVE, net_lines
from reconciler.documents.values import clean_text, item_key
from reconciler.errors import ConfigError, Parked
from reconciler.model import (
    Lifecycle,
    LineKind,
)


def _account_id(refs: ResolvedRefs, name: str | None) -> str:
    if name is None or name not in refs.account_ids:
        raise ConfigError([f"account {name!r} was not found in QuickBooks (check [accounts])"])
    return refs.account_ids[name]


def _line_payload(line: DesiredLine, refs: ResolvedRefs, number: int) -> dict[str, Any]:
    body: dict[str, Any] = {"LineNum": number, "Amount": line.amount}
    if line.description:
        body["Description"] = line.description
    if line.kind is LineKind.ACCOUNT:
        body["DetailType"] = "AccountBasedExpenseLineDetail"
        body["AccountBasedExpenseLineDetail"] = coded_detail(
            line, refs, {"AccountRef": {"value": _account_id(refs, line.account)}}
        )
        return body
    assert line.item is not None
    item_id = refs.item_ids.get(item_key(line.item))
    if item_id is None and refs.missing_item_account_id is not None:
        text = f"{line.item.name} x {line.qty} @ {line.unit_price}"
        if line.description:
            text += f": {line.description}"
        body["Description"] = clean_text(text)
        body["DetailType"] = "AccountBasedExpenseLineDetail"
        body["AccountBasedExpenseLineDetail"] = coded_detail(
            line, refs, {"AccountRef": {"value": refs.missing_item_account_id}}
        )
        return body
    if item_id is None:
        raise Parked(f"item {line.item.name!r} has no QBO id", code="unresolved_item")
    body["DetailType"] = "ItemBasedExpenseLineDetail"
    body["ItemBasedExpenseLineDetail"] = coded_detail(
        line,
        refs,
        {
            "ItemRef": {"value": item_id, "name": line.item.name},
            "Qty": line.qty,
            "UnitPrice": line.unit_price,
        },
    )
    return body


def po_payload(desired: DesiredPO, refs: ResolvedRefs) -> dict[str, Any]:
    """The PurchaseOrder JSON body (no Id/SyncToken); Decimals stay Decimals for the client."""
    lines = [_line_payload(line, refs, n) for n, line in enumerate(desired.lines, start=1)]
    if desired.tax_calculation == INCLUSIVE:
        lines = net_lines(lines, refs.tax_rates)
    body: dict[str, Any] = {
        "VendorRef": {"value": refs.vendor_id, "name": desired.vendor.display_name},
        "Line": lines,
        "POStatus": "Closed" if desired.lifecycle is Lifecycle.CLOSED else "Open",
    }
    ap_account_id = refs.ap_account_id or (
        refs.account_ids.get(desired.ap_account) if desired.ap_account else None
    )
    if ap_account_id:
        body["APAccountRef"] = {"value": ap_account_id}
    if desired.doc_number:
        body["DocNumber"] = desired.doc_number
    if desired.txn_date:
        body["TxnDate"] = desired.txn_date.isoformat()
    if desired.due_date:
        body["DueDate"] = desired.due_date.isoformat()
    if desired.private_note:
        body["PrivateNote"] = desired.private_note
    if desired.memo:
        body["Memo"] = desired.memo
    if desired.ship_addr:
        body["ShipAddr"] = address_payload(desired.ship_addr)
    if desired.vendor_addr:
        body["VendorAddr"] = address_payload(desired.vendor_addr)
    if desired.currency:
        body["CurrencyRef"] = {"value": desired.currency}
    elif desired.currency_from == "vendor" and refs.vendor_currency:
        body["CurrencyRef"] = {"value": refs.vendor_currency}
    if desired.location:
        if refs.department_id is None:
            raise Parked(
                f"location {desired.location!r} has no QBO id", code="unresolved_reference"
            )
        body["DepartmentRef"] = {"value": refs.department_id}
    if desired.tax_calculation:
        body["GlobalTaxCalculation"] = desired.tax_calculation
    custom = []
    for name, value in desired.custom_fields:
        if name not in refs.custom_field_ids:
            raise ConfigError([f"custom field {name!r} is not set up for purchase orders in QBO"])
        custom.append(
            {
                "DefinitionId": refs.custom_field_ids[name],
                "Name": name,
                "Type": "StringType",
                "StringValue": value,
            }
        )
    if custom:
        body["CustomField"] = custom
    return body


def emptied_text_fields(desired: DesiredPO, rules: MappingRules) -> tuple[str, ...]:
    """Text fields that sync but are empty now: an update must send them as "" to clear them."""
    values = {"PrivateNote": desired.private_note, "Memo": desired.memo}
    return tuple(
        name for name, value in values.items() if rules.source_for(name) is not None and not value
    )
