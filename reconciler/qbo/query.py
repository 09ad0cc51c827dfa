"""QBO query statements, built from parts; the only place a query string is put together.

The QBO query language (`SELECT * | COUNT(*) FROM Entity [WHERE a op v [AND ...]]
[ORDERBY f [ASC|DESC]] [STARTPOSITION n] [MAXRESULTS n]`) has no OR, no parentheses and no
joins, and only some fields may be filtered. String literals are single-quoted; inside one a
quote is written `\\'` and a backslash `\\\\` (an unescaped trailing backslash eats the closing
quote: a 4000 parser fault).

What we found about values QBO's lexer cannot take (public reports, checked with `search`):

- ruckus/quickbooks-ruby#309 and #54: U+2019 (typographic apostrophe) in a value gives
  "QueryParserError: Invalid content. Lexical error ... Encountered: "\\u2019" (8217)".
- intuit/QuickBooks-V3-PHP-SDK#397: the same lexical error for U+2013 (en dash).
- ruckus/quickbooks-ruby#362: the same for U+0142 (Polish "ł", 322);
  WordPress/wordcamp.org#395: Cyrillic and Thai names fail the same way.

Every reported failure is a code point above U+00FF, which matches a JavaCC lexer built without
UNICODE_INPUT (it only matches Latin-1 input). So a value with a code point above U+00FF, or a
control character (C0, DEL, C1), is refused here with `UnqueryableValue`: the caller turns that
into a clear per-PO outcome instead of sending a query that fails, or worse, creating blindly.
Latin-1 letters (é, ü, ñ) are allowed; no report shows them failing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

MAX_RESULTS_LIMIT = 1000

# Fields QBO lets us filter or sort on, per entity (qbo-api.md "Not every field is filterable").
# Id and the MetaData times are filterable on every entity.
_COMMON_FIELDS = frozenset({"Id", "MetaData.CreateTime", "MetaData.LastUpdatedTime"})
# PrimaryEmailAddr and AcctNum are not queryable (4001; quickbooks-ruby #403,
# QuickBooks-V3-DotNET-SDK #163).
FILTERABLE_FIELDS: dict[str, frozenset[str]] = {
    "Vendor": _COMMON_FIELDS | {"DisplayName", "GivenName", "FamilyName", "Active"},
    "Item": _COMMON_FIELDS | {"Name", "Sku", "Type", "Active"},
    "PurchaseOrder": _COMMON_FIELDS | {"DocNumber", "TxnDate"},
    "Account": _COMMON_FIELDS | {"Name", "AccountType", "Active"},
    # Customers and employees share the vendors' name list (6240): a preview asks them.
    "Customer": _COMMON_FIELDS | {"DisplayName", "GivenName", "FamilyName", "Active"},
    "Employee": _COMMON_FIELDS | {"DisplayName", "GivenName", "FamilyName", "Active"},
    # qbo-api.md "Classes and locations" and "Non-US companies"
    "Class": _COMMON_FIELDS | {"Name", "FullyQualifiedName", "Active"},
    "Department": _COMMON_FIELDS | {"Name", "FullyQualifiedName", "Active"},
    "TaxCode": _COMMON_FIELDS | {"Name", "Active"},
    "TaxRate": _COMMON_FIELDS | {"Name", "Active"},
    "Preferences": _COMMON_FIELDS,
    # Intuit's Bill reference marks these filterable.
    "Bill": _COMMON_FIELDS
    | {"DocNumber", "TxnDate", "DueDate", "VendorRef", "TotalAmt", "Balance"},
    # Intuit's references mark none for these two; the sync asks them only by number and Id.
    "VendorCredit": _COMMON_FIELDS | {"DocNumber", "TxnDate", "VendorRef", "TotalAmt"},
    "BillPayment": _COMMON_FIELDS | {"DocNumber", "TxnDate", "VendorRef", "TotalAmt"},
}


class UnqueryableValue(ValueError):
    """A value QBO's query lexer cannot take; the record needs a human, not a retry."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(f"value cannot be used in a QBO query: {reason}")
        self.value = value
        self.reason = reason


class InvalidQuery(ValueError):
    """A query we would build wrongly (unknown entity or field, bad paging): a programming error."""


def _refusal(value: str) -> str | None:
    for position, char in enumerate(value):
        point = ord(char)
        if point < 0x20 or 0x7F <= point <= 0x9F:
            return f"control character U+{point:04X} at position {position}"
        if point > 0xFF:
            return (
                f"character U+{point:04X} ({char!r}) at position {position} is outside "
                "Latin-1, which QBO's query lexer rejects"
            )
    return None


def quote(value: str) -> str:
    """A QBO string literal: single-quoted, with backslash and quote escaped."""
    if not isinstance(value, str):
        raise TypeError(f"quote() takes a str, not {type(value).__name__}")
    reason = _refusal(value)
    if reason is not None:
        raise UnqueryableValue(value, reason)
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def is_queryable(value: str) -> bool:
    """True when `quote(value)` would succeed."""
    return _refusal(value) is None


def queryable_prefix_pattern(value: str, *, min_length: int = 3) -> str | None:
    """A LIKE pattern (`prefix%`) for a value `quote` refuses, or None if too little is left.

    QBO stores names it cannot query (e.g. "Smith’s Ltd"); to find one, query by the part
    before the first refused character and compare the full names yourself. A `%` in the
    prefix only widens the match, which the exact comparison then narrows.
    """
    for position, char in enumerate(value):
        if _refusal(char) is not None:
            prefix = value[:position]
            break
    else:
        return value + "%"
    return prefix + "%" if len(prefix.strip()) >= min_length else None


