"""Pure: one Luminous purchase-order JSON object -> `SourcePO`, or a reason it cannot be.
(Bills and receiving reports: `luminous_parse_bills`, with the same rules.)

Every assumption about Luminous field names lives in the tables below (see
/work/shared/luminous-api.md; "(assumed)" there means the public reference is silent):

- `order_status` must be one of `SourceStatus` (case-insensitive; "canceled" is read as
  "cancelled"); anything else is rejected with "unknown status 'x'".
- approval is `approval_status` (assumed), normalised to snake case: "Pending Approval" ->
  "pending_approval". Unknown approval words pass through; the engine only pushes "approved"
  (or None = approval not required) by configuration.
- ship-to is the embedded `warehouse` object (assumed; the client fills it in from
  `GET /warehouses/{id}` when only `warehouse_id` is given), with the same address field names
  as suppliers: street_address, city, state, zip, country.
- lines are `items`; a line's SKU is `product.sku`, else the line's `source_sku`.
- money comes as JSON numbers (read by the client with `parse_float=Decimal`), ints or decimal
  strings; a Python float is taken through `repr` (shortest round trip), never through binary
  arithmetic. NaN, infinities, booleans and unparsable text are rejected, and so is any number
  of `MAX_MAGNITUDE` or more or with more than `MAX_DIGITS` digits: bounded here, before any
  Decimal arithmetic (a quantize of 1e30 to cents raises, it does not round).
- ids are whole numbers from 1 to 2**63 - 1 (the ledger's SQLite integers).
- timestamps are ISO-8601 (`Z`, offsets, or a space instead of `T`); a naive timestamp is taken
  as UTC; one that cannot be a UTC instant (year 1 with a positive offset, year 9999 with a
  negative one) is rejected like malformed text. Dates are `YYYY-MM-DD` (a timestamp in a
  date field keeps its date part).
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

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from reconciler.errors import InvalidSourceRecord
from reconciler.model import (
    Address,
    RejectedRecord,
    SourceLine,
    SourcePO,
    SourceProduct,
    SourceStatus,
    SourceSupplier,
)

# --- the field-name table: every Luminous name we read, in one place ----------------------

PO_FIELDS = {
    "id": "id",
    "order_numbers": "order_numbers",
    "status": "order_status",
    "approval": "approval_status",  # assumed
    "supplier": "supplier",
    "items": "items",
    "warehouse": "warehouse",  # assumed: embedded, or fetched by warehouse_id
    "created_at": "created_at",
    "updated_at": "updated_at",
    "order_date": "order_date",
    "arrival_due_date": "arrival_due_date",
    "currency": "currency",  # assumed
    "shipping": "total_shipping_cost",
    "tax": "total_tax",
    "public_note": "public_note",
    "private_note": "private_note",
    "custom_fields": "custom_fields",  # assumed
}
SUPPLIER_FIELDS = {
    "id": "id",
    "name": "name",
    "email": "contact_email",
    "phone": "contact_phone",
    "contact_name": "contact_name",
    "currency": "currency",  # assumed
    "account_number": "account_number",  # assumed
}
ADDRESS_FIELDS = {  # suppliers and warehouses alike
    "line1": "street_address",
    "line2": "street_address_2",  # assumed
    "city": "city",
    "region": "state",
    "postal_code": "zip",
    "country": "country",
}
ITEM_FIELDS = {
    "id": "id",
    "product": "product",
    "quantity": "quantity",
    "unit_price": "unit_price",
    "description": "description",  # assumed (not in the reference; product.description is)
    "tax": "tax",
    "tax_rate": "tax_rate",  # assumed
    "discount_amount": "discount_amount",
    "line_total": "line_total",
    "source_sku": "source_sku",
}
PRODUCT_FIELDS = {
    "id": "id",
    "name": "name",
    "sku": "sku",
    "description": "description",
    "unit_cost": "unit_cost",
    "tax_class": "tax_class",  # assumed
    "category": "category",  # {id, name}, on the reference's product
    "subcategory": "subcategory",
    "variant_attributes": "variant_attributes",
    "custom_fields": "custom_fields",
}
STATUS_ALIASES = {"canceled": SourceStatus.CANCELLED}
MAX_MAGNITUDE = Decimal(10) ** 12  # far beyond any PO amount; QBO itself stops at 10**10
MAX_DIGITS = 24
MAX_ID = 2**63 - 1

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def parse_po(
    raw: Mapping[str, Any], *, extra_cost_fields: Iterable[tuple[str, str]] = ()
) -> SourcePO:
    """Turn one PO object into a `SourcePO`; raise `InvalidSourceRecord` with the reason."""
    if not isinstance(raw, Mapping):
        raise InvalidSourceRecord(f"record is not an object: {type(raw).__name__}")
    po_id = _po_id(raw)
    try:
        return _parse(raw, po_id, tuple(extra_cost_fields))
    except _Bad as bad:
        raise InvalidSourceRecord(str(bad), po_id=po_id) from None


def rejected(raw: Any, reason: str) -> RejectedRecord:
    """The outcome for a record `parse_po` refused, with whatever identity can be salvaged
    (none, if even the salvage meets something it cannot read: the record still fails alone)."""
    try:
        return _salvaged(raw, reason)
    except Exception:
        return RejectedRecord(doc_id=None, updated_at=None, reason=reason)


def _salvaged(raw: Any, reason: str) -> RejectedRecord:
    if not isinstance(raw, Mapping):
        return RejectedRecord(doc_id=None, updated_at=None, reason=reason)
    po_id = whole_id(raw.get(PO_FIELDS["id"]))
    try:
        updated_at = _timestamp(raw.get(PO_FIELDS["updated_at"]), "updated_at")
    except _Bad:
        updated_at = None
    numbers = raw.get(PO_FIELDS["order_numbers"])
    number = None
    if isinstance(numbers, list) and numbers and isinstance(numbers[0], str | int):
        number = str(numbers[0])
    elif isinstance(numbers, str):
        number = numbers
    return RejectedRecord(doc_id=po_id, updated_at=updated_at, reason=reason, number=number)


def parse_or_reject(
    raw: Mapping[str, Any], *, extra_cost_fields: Iterable[tuple[str, str]] = ()
) -> SourcePO | RejectedRecord:
    """`parse_po`, with a refusal turned into its `RejectedRecord` instead of raised. A record
    is the unit of failure: even an error nobody foresaw is that record's outcome."""
    try:
        return parse_po(raw, extra_cost_fields=extra_cost_fields)
    except InvalidSourceRecord as exc:
        return rejected(raw, exc.message)
    except Exception as exc:  # a bug meeting odd data: the record fails, the pass goes on
        return rejected(raw, f"cannot read this record ({type(exc).__name__}: {exc})"[:300])


