"""Small pieces the Luminous emulator's bills, receiving reports and shipments share: money and
quantity arithmetic, the two error kinds a control can raise, and per-kind id counters.

Money arrives as JSON numbers or decimal strings (luminous-api.md), so the emulator serves some
of each: `money_style` "strings", "numbers", or "mixed" (records with an odd id get strings,
even ids get numbers). Computed amounts are rounded half-up to cents (assumed)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

_PLAIN_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
CENT = Decimal("0.01")
ZERO = Decimal(0)
MONEY_STYLES = ("mixed", "strings", "numbers")


class LuminousInvalid(ValueError):
    """A control or request named something that does not exist or is malformed (HTTP 422)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.errors = {field: [problem]}


class LuminousConflict(Exception):
    """An action that the record's status does not allow, e.g. posting a void bill (HTTP 409)."""


def to_decimal(value: Any) -> Decimal:
    """A stored number or decimal string as an exact Decimal; junk and None count as zero."""
    if value is None or isinstance(value, bool):
        return ZERO
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        return ZERO


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def render_money(value: Decimal, style: str, record_id: int) -> str | float:
    """A computed amount as a decimal string or a JSON number, by `style` (see module doc)."""
    amount = cents(value)
    if style == "numbers" or (style == "mixed" and record_id % 2 == 0):
        return float(amount)  # shortest repr: 209.95 stays 209.95 on the wire
    return str(amount)


def as_number(value: Any) -> Any:
    """A stored amount or quantity as a JSON number, as the reference shows them (`12.5`,
    `123`): a decimal string or a Decimal becomes an int when whole, else a float (its
    shortest repr is the decimal text, up to 15 significant digits). Anything else (None,
    junk, a value stored raw by a hostile-data test, more digits than a float keeps) is served
    as it is."""
    if isinstance(value, bool) or not isinstance(value, str | Decimal):
        return value
    text = str(value).strip()
    if not _PLAIN_DECIMAL.match(text):
        return value
    number = Decimal(text)
    if len(number.normalize().as_tuple().digits) > 15:
        return value
    return int(number) if number == number.to_integral_value() else float(number)


def quantity_text(value: Decimal) -> str:
    """A quantity without trailing zeros: 10, 12.5."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


class IdCounters:
    """One increasing id sequence per record kind; an explicit id moves the sequence past it."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def take(self, kind: str, wanted: Any = None) -> int:
        value = int(wanted) if wanted else self._next.get(kind, 1)
        self._next[kind] = max(self._next.get(kind, 1), value + 1)
        return value


class LuminousNotFound(KeyError):
    """No record with that id (HTTP 404); a KeyError, like an unknown PO id in `edit_po`."""


def guarded(action: Callable[[], tuple[int, Any] | None]) -> tuple[int, Any] | None:
    """Run a route or control and turn the emulator's error kinds into HTTP answers."""
    try:
        return action()
    except LuminousNotFound as exc:
        return 404, {"message": f"{exc.args[0] if exc.args else 'Record'} not found."}
    except LuminousInvalid as exc:
        return 422, {"message": "The given data was invalid.", "errors": exc.errors}
    except LuminousConflict as exc:
        return 409, {"message": str(exc)}


def find_po_line(pos: dict[int, dict[str, Any]], po_id: Any, item_id: Any) -> dict[str, Any]:
    """The stored PO line `item_id` of PO `po_id`, or LuminousInvalid naming what is missing."""
    po = pos.get(po_id) if isinstance(po_id, int) else None
    if po is None:
        raise LuminousInvalid("purchase_order_id", f"no purchase order {po_id!r}")
    for item in po.get("items") or []:
        if item.get("id") == item_id:
            return item
    raise LuminousInvalid("purchase_order_item_id", f"no line {item_id!r} on PO {po_id}")


def by_id(table: dict[int, dict[str, Any]], ident: Any) -> dict[str, Any] | None:
    """A record by an id as a client sent it: stored ids are ints, so any other type (a
    string, a raw list or dict) finds nothing."""
    return table.get(ident) if isinstance(ident, int) else None


def parse_id(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def stamp_or(now: datetime, wanted: datetime | None) -> datetime:
    """The instant a change is stamped with: `wanted` (tests backdate, tie) or the server clock
    (the books call `LuminousEmulator.stamp`, which also keeps stamps to whole seconds)."""
    return wanted.astimezone(UTC) if wanted is not None else now


def id_order(value: Any) -> tuple[bool, Any]:
    """Sort key for ids: integers numerically (2 before 10), anything else after, as text."""
    return (False, value) if isinstance(value, int) else (True, str(value))


class DocumentBook:
    """One kind of document the emulator keeps (bills, receiving reports, vendor credits): its
    records by id, and one read rendered as the API serves it. Methods run under the
    emulator's lock."""

    noun = "Document"  # as a 404 names it

    def __init__(self, emu: Any) -> None:
        self.emu = emu
        self.records: dict[int, dict[str, Any]] = {}
        self._ids = IdCounters()

    def get(self, doc_id: int) -> dict[str, Any]:
        with self.emu._lock:
            return self.render(self._record(doc_id))

    def render(self, record: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _record(self, doc_id: int) -> dict[str, Any]:
        if doc_id not in self.records:
            raise LuminousNotFound(self.noun)
        return self.records[doc_id]
