"""Pure mapping: a Luminous `SourcePO` becomes the QBO `DesiredPO` it should be.

No I/O, no clock, no logging: plain data in, plain data out, a reason on the exception when a
record cannot be mapped (`errors.InvalidSourceRecord`, with its `doc_id`). Names, text, money,
currency and the DocNumber rule are every kind's (`documents.fields`); what is a PO's own:

Discounts
    A PurchaseOrder has only item and account expense lines (no DiscountLineDetail), and folding a
    discount into Amount breaks the 6070 check. So line discounts are summed into ONE negative
    account-based line on the configured discount account ("Discounts (3 lines)"), or one per
    class and tax code of the discounted lines when those differ. A negative discount is a
    per-PO error.
Tax
    US companies: one account-based line on the configured tax account: the PO's `total_tax`
    when it is non-zero, else the sum of the lines' `tax` (Luminous' total_tax already contains
    the line taxes; never both). Zero tax -> no line. Negative tax is a per-PO error.
    Elsewhere: no tax line; every line carries a tax code and QBO computes the tax
    (`documents.coding`, which also gives each line its class and the PO its location).
Shipping and other costs
    `total_shipping_cost` -> one line on the shipping account (negative is an error); each
    `other_costs` entry (label, amount) -> one line on the other-costs account, label as its
    description. Zero amounts produce no line. A PO whose total is negative is a per-PO error.
DocNumber
    `order_numbers[rules.doc_number_index]` (first by default), or the Luminous id, by
    `[fields] DocNumber`; none usable: `sync.doc_number_prefix` + the Luminous id.
Notes
    `private_note` -> PrivateNote, `public_note` -> Memo (both documented "max 4000 chars"),
    cut with " [truncated]" like line descriptions and Item.Description; Item.PurchaseDesc is
    cut at 1000 (its documented maximum).
    (QBO's screen labels PrivateNote "Memo" and the API's Memo "Your message to vendor".)
Dates
    straight through (`order_date` -> TxnDate, `arrival_due_date` -> DueDate).
Currency
    the PO's currency, else the supplier's (Luminous's reference shows neither). Neither, in a
    multicurrency QBO company (where Intuit's reference requires CurrencyRef), is decided by
    `rules.missing_currency`: "vendor" (the vendor's currency in QBO, found with the
    references), "home" (the home currency), or "fail" (the PO fails with the reason: never
    a silent guess that books a foreign amount at face value in another currency). In a
    multicurrency company CurrencyRef is always sent, home included; elsewhere only a foreign
    one.
Warehouse
    Luminous's PO may name no warehouse (the reference shows none), or one it no longer has.
    A class or location rule whose source is the warehouse then needs a decision,
    `rules.missing_warehouse`: "fail" the PO with the reason naming the rule, or "default"
    (the rule's default, as for a warehouse its map does not name). A PO without a warehouse
    goes without ShipAddr; either is told in its `note`.
Addresses
    ship-to -> ShipAddr with the ship-to name as Line1 and the street lines joined in Line2;
    supplier address -> VendorAddr (and the vendor's BillAddr). Lines are cut at QBO's limits
    (500 per line, City 255, PostalCode 30) and end with "…"; so are the vendor's phone (30)
    and account number (100). An email or a SKU longer than 100 fails the PO with the reason
    (a cut address or SKU is another one).
Lifecycle
    active -> OPEN; completed/closed -> CLOSED; cancelled, inactive and deleted -> CLOSED or
    DELETED by `rules.on_cancel`, `rules.on_inactive` and `rules.on_deleted`; draft never
    reaches here (`documents.po.plan.skip_reason`).
Fields
    `rules.fields` lists the QBO fields that sync and their source; a field that is off is left
    out of the desired document and of the body (a sparse update then leaves it alone in QBO).
Custom fields
    (QBO custom field name, source) pairs; the source is a PO attribute from
    `CUSTOM_FIELD_ATTRIBUTES` or else the name of a Luminous custom field. Values are cut to 31
    characters with "…" (QBO's limit for string custom fields as shown in its UI; unsure for
    the API).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from reconciler.documents import coding, values
from reconciler.documents.po.model import DesiredLine, DesiredPO, SourcePO, SourceStatus
from reconciler.errors import InvalidSourceRecord
from reconciler.model import (
    ItemKind,
    Lifecycle,
    LineKind,
)

# --- what [fields] may name ---------------------------------------------------------------------

# QBO field -> sources it may take (config.py validates [fields] against this table).
FIELD_SOURCES: Mapping[str, frozenset[str]] = {
    "DocNumber": frozenset({"order_numbers", "id"}),
    "PrivateNote": frozenset({"private_note", "public_note"}),
    "Memo": frozenset({"public_note", "private_note"}),
    "TxnDate": frozenset({"order_date", "created_at"}),
    "DueDate": frozenset({"arrival_due_date", "order_date"}),
    "ShipAddr": frozenset({"ship_to"}),
    "VendorAddr": frozenset({"supplier"}),
    "CurrencyRef": frozenset({"currency"}),
    # These three follow their own sections; [fields] only turns them off.
    "ClassRef": frozenset({"classes"}),
    "DepartmentRef": frozenset({"locations"}),
    "TaxCodeRef": frozenset({"tax"}),
}
DEFAULT_FIELDS: tuple[tuple[str, str], ...] = (
    ("DocNumber", "order_numbers"),
    ("PrivateNote", "private_note"),
    ("Memo", "public_note"),
    ("TxnDate", "order_date"),
    ("DueDate", "arrival_due_date"),
    ("ShipAddr", "ship_to"),
    ("VendorAddr", "supplier"),
    ("CurrencyRef", "currency"),
    ("ClassRef", "classes"),
    ("DepartmentRef", "locations"),
    ("TaxCodeRef", "tax"),
)
# PO attributes a custom field may take; any other source names a Luminous custom field.
CUSTOM_FIELD_ATTRIBUTES = frozenset(
    {
        "id",
        "order_number",
        "status",
        "approval_status",
        "ship_to_name",
        "currency",
        "order_date",
        "arrival_due_date",
        "supplier_name",
        "supplier_account_number",
    }
)

# --- rules and resolved references ------------------------------------------------------------


@dataclass(frozen=True)
class MappingRules:
    """What configuration decides about mapping; built by `settings.Settings.mapping_rules()`,
    which holds every default."""

    fields: tuple[tuple[str, str], ...]  # enabled (QBO field, source) pairs
    doc_number_index: int
    doc_number_too_long: str  # "reject" | "truncate"
    doc_number_missing: str  # "derive" (prefix + Luminous id) | "fail"
    doc_number_prefix: str
    on_cancel: str  # "close" | "delete"
    item_kind: ItemKind
    home_currency: str
    ap_account: str | None  # account NAME; None: the company's only AP account
    shipping_account: str
    tax_account: str
    discount_account: str
    other_costs_account: str
    custom_fields: tuple[tuple[str, str], ...]  # (QBO custom field name, source)
    # classes, locations and tax codes (`reconciler.documents.coding`)
    line_coding: coding.CodingRules = dataclasses.field(default_factory=coding.CodingRules)
    on_inactive: str = "close"  # order_status "inactive": "close" | "delete"
    on_deleted: str = "close"  # order_status "deleted": "close" | "delete"
    multicurrency: bool = False  # the QBO company's MultiCurrencyEnabled
    missing_warehouse: str = "fail"  # no warehouse, a rule needs it: "fail" | "default"
    missing_currency: str = "fail"  # no currency there: "vendor" | "home" | "fail"

    @property
    def numbers(self) -> values.NumberRules:
        return values.NumberRules(self.doc_number_too_long, self.doc_number_missing)

    def source_for(self, qbo_field: str) -> str | None:
        """The source of a QBO field, or None when the field is off."""
        for name, source in self.fields:
            if name == qbo_field:
                return source
        return None


# --- the mapping ------------------------------------------------------------------------------


def _item_lines(po: SourcePO, rules: MappingRules, doc: coding.DocFacts) -> list[DesiredLine]:
    lines = []
    for number, line in enumerate(po.lines, start=1):
        where = f"line {number}"
        if not line.quantity.is_finite() or not line.unit_price.is_finite():
            raise InvalidSourceRecord(f"{where}: quantity or price is not a number", doc_id=po.id)
        if line.quantity < 0:
            raise InvalidSourceRecord(f"{where}: negative quantity {line.quantity}", doc_id=po.id)
        if line.unit_price < 0:
            raise InvalidSourceRecord(
                f"{where}: negative unit price {line.unit_price}", doc_id=po.id
            )
        try:
            item = values.desired_item(line.product, rules.item_kind)
        except InvalidSourceRecord as exc:
            raise InvalidSourceRecord(f"{where}: {exc.message}", doc_id=po.id) from None
        qty, price = values.five_places(line.quantity), values.five_places(line.unit_price)
        amount = values.checked_amount(values.line_amount(qty, price), f"{where}: amount", po.id)
        facts = coding.LineFacts(
            taxable=amount - values.cents(line.discount_amount),
            tax=values.cents(line.tax),
            tax_rate=line.tax_rate,
            tax_class=line.product.tax_class,
            attributes=line.product.attributes,
        )
        coded = _coded(facts, doc, rules, where, po.id)
        lines.append(
            DesiredLine(
                kind=LineKind.ITEM,
                amount=amount,
                description=values.clean_text(line.description or line.product.description),
                item=item,
                qty=qty,
                unit_price=price,
                class_name=coded.class_name,
                tax_code=coded.tax_code,
                key=f"item:{line.id}" if line.id is not None else f"item#{number}",
            )
        )
    return lines


def _coded(
    facts: coding.LineFacts, doc: coding.DocFacts, rules: MappingRules, where: str, po_id: int
) -> coding.LineCoding:
    try:
        return coding.code_line(facts, doc, rules.line_coding)
    except InvalidSourceRecord as exc:
        raise InvalidSourceRecord(f"{where}: {exc.message}", doc_id=po_id) from None


def _account_line(
    amount: Decimal, account: str, description: str, coded: coding.LineCoding, key: str
) -> DesiredLine:
    return DesiredLine(
        kind=LineKind.ACCOUNT,
        amount=amount,
        description=values.clean_text(description),
        account=account,
        class_name=coded.class_name,
        tax_code=coded.tax_code,
        key=key,
    )


def _cost_lines(
    po: SourcePO, rules: MappingRules, doc: coding.DocFacts, items: list[DesiredLine]
) -> list[DesiredLine]:
    lines = _discount_lines(po, rules, items)
    charge = coding.LineFacts(charge=True)
    tax = values.cents(po.total_tax) or sum(
        (values.cents(line.tax) for line in po.lines), Decimal("0")
    )
    if tax < 0:
        raise InvalidSourceRecord(f"negative tax {tax}", doc_id=po.id)
    if tax and rules.line_coding.tax is None:  # outside the US QBO computes it from the codes
        amount = values.checked_amount(tax, "tax", po.id)
        coded = coding.LineCoding(coding.class_for(charge, doc, rules.line_coding.classes))
        lines.append(_account_line(amount, rules.tax_account, "Tax", coded, "tax"))
    shipping = values.cents(po.total_shipping_cost)
    if shipping < 0:
        raise InvalidSourceRecord(f"negative shipping cost {shipping}", doc_id=po.id)
    charges = []
    if shipping:
        charges.append(
            (
                "Shipping",
                values.checked_amount(shipping, "shipping", po.id),
                rules.shipping_account,
                "shipping",
            )
        )
    for number, (label, value) in enumerate(po.other_costs, start=1):
        amount = values.checked_amount(values.cents(value), "other cost", po.id)
        if amount:
            charges.append(
                (
                    values.one_line(label, values.NOTE_MAX) or "Other cost",
                    amount,
                    rules.other_costs_account,
                    f"other#{number}",
                )
            )
    for label, amount, account, key in charges:
        coded = _coded(charge, doc, rules, label.lower(), po.id)
        lines.append(_account_line(amount, account, label, coded, key))
    return lines


def _discount_lines(
    po: SourcePO, rules: MappingRules, items: list[DesiredLine]
) -> list[DesiredLine]:
    """Line discounts as negative lines on the discount account: one, or one per class and tax
    code of the lines they discount (each part of the PO keeps its own)."""
    discounts = [values.cents(line.discount_amount) for line in po.lines]
    if any(d < 0 for d in discounts):
        raise InvalidSourceRecord("negative line discount", doc_id=po.id)
    groups: dict[tuple[str | None, str | None], list[Decimal]] = {}
    for discount, item in zip(discounts, items, strict=True):
        if discount:
            groups.setdefault((item.class_name, item.tax_code), []).append(discount)
    lines = []
    for number, ((class_name, tax_code), parts) in enumerate(groups.items(), start=1):
        label = f"Discounts ({len(parts)} line{'s' if len(parts) != 1 else ''})"
        coded = coding.LineCoding(class_name, tax_code)
        total = sum(parts, Decimal("0"))
        key = "discount" if number == 1 else f"discount#{number}"
        lines.append(_account_line(-total, rules.discount_account, label, coded, key))
    return lines


def _doc_number(po: SourcePO, rules: MappingRules) -> str:
    if rules.source_for("DocNumber") == "id":
        number: str | None = str(po.id)
    else:
        index = rules.doc_number_index
        number = po.order_numbers[index] if 0 <= index < len(po.order_numbers) else None
    derived = f"{rules.doc_number_prefix}{po.id}"
    return values.doc_number(number, rules.numbers, what="PO", derived=derived, doc_id=po.id)[0]


def _lifecycle(po: SourcePO, rules: MappingRules) -> Lifecycle:
    if po.status in (SourceStatus.COMPLETED, SourceStatus.CLOSED):
        return Lifecycle.CLOSED
    by_setting = {
        SourceStatus.CANCELLED: rules.on_cancel,
        SourceStatus.INACTIVE: rules.on_inactive,
        SourceStatus.DELETED: rules.on_deleted,
    }
    if po.status in by_setting:
        return Lifecycle.DELETED if by_setting[po.status] == "delete" else Lifecycle.CLOSED
    return Lifecycle.OPEN


def _date_from(po: SourcePO, source: str | None) -> date | None:
    if source == "created_at":
        return po.created_at.date()
    if source in ("order_date", "arrival_due_date"):
        return getattr(po, source)
    return None


def _note(po: SourcePO, source: str | None) -> str | None:
    if source in ("private_note", "public_note"):
        return values.clean_text(getattr(po, source))
    return None


def _custom_value(po: SourcePO, source: str) -> str | None:
    attributes: dict[str, object] = {
        "id": po.id,
        "order_number": po.order_numbers[0] if po.order_numbers else None,
        "status": po.status.value,
        "approval_status": po.approval_status,
        "ship_to_name": po.ship_to_name,
        "currency": po.currency,
        "order_date": po.order_date,
        "arrival_due_date": po.arrival_due_date,
        "supplier_name": po.supplier.name,
        "supplier_account_number": po.supplier.account_number,
    }
    if source in attributes:
        value = attributes[source]
    else:
        value = next((v for k, v in po.custom_fields if k == source), None)
    if value is None:
        return None
    text = value.isoformat() if isinstance(value, date) else str(value)
    return values.one_line(text, values.CUSTOM_FIELD_MAX)


def _currency(po: SourcePO, rules: MappingRules) -> tuple[str | None, str | None]:
    """The PO's CurrencyRef (None: none sent), or "vendor" when it is its vendor's in QBO."""
    if rules.source_for("CurrencyRef") is None:
        return None, None
    own = values.currency(po.currency, po.id) or values.currency(po.supplier.currency, po.id)
    if not rules.multicurrency:
        return values.foreign(own, rules.home_currency), None
    if own is not None:
        return own, None
    if rules.missing_currency == "vendor":
        return None, "vendor"
    if rules.missing_currency == "home":
        return rules.home_currency.upper(), None
    raise InvalidSourceRecord(
        "no currency on this PO or its supplier (Luminous's PO shows none) and the QBO "
        'company keeps several currencies: set sync.missing_currency to "vendor" (the '
        'vendor\'s currency in QBO) or "home"',
        doc_id=po.id,
    )


def _without_warehouse(po: SourcePO, rules: MappingRules) -> str | None:
    """What a PO without a warehouse means for the rules that read one: the PO's failure
    (`missing_warehouse = "fail"`), or a note of what was left out or defaulted."""
    if po.has_warehouse:
        return None
    coded = rules.line_coding
    needs = [
        f'[{section}] source = "warehouse"'
        for section, lookup in (("classes", coded.classes), ("locations", coded.locations))
        if lookup is not None and lookup.source == "warehouse"
    ]
    found = f"warehouse {po.warehouse_id} not found" if po.warehouse_id else "no warehouse_id"
    what = f"no warehouse on this PO ({found} in Luminous)"
    if needs and rules.missing_warehouse == "fail":
        raise InvalidSourceRecord(
            f"{what}: {' and '.join(needs)} needs one; name it in Luminous, or set "
            'sync.missing_warehouse = "default" to use the rule\'s default',
            doc_id=po.id,
        )
    left = [f"{need}: its default" for need in needs]
    if rules.source_for("ShipAddr") is not None:
        left.append("ShipAddr left out")
    return f"{what}: {'; '.join(left)}" if left else None


def desired_po(po: SourcePO, rules: MappingRules) -> DesiredPO:
    """The QBO PurchaseOrder a source PO should be; InvalidSourceRecord when it cannot be one."""
    if not po.lines:
        raise InvalidSourceRecord("PO has no lines (QBO needs at least one)", doc_id=po.id)
    currency, from_vendor = _currency(po, rules)
    try:
        vendor = values.desired_vendor(po.supplier, currency=currency)
    except InvalidSourceRecord as exc:
        raise InvalidSourceRecord(exc.message, doc_id=po.id) from None
    note = _without_warehouse(po, rules)
    doc = coding.DocFacts(warehouse=po.warehouse_name, custom_fields=po.custom_fields)
    items = _item_lines(po, rules, doc)
    lines = items + _cost_lines(po, rules, doc, items)
    total = sum((line.amount for line in lines), Decimal("0"))
    if total < 0:
        raise InvalidSourceRecord(f"PO total {total} is negative", doc_id=po.id)
    custom = tuple(
        (name, value)
        for name, source in rules.custom_fields
        if (value := _custom_value(po, source)) is not None
    )
    on = rules.source_for
    desired = DesiredPO(
        source_id=po.id,
        doc_number=_doc_number(po, rules),
        vendor=vendor,
        lines=tuple(lines),
        lifecycle=_lifecycle(po, rules),
        txn_date=_date_from(po, rules.source_for("TxnDate")),
        due_date=_date_from(po, rules.source_for("DueDate")),
        private_note=_note(po, rules.source_for("PrivateNote")),
        memo=_note(po, rules.source_for("Memo")),
        ship_addr=values.address(po.ship_to, po.ship_to_name) if on("ShipAddr") else None,
        vendor_addr=values.address(po.supplier.address) if on("VendorAddr") else None,
        currency=currency,
        currency_from=from_vendor,
        ap_account=rules.ap_account,
        custom_fields=custom,
        location=coding.location_for(doc, rules.line_coding),
        tax_calculation=rules.line_coding.global_tax,
        note=note,
    )
    return dataclasses.replace(desired, content_hash=values.content_hash(desired))
