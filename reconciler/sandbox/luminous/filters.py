"""Filters, sort and paging for every list the Luminous emulator serves, and how strict the
server is about them.

From Luminous's reference (luminous-api.md, "Transport"): filters are `field[op]=value` with ops
eq neq gt gte lt lte contains notcontains in notin set notset (`field=value` means eq; `in`
takes a comma list); `sort=field:asc`; `page` from 1 and `per_page` (default 10, "max 100",
"Required range: x <= 100"): more is refused with 422, as a validated request is.

What the reference leaves open is a switch (`FilterRules`), so tests can meet each way a real
server may answer:

- `id_filter`: `id` is not among the PO list's documented filter fields, so an `id[...]`
  filter is "honour"ed, "refuse"d with 422 or "ignore"d;
- `timestamp_filters`, on `*_at` fields: "any" ISO-8601 form is compared as an instant (a date
  is its midnight); "strict" takes only the documented forms, `YYYY-MM-DD` (the filters page)
  and `YYYY-MM-DD HH:MM:SS` (the PO page's `created_at[gte]=2024-10-25 00:00:00`), and refuses
  any other (a `T`, a fraction, a `Z`, an offset) with 422; "dates" takes only `YYYY-MM-DD`
  (422 for a time of day) and compares dates; "date_only" takes any form and compares dates
  alone; "ignore" lets such filters have no effect;
- `honour_filters` / `honour_sort`: False ignores every filter / the sort.

Every comparison uses one order (`order.rank`), the one `sort` sorts by.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from reconciler.sandbox.luminous.common import LuminousInvalid
from reconciler.sandbox.luminous.order import instant, parse_timestamp, rank

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 10
FILTER_RE = re.compile(r"^([A-Za-z0-9_.]+)\[([a-z]+)\]$")
SHORTHAND_RE = re.compile(r"^[A-Za-z0-9_.]+$")  # field=value means field[eq]=value
NOT_FILTERS = frozenset({"page", "per_page", "sort"})
COMPARISONS = ("eq", "neq", "gt", "gte", "lt", "lte", "contains", "notcontains")
FILTER_OPS = frozenset((*COMPARISONS, "in", "notin", "set", "notset"))
DOCUMENTED_FORM = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$")
DATE_FORM = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ID_FILTERS = ("honour", "refuse", "ignore")
TIMESTAMP_FILTERS = ("any", "strict", "dates", "date_only", "ignore")

Row = dict[str, Any]
Read = Callable[[Row, str], Any]


@dataclass(frozen=True)
class FilterRules:
    """How this server takes filters and sort (the module docs)."""

    honour_filters: bool = True
    honour_sort: bool = True
    id_filter: str = "honour"
    timestamp_filters: str = "any"

    def __post_init__(self) -> None:
        if self.id_filter not in ID_FILTERS:
            raise ValueError(f"id_filter must be one of {ID_FILTERS}")
        if self.timestamp_filters not in TIMESTAMP_FILTERS:
            raise ValueError(f"timestamp_filters must be one of {TIMESTAMP_FILTERS}")

    def test_for(self, field: str, op: str, text: str) -> Callable[[Any], bool] | None:
        """The test a row's value must pass; None: the server ignores this filter;
        LuminousInvalid (422): it refuses it."""
        if field == "id" and self.id_filter != "honour":
            if self.id_filter == "refuse":
                raise LuminousInvalid(field, "The id filter is not supported.")
            return None
        if not field.endswith("_at") or op in ("set", "notset"):
            return predicate(op, text)
        if self.timestamp_filters == "ignore":
            return None
        values = text.split(",") if op in ("in", "notin") else [text]
        mode = self.timestamp_filters
        if mode == "strict" and not all(DOCUMENTED_FORM.match(v) for v in values):
            raise LuminousInvalid(field, f"The {field} does not match the format Y-m-d H:i:s.")
        if mode == "dates" and not all(DATE_FORM.match(v) for v in values):
            raise LuminousInvalid(field, f"The {field} does not match the format Y-m-d.")
        if mode in ("dates", "date_only"):
            by_day = predicate(op, ",".join(v.strip()[:10] for v in values))
            return lambda value: by_day(_day_of(value))
        return predicate(op, text)


def filter_sort(
    rows: list[Row],
    query: list[tuple[str, str]],
    params: dict[str, str],
    read: Read,
    rules: FilterRules,
) -> list[Row]:
    """The rows that pass the filters, in the order asked (ties by id ascending)."""
    if rules.honour_filters:
        for name, value in query:
            match = FILTER_RE.match(name)
            if match and match.group(2) in FILTER_OPS:
                field_name, op = match.groups()
            elif SHORTHAND_RE.match(name) and name not in NOT_FILTERS:
                field_name, op = name, "eq"
            else:
                continue
            test = rules.test_for(field_name, op, value)
            if test is not None:
                rows = [r for r in rows if test(read(r, field_name))]
    rows.sort(key=lambda r: rank(r.get("id") or 0))  # one order: `order.rank`
    if rules.honour_sort and params.get("sort"):
        for spec in reversed(params["sort"].split(",")):
            field_name, _, direction = spec.partition(":")
            descending = direction.strip().lower() == "desc"
            rows.sort(key=lambda r, f=field_name: rank(read(r, f)), reverse=descending)
    return rows


def page(rows: list[Row], params: dict[str, str]) -> dict[str, Any]:
    """One page in `{data, meta}`; a `per_page` over the documented 100 is refused."""
    try:
        per_page = int(params.get("per_page", DEFAULT_PER_PAGE))
    except ValueError:
        raise LuminousInvalid("per_page", "The per page field must be an integer.") from None
    if per_page > MAX_PER_PAGE:
        raise LuminousInvalid(
            "per_page", f"The per page field must not be greater than {MAX_PER_PAGE}."
        )
    per_page = max(1, per_page)
    try:
        number = max(1, int(params.get("page", 1)))
    except ValueError:
        number = 1
    total = len(rows)
    start = (number - 1) * per_page
    chunk = rows[start : start + per_page]
    return {
        "data": chunk,
        "meta": {
            "current_page": number,
            "last_page": max(1, -(-total // per_page)),
            "per_page": per_page,
            "total": total,
            "from": start + 1 if chunk else None,
            "to": start + len(chunk) if chunk else None,
        },
    }


def lookup(row: Row, dotted: str) -> Any:
    value: Any = row
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _day_of(value: Any) -> Any:
    """A stored stamp as its date (what a server that compares dates only sees)."""
    at = instant(value)
    return at.date().isoformat() if at is not None else value


class _Operand:
    """A query value, parsed once into each type it may be compared as."""

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            self.instant: datetime | None = parse_timestamp(text)
        except ValueError:
            self.instant = None
        try:
            self.number: Decimal | None = Decimal(text)
        except InvalidOperation:
            self.number = None
        self.rank = rank(text)

    def pair(self, value: Any) -> tuple[Any, Any] | None:
        if isinstance(value, datetime):
            return (value, self.instant) if self.instant is not None else None
        if isinstance(value, bool) or value is None:
            return str(value).lower(), self.text.lower()
        if isinstance(value, int | float | Decimal):
            if self.number is None:
                return str(value), self.text
            return Decimal(str(value)), self.number
        if isinstance(value, str) and self.number is not None:
            try:
                return Decimal(value), self.number
            except InvalidOperation:
                return value, self.text
        return str(value), self.text


def predicate(op: str, text: str) -> Callable[[Any], bool]:
    """Compile `field[op]=text` into a test on the field's value."""
    if op == "set":
        return lambda v: v not in (None, "", [])
    if op == "notset":
        return lambda v: v in (None, "", [])
    if op in ("in", "notin"):
        tests = [predicate("eq", option) for option in text.split(",")]
        if op == "in":
            return lambda v: any(t(v) for t in tests)
        return lambda v: not any(t(v) for t in tests)
    operand = _Operand(text)
    negated = op in ("neq", "notcontains")
    positive = {"neq": "eq", "notcontains": "contains"}.get(op, op)
    return _general_predicate(operand, positive, negated)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _general_predicate(operand: _Operand, positive: str, negated: bool) -> Callable[[Any], bool]:
    """Compare any stored value with the operand, converting both to a common type."""

    def scalar(value: Any) -> bool:
        if value is None:
            return False
        if positive != "contains":  # in the order `sort` sorts by (`order.rank`)
            compare = _COMPARE.get(positive)
            return compare is not None and compare(rank(value), operand.rank)
        pair = operand.pair(value)
        if pair is None:
            return False
        left, right = pair
        return str(right).lower() in str(left).lower()

    def test(value: Any) -> bool:
        # a list matches by its entries (order_numbers); compared by order it is one value
        entrywise = isinstance(value, list) and positive in ("eq", "contains")
        hit = any(scalar(v) for v in value) if entrywise else scalar(value)
        return not hit if negated else hit

    return test
