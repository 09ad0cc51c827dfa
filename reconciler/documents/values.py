"""Pure: how every kind of document writes a value QBO will take. One rule each, checked
against Intuit's entity references where they say something (found with the `search` tool):

Names (vendors and items): `normalise_name`
    NFC; lone surrogates -> U+FFFD; control characters (tab, newline, NUL, ...) -> space; runs of
    whitespace collapse to one space; leading/trailing spaces stripped (QBO trims them anyway, so
    an untrimmed name would never match on lookup); ':' -> '-' (QBO reserves the colon: sub-items
    for Item.Name, refused in Vendor.DisplayName). Longer than the limit (100 for both: Item.Name
    is documented at 100, Vendor.DisplayName at 500 or 100 depending on minor version, so 100 is
    the safe value): cut and end with '~' + 8 hex of sha256 of the whole normalised name, so two
    long names that share a prefix still differ. Empty after all this -> InvalidSourceRecord.
    The rule is idempotent: normalising a normalised name changes nothing.
Lengths: `java_length`, `fit`
    every limit counts characters as QBO does (a Java service counts a character outside the
    BMP, an emoji, as two); the rule for each field is in docs/qbo-limits.md.
Text: `clean_text` (notes, descriptions), `one_line` (addresses, phones, numbers)
    characters XML cannot carry are dropped, CRLF -> LF, longer than 4000 -> cut and end with
    " [truncated]" (the full text stays in Luminous); one-line fields collapse control
    characters and whitespace runs and are cut at their limit with a visible "…". An email or
    a SKU longer than 100 fails the document with the reason (a cut address or SKU is another
    one).
Money: `cents`, `five_places`, `line_amount`, `checked_amount`
    QBO checks every item line: `Amount` must equal `Qty * UnitPrice` to the cent, else fault
    6070; field reports show QBO rounds half-up (1861.075 -> 1861.08). Amounts are "max 15
    digits in 10.5 format". So: UnitPrice and Qty keep up to 5 decimals (more are rounded
    half-up), Amount = (Qty * UnitPrice) rounded half-up to cents, |Amount| >= 10^10 fails the
    document.
Currency: `currency`, `foreign`
    an ISO 4217 code (the frozenset below), upper-cased, else the document fails; omitted (None)
    when it equals the home currency, so a single-currency company never sees CurrencyRef.
DocNumber: `doc_number`
    QBO allows 21 characters; every document must have one the sync can search for.
Vendors, items, addresses: `desired_vendor`, `desired_item`, `address`
    the same mapping for every kind, cached (a backlog's documents share one object each).
The content hash: `content_hash`
    canonical JSON of the desired document (fields marked `hash: False` left out), sha256.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from reconciler.errors import InvalidSourceRecord
from reconciler.model import (
    Address,
    DesiredItem,
    DesiredVendor,
    ItemKind,
    SourceProduct,
    SourceSupplier,
)
from reconciler.qbo.query import is_queryable

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


# --- names and text -----------------------------------------------------------------------


def clean_chars(text: str) -> str:
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


def normalise_name(source_name: str, max_len: int, what: str) -> str:
    text = " ".join(clean_chars(source_name).split()).replace(":", "-")
    if not text:
        raise InvalidSourceRecord(f"{what} name {source_name!r} is empty once normalised")
    if java_length(text) <= max_len:
        return text
    tag = "~" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return _head(text, max_len - len(tag)).rstrip() + tag


def vendor_display_name(source_name: str, *, max_len: int = NAME_MAX) -> str:
    """The Vendor.DisplayName for a supplier name: the one normalisation rule (module docs)."""
    return normalise_name(source_name, max_len, "supplier")


def vendor_display_name_with_suffix(
    source_name: str, suffix: str, *, max_len: int = NAME_MAX
) -> str:
    """The display name with a collision suffix (" (Supplier)"), still within max_len."""
    return vendor_display_name(source_name, max_len=max_len - len(suffix)) + suffix


def item_name(source_name: str) -> str:
    """The Item.Name for a product name: the same rule, 100 characters, colon reserved."""
    return normalise_name(source_name, NAME_MAX, "product")


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


def collapsed(text: str | None) -> str | None:
    """Control characters and whitespace runs collapsed; None when nothing is left."""
    if text is None:
        return None
    return " ".join(clean_chars(text).split()) or None


def one_line(text: str | None, limit: int) -> str | None:
    """A one-line field within `limit`, cut with a visible "…" when it was longer."""
    text = collapsed(text)
    return fit(text, limit, SHORT_MARKER) if text else None


# --- money ----------------------------------------------------------------------------------


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


def checked_amount(amount: Decimal, what: str, doc_id: int) -> Decimal:
    """An amount QBO can hold ("max 15 digits in 10.5 format"), else the document's failure."""
    if abs(amount) >= AMOUNT_LIMIT:
        raise InvalidSourceRecord(
            f"{what} {amount} is too large for QBO (10 digits)", doc_id=doc_id
        )
    return amount


