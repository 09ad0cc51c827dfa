"""Pure: how one field of a Luminous record is read, for every document kind alike.

Each reader takes the raw JSON value and where it was (`items[3].quantity`, for the reason)
and returns a plain Python value, or raises `UnreadableField` with the reason; the parser of a
kind attaches the document's id (`errors.InvalidSourceRecord`). The rules:

- money comes as JSON numbers (read by the client with `parse_float=Decimal`), ints or decimal
  strings; a Python float is taken through `repr` (shortest round trip), never through binary
  arithmetic. NaN, infinities, booleans and unparsable text are refused, and so is any number
  of `MAX_MAGNITUDE` or more or with more than `MAX_DIGITS` digits: bounded here, before any
  Decimal arithmetic (a quantize of 1e30 to cents raises, it does not round);
- ids are whole numbers from 1 to 2**63 - 1 (the ledger's SQLite integers);
- timestamps are ISO-8601 (`Z`, offsets, or a space instead of `T`); a naive timestamp is taken
  as UTC; one that cannot be a UTC instant (year 1 with a positive offset, year 9999 with a
  negative one) is refused like malformed text. Dates are `YYYY-MM-DD` (a timestamp in a date
  field keeps its date part);
- text is a string, or a number written as text; blank is absent;
- an approval state (`approval`) is a word compared without case, spaces or hyphens
  ("Pending Approval" is `pending_approval`), or a boolean or a number as its text.

`read_or_reject` makes any record the unit of failure: what a parser refuses, or even an error
nobody foresaw, becomes that record's `RejectedRecord`, never a crash of the pass.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from reconciler.errors import InvalidSourceRecord
from reconciler.model import DocKind, RejectedRecord

MAX_MAGNITUDE = Decimal(10) ** 12  # far beyond any document amount; QBO stops at 10**10
MAX_DIGITS = 24
MAX_ID = 2**63 - 1
REASON_MAX = 300

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")
Parsed = TypeVar("Parsed")


class UnreadableField(Exception):
    """A field that cannot be read, with the reason; the parser adds the document's id."""


def whole_id(value: Any) -> int | None:
    """An id as the ledger can key it: a whole number 1..2**63-1 (int or digits), else None."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    if isinstance(value, str) and not value.strip().isdecimal():  # "²" is a digit, no number
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ID else None


def document_id(raw: Mapping[str, Any], name: str) -> int:
    """The record's own id (`name` is its field), or the refusal of the whole record."""
    value = raw.get(name)
    doc_id = whole_id(value)
    if doc_id is None:
        raise InvalidSourceRecord(f"missing or bad id: {value!r:.60}")
    return doc_id


def optional_id(value: Any, where: str) -> int | None:
    if value is None:
        return None
    number = whole_id(value)
    if number is None:
        raise UnreadableField(f"bad id in {where}: {value!r:.40}")
    return number


def money(value: Any, where: str, *, default: Decimal | None = None) -> Decimal | None:
    """A number (money, a quantity, a rate), or `default` when absent."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool):
        raise UnreadableField(f"bad number in {where}: {value!r}")
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
            raise UnreadableField(f"bad number in {where}: {value!r}") from None
    else:
        raise UnreadableField(f"bad number in {where}: {value!r}")
    if not number.is_finite():
        raise UnreadableField(f"bad number in {where}: {value!r:.40}")
    if abs(number) >= MAX_MAGNITUDE or len(number.as_tuple().digits) > MAX_DIGITS:
        raise UnreadableField(f"number in {where} is too large or too long: {value!r:.40}")
    return number


def required_money(value: Any, where: str) -> Decimal:
    number = money(value, where)
    if number is None:
        raise UnreadableField(f"missing number in {where}")
    return number


def amount(value: Any, where: str) -> Decimal:
    """A number that is zero when absent (a tax, a discount, a shipping cost)."""
    return money(value, where) or Decimal(0)


def timestamp(value: Any, where: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise UnreadableField(f"bad timestamp in {where}: {value!r}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UnreadableField(f"bad timestamp in {where}: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise UnreadableField(f"bad timestamp in {where}: {value!r} is not a UTC instant") from None


def required_timestamp(value: Any, where: str) -> datetime:
    stamp = timestamp(value, where)
    if stamp is None:
        raise UnreadableField(f"missing {where}")
    return stamp


def parse_timestamp(value: Any) -> datetime:
    """A Luminous timestamp as an aware UTC datetime; ValueError when it is not one."""
    try:
        return required_timestamp(value, "timestamp")
    except UnreadableField as bad:
        raise ValueError(str(bad)) from None


def day(value: Any, where: str) -> date | None:
    """A calendar date (`YYYY-MM-DD`; a timestamp keeps its date part)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _DATE_RE.match(value.strip()):
        raise UnreadableField(f"bad date in {where}: {value!r}")
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise UnreadableField(f"bad date in {where}: {value!r}") from None


def text(value: Any, where: str, *, strip: bool = True) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise UnreadableField(f"bad text in {where}: {value!r}")
    found = str(value)
    if strip:
        found = found.strip()
    return found or None


def approval_word(text: str) -> str:
    """An approval state as the sync compares it: lower case, runs of spaces, hyphens and
    underscores as one underscore ("Pending Approval" -> "pending_approval")."""
    return re.sub(r"[\s\-_]+", "_", text.strip().lower())


def approval(value: Any, where: str) -> str | None:
    """An approval state (`approval_word`); a boolean reads "true"/"false", a number its
    text; None when absent or blank."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str | Decimal):
        return approval_word(str(value))
    raise UnreadableField(f"bad {where}: {value!r:.60}")


def list_of(value: Any, where: str) -> list[Any]:
    """A JSON array (absent: empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise UnreadableField(f"{where} is not a list: {type(value).__name__}")
    return value


def read_document(
    raw: Mapping[str, Any], id_field: str, read: Callable[[Mapping[str, Any], int], Parsed]
) -> Parsed:
    """`read(raw, id)` for one document whose id could be read: a field it cannot read
    becomes `InvalidSourceRecord` naming that id, so the record fails alone."""
    doc_id = document_id(raw, id_field)
    try:
        return read(raw, doc_id)
    except UnreadableField as bad:
        raise InvalidSourceRecord(str(bad), doc_id=doc_id) from None


def read_or_reject(
    raw: Any,
    parse: Callable[[Mapping[str, Any]], Parsed],
    salvage: Callable[[Mapping[str, Any], str], RejectedRecord],
    kind: DocKind,
) -> Parsed | RejectedRecord:
    """`parse(raw)`, or the record's `RejectedRecord` with whatever identity `salvage` can
    still read (none, if even that breaks: the record fails alone all the same)."""
    try:
        if not isinstance(raw, Mapping):
            raise InvalidSourceRecord(f"record is not an object: {type(raw).__name__}")
        return parse(raw)
    except InvalidSourceRecord as exc:
        reason = exc.message
    except Exception as exc:  # a bug meeting odd data: the record fails, the pass goes on
        reason = f"cannot read this record ({type(exc).__name__}: {exc})"[:REASON_MAX]
    if isinstance(raw, Mapping):
        with contextlib.suppress(Exception):  # best effort: the refusal stands without it
            return salvage(raw, reason)
    return RejectedRecord(doc_id=None, updated_at=None, reason=reason, kind=kind)


def stamp_or_none(value: Any) -> datetime | None:
    """A salvaged record's `updated_at`, when it can still be read."""
    try:
        return timestamp(value, "updated_at")
    except UnreadableField:
        return None