def parse_timestamp(value: Any) -> datetime:
    """A Luminous timestamp as an aware UTC datetime (naive text is taken as UTC)."""
    try:
        return _timestamp(value, "timestamp", required=True)  # type: ignore[return-value]
    except _Bad as bad:
        raise ValueError(str(bad)) from None


# --- internals ---------------------------------------------------------------------------


class _Bad(Exception):
    """A reason; becomes InvalidSourceRecord with the PO id attached."""


def _po_id(raw: Mapping[str, Any]) -> int:
    value = raw.get(PO_FIELDS["id"])
    po_id = whole_id(value)
    if po_id is None:
        raise InvalidSourceRecord(f"missing or bad id: {value!r:.60}")
    return po_id


def whole_id(value: Any) -> int | None:
    """An id as the ledger can key it: a whole number 1..2**63-1 (int or digits), else None."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    if isinstance(value, str) and not value.strip().isdecimal():  # "²" is a digit, no number
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ID else None


def _parse(raw: Mapping[str, Any], po_id: int, extra: tuple[tuple[str, str], ...]) -> SourcePO:
    f = PO_FIELDS
    other_costs = []
    for field_name, label in extra:
        amount = _money(raw.get(field_name), field_name, default=Decimal("0"))
        if amount:
            other_costs.append((label, amount))
    warehouse = raw.get(f["warehouse"])
    if warehouse is not None and not isinstance(warehouse, Mapping):
        raise _Bad(f"warehouse is not an object: {warehouse!r}")
    return SourcePO(
        id=po_id,
        order_numbers=_order_numbers(raw.get(f["order_numbers"])),
        status=_status(raw.get(f["status"])),
        supplier=_supplier(raw.get(f["supplier"])),
        lines=_lines(raw.get(f["items"])),
        created_at=_timestamp(raw.get(f["created_at"]), "created_at", required=True),  # type: ignore[arg-type]
        updated_at=_timestamp(raw.get(f["updated_at"]), "updated_at", required=True),  # type: ignore[arg-type]
        approval_status=_approval(raw.get(f["approval"])),
        order_date=_date(raw.get(f["order_date"]), "order_date"),
        arrival_due_date=_date(raw.get(f["arrival_due_date"]), "arrival_due_date"),
        currency=_text(raw.get(f["currency"]), "currency"),
        ship_to=_address(warehouse) if warehouse else None,
        ship_to_name=_text(warehouse.get("name"), "warehouse.name") if warehouse else None,
        warehouse_name=_text(warehouse.get("name"), "warehouse.name") if warehouse else None,
        total_shipping_cost=_money(raw.get(f["shipping"]), f["shipping"], default=Decimal("0")),
        total_tax=_money(raw.get(f["tax"]), f["tax"], default=Decimal("0")),
        other_costs=tuple(other_costs),
        public_note=_text(raw.get(f["public_note"]), "public_note", strip=False),
        private_note=_text(raw.get(f["private_note"]), "private_note", strip=False),
        custom_fields=_custom_fields(raw.get(f["custom_fields"])),
    )


def _status(value: Any) -> SourceStatus:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"missing order_status: {value!r}")
    word = value.strip().lower()
    if word in STATUS_ALIASES:
        return STATUS_ALIASES[word]
    try:
        return SourceStatus(word)
    except ValueError:
        raise _Bad(f"unknown status {value!r}") from None


def _approval(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Bad(f"bad approval_status: {value!r}")
    return re.sub(r"[\s\-]+", "_", value.strip().lower())


def _supplier(value: Any) -> SourceSupplier:
    if not isinstance(value, Mapping):
        raise _Bad("missing supplier")
    s = SUPPLIER_FIELDS
    name = _text(value.get(s["name"]), "supplier.name")
    if not name:
        raise _Bad("supplier has no name")
    address = _address(value)
    return SourceSupplier(
        id=_optional_int(value.get(s["id"]), "supplier.id"),
        name=name,
        email=_text(value.get(s["email"]), "supplier.contact_email"),
        phone=_text(value.get(s["phone"]), "supplier.contact_phone"),
        contact_name=_text(value.get(s["contact_name"]), "supplier.contact_name"),
        address=None if address.is_empty() else address,
        currency=_text(value.get(s["currency"]), "supplier.currency"),
        account_number=_text(value.get(s["account_number"]), "supplier.account_number"),
    )


def _address(value: Mapping[str, Any]) -> Address:
    a = ADDRESS_FIELDS
    return Address(**{key: _text(value.get(name), name) for key, name in a.items()})


def _lines(value: Any) -> tuple[SourceLine, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Bad(f"items is not a list: {type(value).__name__}")
    return tuple(_line(item, n) for n, item in enumerate(value, start=1))


def _line(item: Any, n: int) -> SourceLine:
    where = f"items[{n}]"
    if not isinstance(item, Mapping):
        raise _Bad(f"{where} is not an object")
    i = ITEM_FIELDS
    product = item.get(i["product"])
    if not isinstance(product, Mapping):
        raise _Bad(f"{where} has no product")
    p = PRODUCT_FIELDS
    name = _text(product.get(p["name"]), f"{where}.product.name")
    if not name:
        raise _Bad(f"{where} product has no name")
    sku = _text(product.get(p["sku"]), f"{where}.product.sku") or _text(
        item.get(i["source_sku"]), f"{where}.source_sku"
    )
    return SourceLine(
        id=_optional_int(item.get(i["id"]), f"{where}.id"),
        product=SourceProduct(
            id=_optional_int(product.get(p["id"]), f"{where}.product.id"),
            name=name,
            sku=sku,
            description=_text(product.get(p["description"]), f"{where}.product.description"),
            unit_cost=_money(product.get(p["unit_cost"]), f"{where}.product.unit_cost"),
            tax_class=_text(product.get(p["tax_class"]), f"{where}.product.tax_class"),
            attributes=_product_attributes(product),
        ),
        quantity=_money(item.get(i["quantity"]), f"{where}.quantity", required=True),  # type: ignore[arg-type]
        unit_price=_money(item.get(i["unit_price"]), f"{where}.unit_price", required=True),  # type: ignore[arg-type]
        description=_text(item.get(i["description"]), f"{where}.description"),
        tax=_money(item.get(i["tax"]), f"{where}.tax", default=Decimal("0")),  # type: ignore[arg-type]
        discount_amount=_money(  # type: ignore[arg-type]
            item.get(i["discount_amount"]), f"{where}.discount_amount", default=Decimal("0")
        ),
        line_total=_money(item.get(i["line_total"]), f"{where}.line_total"),
        tax_rate=_money(item.get(i["tax_rate"]), f"{where}.tax_rate"),
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
        raise _Bad(f"order_numbers is not a list: {value!r}")
    numbers = []
    for entry in value:
        if isinstance(entry, bool) or not isinstance(entry, str | int):
            raise _Bad(f"bad order number: {entry!r}")
        text = str(entry).strip()
        if text:
            numbers.append(text)
    return tuple(numbers)


def _money(
    value: Any, where: str, *, required: bool = False, default: Decimal | None = None
) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _Bad(f"missing number in {where}")
        return default
    if isinstance(value, bool):
        raise _Bad(f"bad number in {where}: {value!r}")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise _Bad(f"bad number in {where}: {value!r}") from None
    else:
        raise _Bad(f"bad number in {where}: {value!r}")
    if not number.is_finite():
        raise _Bad(f"bad number in {where}: {value!r:.40}")
    if abs(number) >= MAX_MAGNITUDE or len(number.as_tuple().digits) > MAX_DIGITS:
        raise _Bad(f"number in {where} is too large or too long: {value!r:.40}")
    return number


def _timestamp(value: Any, where: str, *, required: bool = False) -> datetime | None:
    if value is None or value == "":
        if required:
            raise _Bad(f"missing {where}")
        return None
    if not isinstance(value, str):
        raise _Bad(f"bad timestamp in {where}: {value!r}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _Bad(f"bad timestamp in {where}: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise _Bad(f"bad timestamp in {where}: {value!r} is not a UTC instant") from None


def _date(value: Any, where: str) -> date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _DATE_RE.match(value.strip()):
        raise _Bad(f"bad date in {where}: {value!r}")
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise _Bad(f"bad date in {where}: {value!r}") from None


def _text(value: Any, where: str, *, strip: bool = True) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise _Bad(f"bad text in {where}: {value!r}")
    text = str(value)
    if strip:
        text = text.strip()
    return text or None


def _optional_int(value: Any, where: str) -> int | None:
    if value is None:
        return None
    number = whole_id(value)
    if number is None:
        raise _Bad(f"bad id in {where}: {value!r:.40}")
    return number


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
                raise _Bad(f"custom field is not an object: {entry!r}")
            pairs.append((entry.get("name") or entry.get("key"), entry.get("value")))
    else:
        raise _Bad(f"custom_fields not understood: {type(value).__name__}")
    out = []
    for name, field_value in pairs:
        if not isinstance(name, str) or not name:
            raise _Bad(f"custom field without a name: {name!r}")
        if field_value is not None:
            out.append((name, str(field_value)))
    return tuple(out)
