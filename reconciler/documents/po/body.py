"""Pure: a desired QBO document (`reconciler.model`) becomes the JSON body QBO takes.

The mapping (`documents.po.mapping`) decides what a document should be; this module only writes
it in QBO's shape, with the ids `resolve` found for its references. Decimals stay Decimals (the
client writes them as exact JSON numbers). A reference that has no id here is a configuration
problem (accounts, custom fields) or a reference that could not be resolved (items).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from reconciler.documents.po.mapping import (
    PURCHASE_DESC_MAX,
    MappingRules,
    clean_text,
    item_key,
)
from reconciler.documents.tax_inclusive import INCLUSIVE, net_lines
from reconciler.errors import ConfigError, Parked
from reconciler.model import (
    Address,
    DesiredItem,
    DesiredLine,
    DesiredPO,
    DesiredVendor,
    ItemKind,
    Lifecycle,
    LineKind,
)


@dataclass(frozen=True)
class ResolvedRefs:
    """QBO ids for everything a desired PO refers to, found (or created) by `resolve`."""

    vendor_id: str
    item_ids: Mapping[str, str] = field(default_factory=dict)  # item_key(item) -> Item.Id
    account_ids: Mapping[str, str] = field(default_factory=dict)  # account name -> Account.Id
    ap_account_id: str | None = None
    custom_field_ids: Mapping[str, str] = field(default_factory=dict)  # name -> DefinitionId
    # missing_item = "account_line": items without an id become lines on this account
    missing_item_account_id: str | None = None
    class_ids: Mapping[str, str] = field(default_factory=dict)  # class name -> Class.Id
    department_id: str | None = None  # the PO's location
    tax_code_ids: Mapping[str, str] = field(default_factory=dict)  # code name -> TaxCode.Id
    # TaxCode.Id -> its total purchase rate (percent); read for TaxInclusive documents only
    tax_rates: Mapping[str, Decimal] = field(default_factory=dict)


def coded_detail(line: DesiredLine, refs: ResolvedRefs, detail: dict[str, Any]) -> dict[str, Any]:
    """The line detail with its ClassRef and TaxCodeRef (`documents.coding` chose them); for
    any purchase line, a PO's or a bill's."""
    for name, wanted, ids, ref in (
        ("class", line.class_name, refs.class_ids, "ClassRef"),
        ("tax code", line.tax_code, refs.tax_code_ids, "TaxCodeRef"),
    ):
        if wanted is None:
            continue
        if wanted not in ids:
            raise Parked(f"{name} {wanted!r} has no QBO id", code="unresolved_reference")
        detail[ref] = {"value": ids[wanted]}
    return detail


def address_payload(addr: Address) -> dict[str, str]:
    """An Address as a QBO PhysicalAddress."""
    pairs = (
        ("Line1", addr.line1),
        ("Line2", addr.line2),
        ("City", addr.city),
        ("CountrySubDivisionCode", addr.region),
        ("PostalCode", addr.postal_code),
        ("Country", addr.country),
    )
    return {key: value for key, value in pairs if value}


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


def vendor_payload(v: DesiredVendor) -> dict[str, Any]:
    """The Vendor JSON body for a create (no Id/SyncToken)."""
    body: dict[str, Any] = {"DisplayName": v.display_name}
    if v.company_name:
        body["CompanyName"] = v.company_name
    if v.email:
        body["PrimaryEmailAddr"] = {"Address": v.email}
    if v.phone:
        body["PrimaryPhone"] = {"FreeFormNumber": v.phone}
    if v.address:
        body["BillAddr"] = address_payload(v.address)
    if v.currency:
        body["CurrencyRef"] = {"value": v.currency}
    if v.account_number:
        body["AcctNum"] = v.account_number
    return body


def item_payload(
    item: DesiredItem,
    *,
    expense_account_id: str,
    income_account_id: str | None = None,
    asset_account_id: str | None = None,
    inv_start_date: date | None = None,
) -> dict[str, Any]:
    """The Item JSON body for a create; Inventory needs income, asset and a start date."""
    body: dict[str, Any] = {
        "Name": item.name,
        "Type": item.kind.value,
        "ExpenseAccountRef": {"value": expense_account_id},
    }
    if item.sku:
        body["Sku"] = item.sku
    if item.description:
        body["Description"] = item.description
        body["PurchaseDesc"] = clean_text(item.description, limit=PURCHASE_DESC_MAX)
    if item.unit_cost is not None:
        body["PurchaseCost"] = item.unit_cost
    if income_account_id:
        body["IncomeAccountRef"] = {"value": income_account_id}
    if item.kind is ItemKind.INVENTORY:
        missing = [
            name
            for name, value in (
                ("income account", income_account_id),
                ("inventory asset account", asset_account_id),
                ("inventory start date", inv_start_date),
            )
            if not value
        ]
        if missing:
            raise ConfigError([f"an Inventory item needs: {', '.join(missing)}"])
        assert asset_account_id is not None and inv_start_date is not None
        body["AssetAccountRef"] = {"value": asset_account_id}
        body["TrackQtyOnHand"] = True
        body["QtyOnHand"] = Decimal("0")
        body["InvStartDate"] = inv_start_date.isoformat()
    return body
