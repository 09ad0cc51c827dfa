"""Pure mapping: a Luminous `SourcePO` becomes the QBO `DesiredPO` it should be, then a JSON body.

No I/O, no clock, no logging: plain data in, plain data out, a reason on the exception when a
record cannot be mapped (`errors.InvalidSourceRecord`, with `po_id`).

The rules (each checked against Intuit's PurchaseOrder reference where it says something; the
reference pages were found with the `search` tool, copies in public repositories):

Names (vendors and items): one rule, `_normalise_name`
    NFC; lone surrogates -> U+FFFD; control characters (tab, newline, NUL, ...) -> space; runs of
    whitespace collapse to one space; leading/trailing spaces stripped (QBO trims them anyway, so
    an untrimmed name would never match on lookup); ':' -> '-' (QBO reserves the colon: sub-items
    for Item.Name, refused in Vendor.DisplayName). Longer than the limit (100 for both: Item.Name
    is documented at 100, Vendor.DisplayName at 500 or 100 depending on minor version, so 100 is
    the safe value): cut and end with '~' + 8 hex of sha256 of the whole normalised name, so two
    long names that share a prefix still differ. Empty after all this -> InvalidSourceRecord.
    The rule is idempotent: normalising a normalised name changes nothing.
Lengths
    every limit counts characters as QBO does (`java_length`: a Java service counts a character
    outside the BMP as two); the rule for each field is in docs/qbo-limits.md.

Money
    QBO checks every item line: `Amount` must equal `Qty * UnitPrice` to the cent, else fault 6070
    "Amount is not equal to UnitPrice * Qty"; field reports show QBO rounds half-up (1861.075 ->
    1861.08). Amounts are "max 15 digits in 10.5 format". So: UnitPrice keeps up to 5 decimals
    (more are rounded half-up to 5), Qty likewise, and Amount = (Qty * UnitPrice) rounded half-up
    to cents. |Amount| >= 10^10 is a per-PO error.
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
    (`reconciler.documents.coding`, which also gives each line its class and the PO its location).
Shipping and other costs
    `total_shipping_cost` -> one line on the shipping account (negative is an error); each
    `other_costs` entry (label, amount) -> one line on the other-costs account, label as its
    description. Zero amounts produce no line. A PO whose total is negative is a per-PO error.
DocNumber
    `order_numbers[rules.doc_number_index]` (first by default), stripped. QBO allows 21
    characters: longer -> per-PO error (`doc_number_too_long = "reject"`, default) or keep the
    LAST 21 characters (`"truncate"`; a PO number's distinguishing part is its sequence at the
    end). No number -> no DocNumber (QBO numbers it, and the look-before-create cannot find it).
Notes
    `private_note` -> PrivateNote, `public_note` -> Memo (both documented "max 4000 chars"):
    characters XML cannot carry are dropped, CRLF -> LF, longer than 4000 -> cut and end with
    " [truncated]" (the full text stays in Luminous). Line descriptions follow the same rule,
    Item.Description too; Item.PurchaseDesc is cut at 1000 (its documented maximum).
    (QBO's screen labels PrivateNote "Memo" and the API's Memo "Your message to vendor".)
Dates
    straight through (`order_date` -> TxnDate, `arrival_due_date` -> DueDate).
Currency
    the PO's currency, else the supplier's, upper-cased; must be an ISO 4217 code (the frozenset
    below), else a per-PO error. Omitted (None) when it equals the home currency, so a
    single-currency company never sees CurrencyRef.
Addresses
    ship-to -> ShipAddr with the ship-to name as Line1 and the street lines joined in Line2;
    supplier address -> VendorAddr (and the vendor's BillAddr). Lines are cut at QBO's limits
    (500 per line, City 255, PostalCode 30) and end with "…"; so are the vendor's phone (30)
    and account number (100). An email or a SKU longer than 100 fails the PO with the reason
    (a cut address or SKU is another one).
Lifecycle
    active -> OPEN; completed/closed -> CLOSED; cancelled -> CLOSED or DELETED by
    `rules.on_cancel`; draft never reaches here (plan.skip_reason).
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
import enum
import functools
import hashlib
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from reconciler.documents import coding
from reconciler.errors import InvalidSourceRecord
from reconciler.model import (
    Address,
    DesiredItem,
    DesiredLine,
    DesiredPO,
    DesiredVendor,
    ItemKind,
    Lifecycle,
    LineKind,
    SourcePO,
    SourceProduct,
    SourceStatus,
    SourceSupplier,
)
from reconciler.qbo.query import is_queryable

# --- limits (Intuit's PurchaseOrder / Vendor / Item reference) --------------------------------

NAME_MAX = 100
DOC_NUMBER_MAX = 21
NOTE_MAX = 4000  # PrivateNote, Memo, Line.Description
TRUNCATION_MARKER = " [truncated]"
SHORT_MARKER = "…"  # a cut one-line field (address, phone, account number) ends with it
PURCHASE_DESC_MAX = 1000  # Item.PurchaseDesc ("Max 1000 chars"; Description is 4000)
ADDRESS_LINE_MAX = 500
CITY_MAX = 255
POSTAL_CODE_MAX = 30
CUSTOM_FIELD_MAX = 31
SKU_MAX = 100
EMAIL_MAX = 100
PHONE_MAX = 30
ACCOUNT_NUMBER_MAX = 100
AMOUNT_LIMIT = Decimal(10) ** 10  # "max 15 digits in 10.5 format"
CENT = Decimal("0.01")
FIVE_PLACES = Decimal("0.00001")

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

# Active ISO 4217 currency codes (funds, metals and test codes left out).
_ISO_4217_TEXT = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
    MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
    SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
"""
ISO_4217: frozenset[str] = frozenset(_ISO_4217_TEXT.split())


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

    def source_for(self, qbo_field: str) -> str | None:
        """The source of a QBO field, or None when the field is off."""
        for name, source in self.fields:
            if name == qbo_field:
                return source
        return None