def checked_quantity(value: Decimal, what: str, doc_id: int) -> Decimal:
    """A quantity or unit price: finite, not negative, at most 5 decimals, within QBO's limit."""
    if not value.is_finite() or value < 0:
        raise InvalidSourceRecord(f"{what} {value} is negative or not a number", doc_id=doc_id)
    return checked_amount(five_places(value), what, doc_id)


# --- the DocNumber rule -----------------------------------------------------------------------


@dataclass(frozen=True)
class NumberRules:
    """What configuration decides about DocNumbers (`sync.doc_number_*`), for every kind."""

    too_long: str  # "reject" | "truncate" (keep the last 21 characters)
    missing: str  # "derive" | "fail"


def doc_number(
    number: str | None, rules: NumberRules, *, what: str, derived: str, doc_id: int
) -> tuple[str, bool]:
    """The DocNumber of a document whose own number is `number`, and whether it had to be
    another (cut to QBO's 21 characters, or `derived` because it has none QBO can search for).
    The sync finds its documents in QBO by number: one it could not find again is never
    created (`missing = "fail"`), and a number too long is refused unless `too_long` keeps its
    last 21 characters (a number's distinguishing part is its sequence at the end)."""
    number = collapsed(number)
    changed = False
    if number is not None and java_length(number) > DOC_NUMBER_MAX:
        if rules.too_long != "truncate":
            raise InvalidSourceRecord(
                f"{what} number {number!r} has {java_length(number)} characters; QBO DocNumber "
                "allows "
                f'{DOC_NUMBER_MAX} (set sync.doc_number_too_long = "truncate" to keep the last '
                f"{DOC_NUMBER_MAX})",
                doc_id=doc_id,
            )
        number, changed = last_chars(number, DOC_NUMBER_MAX).lstrip(), True
    if number and is_queryable(number):
        return number, changed
    if rules.missing == "derive":
        return last_chars(derived, DOC_NUMBER_MAX), True
    why = (
        f"{what} has no number"
        if not number
        else (f"{what} number {number!r} has characters QBO cannot search for")
    )
    raise InvalidSourceRecord(
        f"{why}: the sync finds its {what}s in QBO by number and cannot create one it could not "
        f'find again (set sync.doc_number_missing = "derive" to number it "{derived}")',
        doc_id=doc_id,
    )


# --- vendors, items, addresses ------------------------------------------------------------------


# The vendor, item and address mappings are pure and their inputs repeat across a backlog
# (50 suppliers, 300 products for 10,000 POs): cached, the POs waiting in the write pipeline
# share one DesiredVendor, DesiredItem and Address each instead of a copy per PO or line.
MAPPED_CACHE_SIZE = 2048


