"""Pure: read back the statements `qbo.query` writes, to answer them from rows held locally.

A preview answers writes itself (`preview.qbo`), so QBO never holds what the preview "created";
a later look-up in the same pass (a second PO under the same number, a vendor looked up again
after a 6240) must still see it, as it would in the real pass. This parses the subset of the
query language `qbo.query.select` produces (`SELECT … FROM E [WHERE f op v [AND …]] [ORDERBY …]
[STARTPOSITION n MAXRESULTS m]`) and says whether a row matches, comparing text without regard
to case, as QBO does. A condition it cannot judge (`<`, `>`) makes `matches` answer False: such
a row is left out rather than guessed in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"\s*(?:'((?:\\.|[^'\\])*)'|(\(|\)|,|<=|>=|=|<|>)|([^\s(),=<>']+))")
_KEYWORDS = ("ORDERBY", "STARTPOSITION", "MAXRESULTS")


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Statement:
    entity: str
    count: bool
    full_rows: bool  # SELECT * (not a field list)
    conditions: tuple[Condition, ...]
    start: int


def parse(text: str) -> Statement | None:
    """The statement's parts, or None when it is not one `qbo.query.select` writes."""
    tokens = _tokens(text)
    if tokens is None or len(tokens) < 4 or str(tokens[0]).upper() != "SELECT":
        return None
    upper = [t.upper() if isinstance(t, str) else t for t in tokens]
    if "FROM" not in upper:
        return None
    at = upper.index("FROM")
    what, entity = tokens[1:at], tokens[at + 1] if at + 1 < len(tokens) else None
    if not isinstance(entity, str):
        return None
    rest = tokens[at + 2 :]
    conditions: list[Condition] = []
    if rest and str(rest[0]).upper() == "WHERE":
        rest = rest[1:]
        while rest and str(rest[0]).upper() not in _KEYWORDS:
            parsed = _condition(rest)
            if parsed is None:
                return None
            condition, rest = parsed
            conditions.append(condition)
            if rest and str(rest[0]).upper() == "AND":
                rest = rest[1:]
    start = 1
    for index, token in enumerate(rest[:-1]):
        if str(token).upper() == "STARTPOSITION" and str(rest[index + 1]).isdigit():
            start = int(rest[index + 1])
    count = [str(w).upper() for w in what] == ["COUNT", "(", "*", ")"]
    return Statement(entity, count, what == ["*"], tuple(conditions), start)


def matches(statement: Statement, row: Mapping[str, Any]) -> bool:
    """Whether QBO would return `row` for `statement` (every condition holds)."""
    return all(_holds(c, row) for c in statement.conditions)


def _holds(condition: Condition, row: Mapping[str, Any]) -> bool:
    value: Any = row
    for part in condition.field.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if condition.field == "Active" and value is None:
        value = True  # QBO rows are active unless they say otherwise
    if condition.op in ("=", "IN"):
        return any(same_text(value, wanted) for wanted in condition.values)
    if condition.op == "LIKE":
        pattern = str(condition.values[0]).casefold()
        text = str(value or "").casefold()
        parts = pattern.split("%")
        regex = ".*".join(re.escape(p) for p in parts)
        return re.fullmatch(regex, text) is not None
    return False


def same_text(value: Any, wanted: Any) -> bool:
    """QBO's comparison: case and runs of whitespace do not count."""
    if isinstance(wanted, bool):
        return value is wanted or str(value).lower() == str(wanted).lower()
    if value is None:
        return False
    return " ".join(str(value).split()).casefold() == " ".join(str(wanted).split()).casefold()


def _condition(tokens: list[Any]) -> tuple[Condition, list[Any]] | None:
    if len(tokens) < 3 or not isinstance(tokens[0], str):
        return None
    field, op = tokens[0], str(tokens[1]).upper()
    if op == "IN":
        if tokens[2] != "(":
            return None
        values: list[Any] = []
        index = 3
        while index < len(tokens) and tokens[index] != ")":
            if tokens[index] != ",":
                values.append(_value(tokens[index]))
            index += 1
        if index >= len(tokens):
            return None
        return Condition(field, "IN", tuple(values)), tokens[index + 1 :]
    if op not in ("=", "<", ">", "<=", ">=", "LIKE"):
        return None
    return Condition(field, op, (_value(tokens[2]),)), tokens[3:]


class _Quoted(str):
    """A string literal (never a keyword or a bool)."""


def _value(token: Any) -> Any:
    if isinstance(token, _Quoted):
        return str(token)
    lowered = str(token).lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return str(token)


def _tokens(text: str) -> list[Any] | None:
    found: list[Any] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            return None
        quoted, punct, word = match.groups()
        if quoted is not None:
            found.append(_Quoted(re.sub(r"\\(.)", r"\1", quoted)))
        else:
            found.append(punct if punct is not None else word)
        position = match.end()
    return found
