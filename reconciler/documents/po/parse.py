"""Pure: one Luminous purchase-order JSON object -> `SourcePO`, or a reason it cannot be.

Field names come from `luminous.fields`, and each field is read by `luminous.values` (money,
ids, timestamps, dates, text: the same rules for every document kind). What is a PO's own:

- `order_status` must be one of `SourceStatus` (case-insensitive; "canceled" is read as
  "cancelled"); anything else is rejected with "unknown status 'x'".
- approval is read from the field `approval_field` names (`sync.approval_field`; by default
  `approval_status`, assumed: the reference's PO shows no approval field), normalised to snake
  case: "Pending Approval" -> "pending_approval". The record says whether it carried the field
  at all (`approval_missing`): with approval required, a PO without it is not pushed
  (`documents.po.plan.skip_reason`).
- ship-to is the embedded `warehouse` object (assumed; the client fills it in from
  `GET /warehouses/{id}` when only `warehouse_id` is given), with the same address field names
  as suppliers: street_address, city, state, zip, country.
- lines are `items`; a line's SKU is `product.sku`, else the line's `source_sku`.
- costs: `total_shipping_cost` and `total_tax` have their own fields. `order_cost` and
  `total_cost` are derived totals, `total_paid`, `total_due` and `down_payment` are payments:
  none of them is an extra charge. Accounts that keep other charges in their own fields name
  them in `extra_cost_fields` ((field, label) pairs) and they land in `other_costs`.
- custom fields (assumed shape): `custom_fields` as an object {name: value} or a list of
  {"name"|"key", "value"} objects.
- classes, locations and tax codes (see `documents.coding`): the warehouse's `name`; a line's
  `tax_rate` (a percent; assumed: the reference shows only the `tax` amount, from which
  `coding` can tell the rate); the product's `tax_class` (assumed) and its attributes, in this
  order: `category.name` and `subcategory.name` (as on the reference's product), each entry of
  `variant_attributes` (on the reference's embedded product), then the product's
  `custom_fields`. An attribute that is not a plain value (an object, a list) is left out:
  nothing is read from it, and the PO is not refused for a field it may not use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from reconciler.documents.po.model import SourceLine, SourcePO, SourceStatus
from reconciler.errors import InvalidSourceRecord
from reconciler.luminous import values as v
from reconciler.luminous.fields import (
    ADDRESS_FIELDS,
    ITEM_FIELDS,
    PO_FIELDS,
    PRODUCT_FIELDS,
    SUPPLIER_FIELDS,
)
from reconciler.luminous.values import UnreadableField
from reconciler.model import Address, DocKind, RejectedRecord, SourceProduct, SourceSupplier

STATUS_ALIASES = {"canceled": SourceStatus.CANCELLED}


def parse_po(
    raw: Mapping[str, Any],
    *,
    extra_cost_fields: Iterable[tuple[str, str]] = (),
    approval_field: str = PO_FIELDS["approval"],
) -> SourcePO:
    """Turn one PO object into a `SourcePO`; raise `InvalidSourceRecord` with the reason."""
    if not isinstance(raw, Mapping):
        raise InvalidSourceRecord(f"record is not an object: {type(raw).__name__}")
    po_id = v.document_id(raw, PO_FIELDS["id"])
    try:
        po = _parse(raw, po_id, tuple(extra_cost_fields))
        return replace(
            po,
            approval_status=v.approval(raw.get(approval_field), approval_field),
            approval_missing=approval_field not in raw,
        )
    except UnreadableField as bad:
        raise InvalidSourceRecord(str(bad), doc_id=po_id) from None


def rejected(raw: Mapping[str, Any], reason: str) -> RejectedRecord:
    """The outcome for a record `parse_po` refused, with whatever identity it still shows."""
    numbers = raw.get(PO_FIELDS["order_numbers"])
    number = None
    if isinstance(numbers, list) and numbers and isinstance(numbers[0], str | int):
        number = str(numbers[0])
    elif isinstance(numbers, str):
        number = numbers
    return RejectedRecord(
        doc_id=v.whole_id(raw.get(PO_FIELDS["id"])),
        updated_at=v.stamp_or_none(raw.get(PO_FIELDS["updated_at"])),
        reason=reason,
        number=number,
    )


def parse_or_reject(
    raw: Any,
    *,
    extra_cost_fields: Iterable[tuple[str, str]] = (),
    approval_field: str = PO_FIELDS["approval"],
) -> SourcePO | RejectedRecord:
    """`parse_po`, with a refusal (or any error) turned into its `RejectedRecord`."""
    extra = tuple(extra_cost_fields)
    return v.read_or_reject(
        raw,
        lambda record: parse_po(record, extra_cost_fields=extra, approval_field=approval_field),
        rejected,
        DocKind.PURCHASE_ORDER,
    )


def _parse(raw: Mapping[str, Any], po_id: int, extra: tuple[tuple[str, str], ...]) -> SourcePO:
    f = PO_FIELDS
    other_costs = []
    for field_name, label in extra:
        if cost := v.amount(raw.get(field_name), field_name):
            other_costs.append((label, cost))
    warehouse = raw.get(f["warehouse"])
    if warehouse is not None and not isinstance(warehouse, Mapping):
        raise UnreadableField(f"warehouse is not an object: {warehouse!r}")
    warehouse_name = v.text(warehouse.get("name"), "warehouse.name") if warehouse else None
    return SourcePO(
        id=po_id,
        order_numbers=_order_numbers(raw.get(f["order_numbers"])),
        status=_status(raw.get(f["status"])),
        supplier=_supplier(raw.get(f["supplier"])),
        lines=tuple(
            _line(item, n) for n, item in enumerate(v.list_of(raw.get(f["items"]), "items"), 1)
        ),
        created_at=v.required_timestamp(raw.get(f["created_at"]), "created_at"),
        updated_at=v.required_timestamp(raw.get(f["updated_at"]), "updated_at"),
        order_date=v.day(raw.get(f["order_date"]), "order_date"),
        arrival_due_date=v.day(raw.get(f["arrival_due_date"]), "arrival_due_date"),
        currency=v.text(raw.get(f["currency"]), "currency"),
        ship_to=_address(warehouse) if warehouse else None,
        ship_to_name=warehouse_name,
        warehouse_name=warehouse_name,
        warehouse_id=v.whole_id(raw.get(f["warehouse_id"])),
        has_warehouse=bool(warehouse),
        total_shipping_cost=v.amount(raw.get(f["shipping"]), f["shipping"]),
        total_tax=v.amount(raw.get(f["tax"]), f["tax"]),
        other_costs=tuple(other_costs),
        public_note=v.text(raw.get(f["public_note"]), "public_note", strip=False),
        private_note=v.text(raw.get(f["private_note"]), "private_note", strip=False),
        custom_fields=_custom_fields(raw.get(f["custom_fields"])),
    )


def _status(value: Any) -> SourceStatus:
    if not isinstance(value, str) or not value.strip():
        raise UnreadableField(f"missing order_status: {value!r}")
    word = value.strip().lower()
    if word in STATUS_ALIASES:
        return STATUS_ALIASES[word]
    try:
        return SourceStatus(word)
    except ValueError:
        raise UnreadableField(f"unknown status {value!r}") from None


def _supplier(value: Any) -> SourceSupplier:
    if not isinstance(value, Mapping):
        raise UnreadableField("missing supplier")
    s = SUPPLIER_FIELDS
    name = v.text(value.get(s["name"]), "supplier.name")
    if not name:
        raise UnreadableField("supplier has no name")
    address = _address(value)
    return SourceSupplier(
        id=v.optional_id(value.get(s["id"]), "supplier.id"),
        name=name,
        email=v.text(value.get(s["email"]), "supplier.contact_email"),
        phone=v.text(value.get(s["phone"]), "supplier.contact_phone"),
        contact_name=v.text(value.get(s["contact_name"]), "supplier.contact_name"),
        address=None if address.is_empty() else address,
        currency=v.text(value.get(s["currency"]), "supplier.currency"),
        account_number=v.text(value.get(s["account_number"]), "supplier.account_number"),
    )


def _address(value: Mapping[str, Any]) -> Address:
    return Address(**{key: v.text(value.get(name), name) for key, name in ADDRESS_FIELDS.items()})


def _line(item: Any, n: int) -> SourceLine:
    where = f"items[{n}]"
    if not isinstance(item, Mapping):
        raise UnreadableField(f"{where} is not an object")
    i = ITEM_FIELDS
    product = item.get(i["product"])
    if not isinstance(product, Mapping):
        raise UnreadableField(f"{where} has no product")
    p = PRODUCT_FIELDS
    name = v.text(product.get(p["name"]), f"{where}.product.name")
    if not name:
        raise UnreadableField(f"{where} product has no name")
    sku = v.text(product.get(p["sku"]), f"{where}.product.sku") or v.text(
        item.get(i["source_sku"]), f"{where}.source_sku"
    )
    return SourceLine(
        id=v.optional_id(item.get(i["id"]), f"{where}.id"),
        product=SourceProduct(
            id=v.optional_id(product.get(p["id"]), f"{where}.product.id"),
            name=name,
            sku=sku,
            description=v.text(product.get(p["description"]), f"{where}.product.description"),
            unit_cost=v.money(product.get(p["unit_cost"]), f"{where}.product.unit_cost"),
            tax_class=v.text(product.get(p["tax_class"]), f"{where}.product.tax_class"),
            attributes=_product_attributes(product),
        ),
        quantity=v.required_money(item.get(i["quantity"]), f"{where}.quantity"),
        unit_price=v.required_money(item.get(i["unit_price"]), f"{where}.unit_price"),
        description=v.text(item.get(i["description"]), f"{where}.description"),
        tax=v.amount(item.get(i["tax"]), f"{where}.tax"),
        discount_amount=v.amount(item.get(i["discount_amount"]), f"{where}.discount_amount"),
        line_total=v.money(item.get(i["line_total"]), f"{where}.line_total"),
        tax_rate=v.money(item.get(i["tax_rate"]), f"{where}.tax_rate"),
    )


def _product_attributes(product: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """(name, value) pairs a class may come from; plain values only (see the module doc)."""
    p = PRODUCT_FIELDS
    pairs: list[tuple[Any, Any]] = []
    for key in ("category", "subcategory"):
        value = product.get(p[key])
        if isinstance(value, Mapping):
            pairs.append((key, value.get("name")))
    for key in ("variant_attributes", "custom_fields"):
        value = product.get(p[key])
        if isinstance(value, Mapping):
            pairs.extend(value.items())
        elif isinstance(value, list):  # [{"name"|"key": ..., "value": ...}]
            entries = [e for e in value if isinstance(e, Mapping)]
            pairs.extend((e.get("name") or e.get("key"), e.get("value")) for e in entries)
    return tuple(
        (name.strip(), str(value).strip())
        for name, value in pairs
        if isinstance(name, str)
        and name.strip()
        and isinstance(value, str | int | Decimal)
        and not isinstance(value, bool)
        and str(value).strip()
    )


def _order_numbers(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise UnreadableField(f"order_numbers is not a list: {value!r}")
    numbers = []
    for entry in value:
        if isinstance(entry, bool) or not isinstance(entry, str | int):
            raise UnreadableField(f"bad order number: {entry!r}")
        text = str(entry).strip()
        if text:
            numbers.append(text)
    return tuple(numbers)


def _custom_fields(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    pairs: list[tuple[str, Any]]
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = []
        for entry in value:
            if not isinstance(entry, Mapping):
                raise UnreadableField(f"custom field is not an object: {entry!r}")
            pairs.append((entry.get("name") or entry.get("key"), entry.get("value")))
    else:
        raise UnreadableField(f"custom_fields not understood: {type(value).__name__}")
    out = []
    for name, field_value in pairs:
        if not isinstance(name, str) or not name:
            raise UnreadableField(f"custom field without a name: {name!r}")
        if field_value is not None:
            out.append((name, str(field_value)))
    return tuple(out)
