"""One order for every list the Luminous emulator serves: `sort` sorts by the order that the
`[eq]`, `[gt]`, `[gte]`, `[lt]`, `[lte]` filters compare in, whatever type a value is stored
as (values stored raw by hostile-data tests included).

A real server keeps one order per column. An emulator that filtered a text id as a number
but sorted it as text (or filtered a timestamp in another offset as text) would hide that
record from a client that pages by key, a fault no real server has; the daemon could then be
blamed for a record it was never shown. The order:

    None < numbers (ints, decimals, floats, infinities, text that reads as one)
         < instants (datetimes, dates, text that parses as an ISO-8601 instant, any offset)
         < anything else, by its text (NaN, words, booleans, lists, objects)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO-8601 instant; naive means UTC."""
    parsed = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def number(value: Any) -> Decimal | None:
    """The number a stored value is (not NaN, not a boolean), else None."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, float):
            found = Decimal(repr(value))
        elif isinstance(value, int | Decimal):
            found = Decimal(value)
        elif isinstance(value, str):
            found = Decimal(value.strip())
        else:
            return None
    except (InvalidOperation, ValueError):
        return None
    return None if found.is_nan() else found


def instant(value: Any) -> datetime | None:
    """The instant a stored value names, else None (text that is no UTC instant included)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC)
    if isinstance(value, str):
        try:
            return parse_timestamp(value)
        except (ValueError, OverflowError):
            return None
    return None


def rank(value: Any) -> tuple[Any, ...]:
    """The sort key of a stored value, and what filters compare (see the module doc)."""
    if value is None:
        return (0,)
    found = number(value)
    if found is not None:
        return (1, found)
    at = instant(value)
    if at is not None:
        return (2, at)
    return (3, str(value).lower() if isinstance(value, bool) else str(value))