@functools.lru_cache(maxsize=MAPPED_CACHE_SIZE)
def address(addr: Address | None, name: str | None = None) -> Address | None:
    line1 = one_line(addr.line1, ADDRESS_LINE_MAX) if addr else None
    line2 = one_line(addr.line2, ADDRESS_LINE_MAX) if addr else None
    name = one_line(name, ADDRESS_LINE_MAX)
    if name:
        street = ", ".join(part for part in (line1, line2) if part)
        line1, line2 = name, (fit(street, ADDRESS_LINE_MAX, SHORT_MARKER) or None)
    result = Address(
        line1=line1,
        line2=line2,
        city=one_line(addr.city, CITY_MAX) if addr else None,
        region=one_line(addr.region, CITY_MAX) if addr else None,
        postal_code=one_line(addr.postal_code, POSTAL_CODE_MAX) if addr else None,
        country=one_line(addr.country, CITY_MAX) if addr else None,
    )
    return None if result.is_empty() else result


def email(value: str | None) -> str | None:
    """A plausible address or nothing: QBO refuses a malformed PrimaryEmailAddr outright, and
    one longer than its maximum fails the document (a cut address is another address)."""
    value = collapsed(value)
    if value and java_length(value) > EMAIL_MAX:
        raise InvalidSourceRecord(
            f"supplier email has {java_length(value)} characters; QBO allows {EMAIL_MAX}: "
            "shorten it in Luminous"
        )
    if not value or " " in value:
        return None
    local, at, domain = value.rpartition("@")
    return value if at and local and "." in domain.strip(".") else None


def currency(code: str | None, doc_id: int) -> str | None:
    """An ISO 4217 code, upper-cased; None when absent; InvalidSourceRecord when unknown."""
    if code is None or not code.strip():
        return None
    normal = code.strip().upper()
    if normal not in ISO_4217:
        raise InvalidSourceRecord(
            f"unknown currency {code!r} (not an ISO 4217 code)", doc_id=doc_id
        )
    return normal


def foreign(code: str | None, home_currency: str) -> str | None:
    """The currency a document names in QBO: None for the home currency, so a
    single-currency company never sees CurrencyRef."""
    return None if code is None or code == home_currency.upper() else code


@functools.lru_cache(maxsize=MAPPED_CACHE_SIZE)
def desired_vendor(supplier: SourceSupplier, *, currency: str | None = None) -> DesiredVendor:
    """The vendor a PO needs; `currency` is None for the home currency."""
    display = vendor_display_name(supplier.name)
    return DesiredVendor(
        display_name=display,
        source_name=supplier.name,
        company_name=display,
        email=email(supplier.email),
        phone=one_line(supplier.phone, PHONE_MAX),
        address=address(supplier.address),
        currency=currency,
        account_number=one_line(supplier.account_number, ACCOUNT_NUMBER_MAX),
    )


def desired_item(product: SourceProduct, kind: ItemKind) -> DesiredItem:
    """The item a line of any kind needs for a product (cached: a backlog's lines share one)."""
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


def _check_amount(amount: Decimal, what: str, po_id: int) -> Decimal:
    if abs(amount) >= AMOUNT_LIMIT:
        raise InvalidSourceRecord(f"{what} {amount} is too large for QBO (10 digits)", doc_id=po_id)
    return amount


def item_sku(raw: str | None) -> str | None:
    """Item.Sku: the sync finds items by it, so a SKU longer than QBO's maximum cannot be cut
    (it could become another product's): the document fails with the reason."""
    sku = collapsed(raw)
    if sku and java_length(sku) > SKU_MAX:
        raise InvalidSourceRecord(
            f"product SKU {sku[:30]!r}... has {java_length(sku)} characters; QBO allows "
            f"{SKU_MAX} and the sync finds items by SKU: shorten it in Luminous"
        )
    return sku


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


def content_hash(desired: Any) -> str:
    """32 hex characters, stable across runs and processes (canonical JSON, then sha256)."""
    text = json.dumps(
        _canonical(desired), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