# --- names ------------------------------------------------------------------------------------


def _clean_chars(text: str) -> str:
    """NFC, lone surrogates replaced, control characters turned into spaces."""
    text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    text = unicodedata.normalize("NFC", text)
    return "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)


def java_length(text: str) -> int:
    """Characters as QBO counts them: it is a Java service, and Java counts a character
    outside the BMP (an emoji) as two."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _head(text: str, limit: int) -> str:
    """The longest start of `text` within `limit` (Java) characters."""
    used = 0
    for index, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > limit:
            return text[:index]
    return text


def last_chars(text: str, limit: int) -> str:
    """The longest end of `text` within `limit` (Java) characters."""
    return _head(text[::-1], limit)[::-1]


def fit(text: str, limit: int, marker: str) -> str:
    """`text`, or its start cut so that with `marker` it is `limit` (Java) characters."""
    if java_length(text) <= limit:
        return text
    return _head(text, limit - java_length(marker)).rstrip() + marker


def _normalise_name(source_name: str, max_len: int, what: str) -> str:
    text = " ".join(_clean_chars(source_name).split()).replace(":", "-")
    if not text:
        raise InvalidSourceRecord(f"{what} name {source_name!r} is empty once normalised")
    if java_length(text) <= max_len:
        return text
    tag = "~" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return _head(text, max_len - len(tag)).rstrip() + tag


def vendor_display_name(source_name: str, *, max_len: int = NAME_MAX) -> str:
    """The Vendor.DisplayName for a supplier name: the one normalisation rule (module docstring)."""
    return _normalise_name(source_name, max_len, "supplier")


def vendor_display_name_with_suffix(
    source_name: str, suffix: str, *, max_len: int = NAME_MAX
) -> str:
    """The display name with a collision suffix (" (Supplier)"), still within max_len."""
    return vendor_display_name(source_name, max_len=max_len - len(suffix)) + suffix


def item_name(source_name: str) -> str:
    """The Item.Name for a product name: the same rule, 100 characters, colon reserved."""
    return _normalise_name(source_name, NAME_MAX, "product")


def item_key(item: DesiredItem) -> str:
    """The key `ResolvedRefs.item_ids` uses: SKU first, then name (as Luminous matches)."""
    if item.sku:
        return "sku:" + item.sku.casefold()
    return "name:" + item.name.casefold()


# --- text -------------------------------------------------------------------------------------

_XML_SAFE_CONTROLS = {"\n", "\t"}


def clean_text(text: str | None, *, limit: int = NOTE_MAX) -> str | None:
    """Free text (notes, descriptions): XML-safe, LF line ends, cut with a marker past limit."""
    if text is None:
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    text = unicodedata.normalize("NFC", text)
    text = "".join(
        ch for ch in text if unicodedata.category(ch) != "Cc" or ch in _XML_SAFE_CONTROLS
    ).strip()
    if not text:
        return None
    return fit(text, limit, TRUNCATION_MARKER)


def _one_line(text: str | None) -> str | None:
    """Control characters and whitespace runs collapsed; None when nothing is left."""
    if text is None:
        return None
    return " ".join(_clean_chars(text).split()) or None


def _short(text: str | None, limit: int) -> str | None:
    """A one-line field within `limit`, cut with a visible "…" when it was longer."""
    text = _one_line(text)
    return fit(text, limit, SHORT_MARKER) if text else None


# --- money ------------------------------------------------------------------------------------


def cents(value: Decimal) -> Decimal:
    """Round half-up to cents, the way QBO checks Amount."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def five_places(value: Decimal) -> Decimal:
    """Keep at most 5 decimals (QBO's 10.5 format), half-up; fewer decimals stay as they are."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -5:
        return value
    return value.quantize(FIVE_PLACES, rounding=ROUND_HALF_UP)


def line_amount(qty: Decimal, unit_price: Decimal) -> Decimal:
    """Amount = Qty x UnitPrice rounded half-up to cents (QBO fault 6070 otherwise)."""
    return cents(qty * unit_price)


# --- the mapping ------------------------------------------------------------------------------


# The vendor, item and address mappings are pure and their inputs repeat across a backlog
# (50 suppliers, 300 products for 10,000 POs): cached, the POs waiting in the write pipeline
# share one DesiredVendor, DesiredItem and Address each instead of a copy per PO or line.
MAPPED_CACHE_SIZE = 2048


@functools.lru_cache(maxsize=MAPPED_CACHE_SIZE)
def _address(addr: Address | None, name: str | None = None) -> Address | None:
    line1 = _short(addr.line1, ADDRESS_LINE_MAX) if addr else None
    line2 = _short(addr.line2, ADDRESS_LINE_MAX) if addr else None
    name = _short(name, ADDRESS_LINE_MAX)
    if name:
        street = ", ".join(part for part in (line1, line2) if part)
        line1, line2 = name, (fit(street, ADDRESS_LINE_MAX, SHORT_MARKER) or None)
    result = Address(
        line1=line1,
        line2=line2,
        city=_short(addr.city, CITY_MAX) if addr else None,
        region=_short(addr.region, CITY_MAX) if addr else None,
        postal_code=_short(addr.postal_code, POSTAL_CODE_MAX) if addr else None,
        country=_short(addr.country, CITY_MAX) if addr else None,
    )
    return None if result.is_empty() else result


def _email(value: str | None) -> str | None:
    """A plausible address or nothing: QBO refuses a malformed PrimaryEmailAddr outright."""
    value = _one_line(value)
    if value and java_length(value) > EMAIL_MAX:  # a cut address is another address
        raise InvalidSourceRecord(
            f"supplier email has {java_length(value)} characters; QBO allows {EMAIL_MAX}: "
            "shorten it in Luminous"
        )
    if not value or " " in value:
        return None
    local, at, domain = value.rpartition("@")
    return value if at and local and "." in domain.strip(".") else None


def _currency(code: str | None, po_id: int) -> str | None:
    if code is None or not code.strip():
        return None
    normal = code.strip().upper()
    if normal not in ISO_4217:
        raise InvalidSourceRecord(f"unknown currency {code!r} (not an ISO 4217 code)", po_id=po_id)
    return normal


@functools.lru_cache(maxsize=MAPPED_CACHE_SIZE)
def desired_vendor(supplier: SourceSupplier, *, currency: str | None = None) -> DesiredVendor:
    """The vendor a PO needs; `currency` is None for the home currency."""
    display = vendor_display_name(supplier.name)
    return DesiredVendor(
        display_name=display,
        source_name=supplier.name,
        company_name=display,
        email=_email(supplier.email),
        phone=_short(supplier.phone, PHONE_MAX),
        address=_address(supplier.address),
        currency=currency,
        account_number=_short(supplier.account_number, ACCOUNT_NUMBER_MAX),
    )


def _desired_item(product: SourceProduct, kind: ItemKind) -> DesiredItem:
    # (the cost's text in the key: Decimal("1.0") == Decimal("1.00"), and the item keeps
    # the digits it was given)
    return _desired_item_of(product, str(product.unit_cost), kind)


@functools.lru_cache(maxsize=MAPPED_CACHE_SIZE)
def _desired_item_of(product: SourceProduct, _cost_text: str, kind: ItemKind) -> DesiredItem:
    return DesiredItem(
        name=item_name(product.name),
        sku=item_sku(product.sku),
        description=clean_text(product.description),
        unit_cost=five_places(product.unit_cost) if product.unit_cost is not None else None,
        kind=kind,
    )


def item_sku(raw: str | None) -> str | None:
    """Item.Sku: the sync finds items by it, so a SKU longer than QBO's maximum cannot be cut
    (it could become another product's): the document fails with the reason."""
    sku = _one_line(raw)
    if sku and java_length(sku) > SKU_MAX:
        raise InvalidSourceRecord(
            f"product SKU {sku[:30]!r}... has {java_length(sku)} characters; QBO allows "
            f"{SKU_MAX} and the sync finds items by SKU: shorten it in Luminous"
        )
    return sku


def _check_amount(amount: Decimal, what: str, po_id: int) -> Decimal:
    if abs(amount) >= AMOUNT_LIMIT:
        raise InvalidSourceRecord(f"{what} {amount} is too large for QBO (10 digits)", po_id=po_id)
    return amount


def _item_lines(po: SourcePO, rules: MappingRules, doc: coding.DocFacts) -> list[DesiredLine]:
    lines = []
    for number, line in enumerate(po.lines, start=1):
        where = f"line {number}"
        if not line.quantity.is_finite() or not line.unit_price.is_finite():
            raise InvalidSourceRecord(f"{where}: quantity or price is not a number", po_id=po.id)
        if line.quantity < 0:
            raise InvalidSourceRecord(f"{where}: negative quantity {line.quantity}", po_id=po.id)
        if line.unit_price < 0:
            raise InvalidSourceRecord(
                f"{where}: negative unit price {line.unit_price}", po_id=po.id
            )
        try:
            item = _desired_item(line.product, rules.item_kind)
        except InvalidSourceRecord as exc:
            raise InvalidSourceRecord(f"{where}: {exc.message}", po_id=po.id) from None
        qty, price = five_places(line.quantity), five_places(line.unit_price)
        amount = _check_amount(line_amount(qty, price), f"{where}: amount", po.id)
        facts = coding.LineFacts(
            taxable=amount - cents(line.discount_amount),
            tax=cents(line.tax),
            tax_rate=line.tax_rate,
            tax_class=line.product.tax_class,
            attributes=line.product.attributes,
        )
        coded = _coded(facts, doc, rules, where, po.id)
        lines.append(
            DesiredLine(
                kind=LineKind.ITEM,
                amount=amount,
                description=clean_text(line.description or line.product.description),
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
        raise InvalidSourceRecord(f"{where}: {exc.message}", po_id=po_id) from None


def _account_line(
    amount: Decimal, account: str, description: str, coded: coding.LineCoding, key: str
) -> DesiredLine:
    return DesiredLine(
        kind=LineKind.ACCOUNT,
        amount=amount,
        description=clean_text(description),
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
    tax = cents(po.total_tax) or sum((cents(line.tax) for line in po.lines), Decimal("0"))
    if tax < 0:
        raise InvalidSourceRecord(f"negative tax {tax}", po_id=po.id)
    if tax and rules.line_coding.tax is None:  # outside the US QBO computes it from the codes
        amount = _check_amount(tax, "tax", po.id)
        coded = coding.LineCoding(coding.class_for(charge, doc, rules.line_coding.classes))
        lines.append(_account_line(amount, rules.tax_account, "Tax", coded, "tax"))
    shipping = cents(po.total_shipping_cost)
    if shipping < 0:
        raise InvalidSourceRecord(f"negative shipping cost {shipping}", po_id=po.id)
    charges = []
    if shipping:
        charges.append(
            ("Shipping", _check_amount(shipping, "shipping", po.id), rules.shipping_account,
             "shipping")
        )  # fmt: skip
    for number, (label, value) in enumerate(po.other_costs, start=1):
        amount = _check_amount(cents(value), "other cost", po.id)
        if amount:
            charges.append(
                (_short(label, NOTE_MAX) or "Other cost", amount, rules.other_costs_account,
                 f"other#{number}")
            )  # fmt: skip
    for label, amount, account, key in charges:
        coded = _coded(charge, doc, rules, label.lower(), po.id)
        lines.append(_account_line(amount, account, label, coded, key))
    return lines


def _discount_lines(
    po: SourcePO, rules: MappingRules, items: list[DesiredLine]
) -> list[DesiredLine]:
    """Line discounts as negative lines on the discount account: one, or one per class and tax
    code of the lines they discount (each part of the PO keeps its own)."""
    discounts = [cents(line.discount_amount) for line in po.lines]
    if any(d < 0 for d in discounts):
        raise InvalidSourceRecord("negative line discount", po_id=po.id)
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
    number = _one_line(number)
    if number is not None and java_length(number) > DOC_NUMBER_MAX:
        if rules.doc_number_too_long != "truncate":
            raise InvalidSourceRecord(
                f"PO number {number!r} has {java_length(number)} characters; QBO DocNumber allows "
                f'{DOC_NUMBER_MAX} (set sync.doc_number_too_long = "truncate" to keep the last '
                f"{DOC_NUMBER_MAX})",
                po_id=po.id,
            )
        number = last_chars(number, DOC_NUMBER_MAX).lstrip()
    unusable = _unusable_number(number)
    if unusable is None:
        return number  # type: ignore[return-value]
    if rules.doc_number_missing == "derive":
        return f"{rules.doc_number_prefix}{po.id}"[-DOC_NUMBER_MAX:]
    raise InvalidSourceRecord(
        f"{unusable}: the sync finds its POs in QBO by number and cannot create one it could "
        f'not find again (set sync.doc_number_missing = "derive" to number it '
        f'"{rules.doc_number_prefix}{po.id}")',
        po_id=po.id,
    )


def _unusable_number(number: str | None) -> str | None:
    """Why a number cannot be a DocNumber the sync can search QBO for; None when it can."""
    if not number:
        return "PO has no number (order_numbers empty or blank)"
    if not is_queryable(number):
        return f"PO number {number!r} has characters QBO cannot search for"
    return None


def _lifecycle(po: SourcePO, rules: MappingRules) -> Lifecycle:
    if po.status in (SourceStatus.COMPLETED, SourceStatus.CLOSED):
        return Lifecycle.CLOSED
    if po.status is SourceStatus.CANCELLED:
        return Lifecycle.DELETED if rules.on_cancel == "delete" else Lifecycle.CLOSED
    return Lifecycle.OPEN


def _date_from(po: SourcePO, source: str | None) -> date | None:
    if source == "created_at":
        return po.created_at.date()
    if source in ("order_date", "arrival_due_date"):
        return getattr(po, source)
    return None


def _note(po: SourcePO, source: str | None) -> str | None:
    if source in ("private_note", "public_note"):
        return clean_text(getattr(po, source))
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
    return _short(text, CUSTOM_FIELD_MAX)


def desired_po(po: SourcePO, rules: MappingRules) -> DesiredPO:
    """The QBO PurchaseOrder a source PO should be; InvalidSourceRecord when it cannot be one."""
    if not po.lines:
        raise InvalidSourceRecord("PO has no lines (QBO needs at least one)", po_id=po.id)
    currency = None
    if rules.source_for("CurrencyRef") is not None:
        currency = _currency(po.currency, po.id) or _currency(po.supplier.currency, po.id)
        if currency == rules.home_currency.upper():
            currency = None
    try:
        vendor = desired_vendor(po.supplier, currency=currency)
    except InvalidSourceRecord as exc:
        raise InvalidSourceRecord(exc.message, po_id=po.id) from None
    doc = coding.DocFacts(warehouse=po.warehouse_name, custom_fields=po.custom_fields)
    items = _item_lines(po, rules, doc)
    lines = items + _cost_lines(po, rules, doc, items)
    total = sum((line.amount for line in lines), Decimal("0"))
    if total < 0:
        raise InvalidSourceRecord(f"PO total {total} is negative", po_id=po.id)
    custom = tuple(
        (name, value)
        for name, source in rules.custom_fields
        if (value := _custom_value(po, source)) is not None
    )
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
        ship_addr=_address(po.ship_to, po.ship_to_name) if rules.source_for("ShipAddr") else None,
        vendor_addr=_address(po.supplier.address) if rules.source_for("VendorAddr") else None,
        currency=currency,
        ap_account=rules.ap_account,
        custom_fields=custom,
        location=coding.location_for(doc, rules.line_coding),
        tax_calculation=rules.line_coding.global_tax,
    )
    return dataclasses.replace(desired, content_hash=content_hash(desired))


# --- content hash -----------------------------------------------------------------------------


_PLAIN = (str, int, bool, float, type(None))
_FIELDS: dict[type, tuple[str, ...]] = {}  # dataclass -> the field names the hash covers


def _canonical(value: Any) -> Any:
    if type(value) in _PLAIN:  # (exact types: a StrEnum is an Enum below)
        return value
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "0") else text
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_canonical(v) for v in value]
    names = _FIELDS.get(type(value))
    if names is None:
        if not dataclasses.is_dataclass(value) or isinstance(value, type):
            return value
        names = tuple(
            f.name
            for f in dataclasses.fields(value)
            if f.name != "content_hash" and f.metadata.get("hash") is not False
        )
        _FIELDS[type(value)] = names
    out = {}
    for name in names:
        item = _canonical(getattr(value, name))
        if item is None or item == [] or item == "":
            continue  # absent; a new optional field does not change existing hashes
        out[name] = item
    return out


def content_hash(desired: DesiredPO) -> str:
    """32 hex characters, stable across runs and processes (canonical JSON, then sha256)."""
    text = json.dumps(
        _canonical(desired), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