Scalar = str | bool | int | Decimal | date | datetime


def literal(value: Scalar) -> str:
    """One value as the query language writes it."""
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidQuery(f"not a finite number: {value}")
        return format(value, "f")
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidQuery("datetimes in queries must be timezone-aware")
        return quote(value.isoformat(timespec="seconds"))
    if isinstance(value, date):
        return quote(value.isoformat())
    if isinstance(value, str):
        return quote(value)
    raise InvalidQuery(f"cannot write a {type(value).__name__} in a query")


_SINGLE_VALUE_OPS = frozenset({"=", "<", ">", "<=", ">=", "LIKE"})


@dataclass(frozen=True)
class Cond:
    """One `field op value` condition; conditions are joined with AND."""

    field: str
    op: str
    value: Scalar | tuple[Scalar, ...]

    def render(self) -> str:
        if isinstance(self.value, tuple):
            if self.op != "IN":
                raise InvalidQuery(f"{self.op} takes one value, not a tuple")
            return f"{self.field} IN ({', '.join(literal(v) for v in self.value)})"
        if self.op not in _SINGLE_VALUE_OPS:
            raise InvalidQuery(f"unknown operator {self.op!r}")
        return f"{self.field} {self.op} {literal(self.value)}"


def eq(field: str, value: Scalar) -> Cond:
    return Cond(field, "=", value)


def lt(field: str, value: Scalar) -> Cond:
    return Cond(field, "<", value)


def gt(field: str, value: Scalar) -> Cond:
    return Cond(field, ">", value)


def le(field: str, value: Scalar) -> Cond:
    return Cond(field, "<=", value)


def ge(field: str, value: Scalar) -> Cond:
    return Cond(field, ">=", value)


def in_(field: str, values: Sequence[Scalar]) -> Cond:
    values = tuple(values)
    if not values:
        raise InvalidQuery(f"IN on {field} needs at least one value")
    return Cond(field, "IN", values)


def like(field: str, pattern: str) -> Cond:
    """LIKE with `%` as the only wildcard (QBO has no `_`)."""
    return Cond(field, "LIKE", pattern)


def _check_field(entity: str, field: str) -> None:
    allowed = FILTERABLE_FIELDS.get(entity)
    if allowed is None:
        raise InvalidQuery(
            f"unknown entity {entity!r}; known: {', '.join(sorted(FILTERABLE_FIELDS))}"
        )
    if field not in allowed:
        raise InvalidQuery(f"{entity}.{field} is not filterable in QBO")


def select(
    entity: str,
    where: Sequence[Cond] = (),
    *,
    order_by: str | tuple[str, str] | None = None,
    start: int = 1,
    max_results: int = MAX_RESULTS_LIMIT,
    count: bool = False,
    fields: Sequence[str] = (),
) -> str:
    """A complete statement; `order_by` is a field or `(field, "ASC"|"DESC")`; `fields` asks
    for those properties only (a smaller answer; QBO answers with them and the Id)."""
    for cond in where:
        _check_field(entity, cond.field)
    if entity not in FILTERABLE_FIELDS:
        _check_field(entity, "Id")
    for name in fields:
        if not name.replace(".", "").isalnum():
            raise InvalidQuery(f"not a property name: {name!r}")
    what = "COUNT(*)" if count else (", ".join(fields) if fields else "*")
    # entity and fields come from the allow-list; values only through literal()/quote()
    parts = [f"SELECT {what} FROM {entity}"]  # noqa: S608
    if where:
        parts.append("WHERE " + " AND ".join(cond.render() for cond in where))
    if count:
        return " ".join(parts)
    if order_by is not None:
        field, direction = (order_by, "ASC") if isinstance(order_by, str) else order_by
        _check_field(entity, field)
        if direction.upper() not in ("ASC", "DESC"):
            raise InvalidQuery(f"ORDERBY direction must be ASC or DESC, not {direction!r}")
        parts.append(f"ORDERBY {field} {direction.upper()}")
    if not isinstance(start, int) or start < 1:
        raise InvalidQuery(f"STARTPOSITION is 1-based, got {start!r}")
    if not isinstance(max_results, int) or not 1 <= max_results <= MAX_RESULTS_LIMIT:
        raise InvalidQuery(f"MAXRESULTS must be 1..{MAX_RESULTS_LIMIT}, got {max_results!r}")
    parts.append(f"STARTPOSITION {start} MAXRESULTS {max_results}")
    return " ".join(parts)


# Intuit documents no limit on the length of a query statement or of an `IN` list (searched:
# developer.intuit.com "Data queries", Intuit blog "Supercharge your queries"); we keep each
# statement short anyway (at most 100 values and about 3,000 characters of values), so one
# odd limit cannot fail a whole pass.
IN_MAX_VALUES = 100
IN_MAX_CHARS = 3000


def in_chunks(
    values: Iterable[str], *, max_values: int = IN_MAX_VALUES, max_chars: int = IN_MAX_CHARS
) -> list[list[str]]:
    """Split values into lists for `IN (...)`: each at most `max_values` values and, roughly,
    `max_chars` characters once quoted (one value longer than that gets a list of its own)."""
    if max_values < 1 or max_chars < 1:
        raise ValueError("chunk limits must be positive")
    chunks: list[list[str]] = []
    current: list[str] = []
    size = 0
    for value in values:
        cost = len(value) + 4  # quotes, comma, space (escapes are rare and small)
        if current and (len(current) >= max_values or size + cost > max_chars):
            chunks.append(current)
            current, size = [], 0
        current.append(value)
        size += cost
    if current:
        chunks.append(current)
    return chunks
