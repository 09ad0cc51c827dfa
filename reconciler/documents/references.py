"""Pure: the references a QBO document names, in QBO's shape.

`ResolvedRefs` holds the ids `resolve` found (or created) for everything a desired document
refers to; `coded_detail` puts a line's class and tax code on its detail, for any purchase
line; `vendor_payload` and `item_payload` are the bodies `resolve` sends to create a vendor or
an item; `address_payload` an address as QBO's PhysicalAddress. Decimals stay Decimals (the
client writes them as exact JSON numbers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from reconciler.documents.values import PURCHASE_DESC_MAX, clean_text
from reconciler.errors import ConfigError, Parked
from reconciler.model import Address, DesiredItem, DesiredVendor, ItemKind


class CodedLine(Protocol):
    """What a purchase line (a PO's or a bill's) says of its class and tax code."""

    @property
    def class_name(self) -> str | None: ...
    @property
    def tax_code(self) -> str | None: ...


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
    # The vendor's CurrencyRef in QBO, read only for a document that takes its currency from
    # its vendor (`sync.missing_currency = "vendor"`).
    vendor_currency: str | None = None


def coded_detail(line: CodedLine, refs: ResolvedRefs, detail: dict[str, Any]) -> dict[str, Any]:
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
