"""The QBO query language subset, for the emulator: tokenizer, parser and evaluator.

Grammar (keywords case-insensitive, as QBO's parser takes them)::

    SELECT (* | COUNT(*) | field[, field...]) FROM Entity
      [WHERE cond [AND cond]...] [ORDERBY field [ASC|DESC][, ...]]
      [STARTPOSITION n] [MAXRESULTS n]
    cond := field (= | < | > | <= | >= ) value | field IN (value, ...) | field LIKE 'text'

Strings are single-quoted; inside one a backslash escapes the next character, so a trailing
backslash eats the closing quote and the query ends inside a string: a lexical error, exactly the
bug client libraries keep shipping. `OR`, parentheses around conditions and double quotes are not
part of the language and give the parser fault.

Errors raise `QueryError(code, message, detail)`: 4000 "Error parsing query" with a JavaCC-style
"QueryParserError: ..." detail (the wording seen in QBO answers quoted in node-quickbooks #56 and
quickbooks-node-promise #1), or 4001 "Invalid query" with "QueryValidationError: ..." for an
unknown entity, a property that is not filterable ("property 'X' is not queryable", the XML
answer quoted in quickbooks-ruby #403) or MAXRESULTS above 1000 ("value 1500 is too large. Max
allowed value is 1000", quickbooks-ruby #24): refused, never capped.

A field list (`SELECT Id, DocNumber FROM PurchaseOrder`) parses. Intuit's data-queries page and
its 2014 "Advanced SQL Queries" blog say projections are not supported and every property comes
back, yet public clients routinely send `SELECT Id, SyncToken FROM ...` and read those fields:
QBO takes the syntax. What it leaves out is not documented, so `project` answers only the named
top-level fields (and Id): the strict case, where a client that reads a field it did not select
finds nothing.
"""

from __future__ import annotations

import functools
import operator
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

PARSE_FAULT = ("4000", "Error parsing query")
VALIDATION_FAULT = ("4001", "Invalid query")

KEYWORDS = {
    "select",
    "from",
    "where",
    "and",
    "or",
    "in",
    "like",
    "orderby",
    "asc",
    "desc",
    "startposition",
    "maxresults",
    "count",
    "true",
    "false",
}
OPERATORS = ("<=", ">=", "=", "<", ">")
DEFAULT_MAX_RESULTS = 100
MAX_RESULTS_LIMIT = 1000


class QueryError(Exception):
    """A query QBO would refuse; carries the fault code, message and detail."""

    def __init__(self, code: str, message: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.message = message
        self.detail = detail


@dataclass(frozen=True)
class Token:
    """One lexical token: kind is KEYWORD, IDENTIFIER, STRING, NUMBER, OP, PUNCT or EOF."""

    kind: str
    text: str
    value: Any
    column: int


@dataclass(frozen=True)
class Condition:
    """One WHERE term: `field op value` or `field IN (values)`."""

    field: str
    op: str
    values: tuple[Any, ...]


@dataclass
class Query:
    """A parsed SELECT statement."""

    entity: str
    count: bool = False
    fields: tuple[str, ...] = ()
    conditions: list[Condition] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)
    start_position: int = 1
    max_results: int = DEFAULT_MAX_RESULTS


def _lexical_error(column: int, found: str, after: str) -> QueryError:
    return QueryError(
        *PARSE_FAULT,
        f"QueryParserError: Invalid content. Lexical error at line 1, column {column}.  "
        f'Encountered: {found} after : "{after}"',
    )


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Read a quoted string from text[start] == "'"; return (value, index after it)."""
    chars: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            if index + 1 >= len(text):
                break
            chars.append(text[index + 1])
            index += 2
            continue
        if char == "'":
            return "".join(chars), index + 1
        if ord(char) > 0xFF:
            # QBO's JavaCC lexer reads Latin-1 only: U+2019, U+2013, "ł", Cyrillic, Thai all
            # fail like this (quickbooks-ruby #309/#362, QuickBooks-V3-PHP-SDK #397).
            raise _lexical_error(index + 1, f'"\\u{ord(char):04x}" ({ord(char)})', "".join(chars))
        chars.append(char)
        index += 1
    raise _lexical_error(len(text) + 1, "<EOF>", text[start:])


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens; an unexpected character is a lexical error."""
    tokens: list[Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        column = index + 1
        if char.isspace():
            index += 1
            continue
        if char == "'":
            value, index = _read_string(text, index)
            tokens.append(Token("STRING", text[column - 1 : index], value, column))
            continue
        op = next((op for op in OPERATORS if text.startswith(op, index)), None)
        if op:
            tokens.append(Token("OP", op, op, column))
            index += len(op)
            continue
        if char in "(),*":
            tokens.append(Token("PUNCT", char, char, column))
            index += 1
            continue
        match = re.compile(r"-?\d+(\.\d+)?").match(text, index)
        if match and (char != "-" or match.end() > index + 1):
            tokens.append(Token("NUMBER", match.group(), Decimal(match.group()), column))
            index = match.end()
            continue
        match = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*").match(text, index)
        if match:
            word = match.group()
            kind = "KEYWORD" if word.lower() in KEYWORDS else "IDENTIFIER"
            tokens.append(Token(kind, word, word, column))
            index = match.end()
            continue
        raise _lexical_error(column, f'"{char}" ({ord(char)})', "")
    tokens.append(Token("EOF", "<EOF>", None, len(text) + 1))
    return tokens


class _Parser:
    """Recursive descent over the token list."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def error(self, expecting: list[str]) -> QueryError:
        token = self.current
        shown = "<EOF>" if token.kind == "EOF" else f'<{token.kind}> "{token.text} "'
        expected = "\n".join(f"    {name} ..." for name in expecting)
        return QueryError(
            *PARSE_FAULT,
            f'QueryParserError: Encountered " {shown}" at line 1, column {token.column}.\n'
            f"Was expecting one of:\n{expected}\n",
        )

    def is_keyword(self, *words: str) -> bool:
        return self.current.kind == "KEYWORD" and self.current.text.lower() in words

    def take_keyword(self, word: str) -> None:
        if not self.is_keyword(word):
            raise self.error([f'"{word}"'])
        self.index += 1

    def take_punct(self, char: str) -> None:
        if self.current.kind != "PUNCT" or self.current.text != char:
            raise self.error([f'"{char}"'])
        self.index += 1

    def take_identifier(self) -> str:
        if self.current.kind != "IDENTIFIER":
            raise self.error(["<IDENTIFIER>"])
        token = self.current
        self.index += 1
        return token.text

    def take_int(self) -> int:
        token = self.current
        if token.kind != "NUMBER" or "." in token.text or token.text.startswith("-"):
            raise self.error(["<INTEGER>"])
        self.index += 1
        return int(token.text)

    def take_value(self) -> Any:
        token = self.current
        if token.kind in ("STRING", "NUMBER"):
            self.index += 1
            return token.value
        if self.is_keyword("true", "false"):
            self.index += 1
            return token.text.lower() == "true"
        raise self.error(["<STRING>", "<NUMBER>", '"true"', '"false"'])

    def parse(self) -> Query:
        self.take_keyword("select")
        count, fields = self.parse_projection()
        self.take_keyword("from")
        query = Query(entity=self.take_identifier(), count=count, fields=fields)
        if self.is_keyword("where"):
            self.index += 1
            query.conditions = self.parse_conditions()
        if self.is_keyword("orderby"):
            self.index += 1
            query.order = self.parse_order()
        self.parse_paging(query)
        if self.current.kind != "EOF":
            raise self.error(["<EOF>", "<AND>", '"orderby"', '"startposition"', '"maxresults"'])
        return query

    def parse_projection(self) -> tuple[bool, tuple[str, ...]]:
        if self.current.kind == "PUNCT" and self.current.text == "*":
            self.index += 1
            return False, ()
        if self.is_keyword("count"):
            self.index += 1
            self.take_punct("(")
            self.take_punct("*")
            self.take_punct(")")
            return True, ()
        fields = [self.take_identifier()]
        while self.current.kind == "PUNCT" and self.current.text == ",":
            self.index += 1
            fields.append(self.take_identifier())
        return False, tuple(fields)

    def parse_conditions(self) -> list[Condition]:
        conditions = [self.parse_condition()]
        while self.is_keyword("and"):
            self.index += 1
            conditions.append(self.parse_condition())
        return conditions

    def parse_condition(self) -> Condition:
        name = self.take_identifier()
        if self.current.kind == "OP":
            op = self.current.text
            self.index += 1
            return Condition(name, op, (self.take_value(),))
        if self.is_keyword("like"):
            self.index += 1
            if self.current.kind != "STRING":
                raise self.error(["<STRING>"])
            return Condition(name, "like", (self.take_value(),))
        if self.is_keyword("in"):
            self.index += 1
            self.take_punct("(")
            values = [self.take_value()]
            while self.current.kind == "PUNCT" and self.current.text == ",":
                self.index += 1
                values.append(self.take_value())
            self.take_punct(")")
            return Condition(name, "in", tuple(values))
        raise self.error(['"="', '"<"', '">"', '"<="', '">="', '"in"', '"like"'])

    def parse_order(self) -> list[tuple[str, bool]]:
        order = [self.parse_order_term()]
        while self.current.kind == "PUNCT" and self.current.text == ",":
            self.index += 1
            order.append(self.parse_order_term())
        return order

    def parse_order_term(self) -> tuple[str, bool]:
        name = self.take_identifier()
        descending = False
        if self.is_keyword("asc", "desc"):
            descending = self.current.text.lower() == "desc"
            self.index += 1
        return name, descending

    def parse_paging(self, query: Query) -> None:
        for _ in range(2):
            if self.is_keyword("startposition"):
                self.index += 1
                query.start_position = max(1, self.take_int())
            elif self.is_keyword("maxresults"):
                self.index += 1
                query.max_results = self.take_int()


def parse_query(text: str) -> Query:
    """Parse a query string, raising QueryError as QBO would answer it."""
    if not text or not text.strip():
        raise QueryError(*PARSE_FAULT, "QueryParserError: The query provided was empty")
    query = _Parser(tokenize(text)).parse()
    check_paging(query)
    return query


def check_paging(query: Query) -> None:
    """MAXRESULTS above 1000 is refused, not capped (quickbooks-ruby #24 quotes QBO's answer)."""
    if query.max_results > MAX_RESULTS_LIMIT:
        raise QueryError(
            *VALIDATION_FAULT,
            f"QueryValidationError: value {query.max_results} is too large. "
            f"Max allowed value is {MAX_RESULTS_LIMIT}",
        )


# --- evaluation --------------------------------------------------------------------------------


def field_value(obj: dict, path: str) -> Any:
    """Read a dotted field case-insensitively; refs compare by value, emails by address."""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        key = next((k for k in current if k.lower() == part.lower()), None)
        if key is None:
            return None
        current = current[key]
    if isinstance(current, dict):
        for inner in ("value", "Address", "FreeFormNumber"):
            if inner in current:
                return current[inner]
    return current


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def comparable(field_name: str, left: Any, right: Any) -> tuple[Any, Any] | None:
    """Bring a stored value and a literal to one comparable type, or None if they cannot meet."""
    if left is None:
        return None
    if isinstance(left, bool):
        if isinstance(right, str) and right.lower() in ("true", "false"):
            right = right.lower() == "true"
        return (left, right) if isinstance(right, bool) else None
    if field_name.lower().endswith("time"):
        left_dt, right_dt = _as_datetime(left), _as_datetime(right)
        if left_dt and right_dt:
            return left_dt, right_dt
    if field_name.lower() == "id" or isinstance(left, int | Decimal):
        left_num, right_num = _as_decimal(left), _as_decimal(right)
        if left_num is not None and right_num is not None:
            return left_num, right_num
    return str(left).casefold(), str(right).casefold()


def _like(value: Any, pattern: str) -> bool:
    if value is None:
        return False
    parts = [re.escape(part) for part in pattern.casefold().split("%")]
    return re.fullmatch(".*".join(parts), str(value).casefold(), re.DOTALL) is not None


def matches(obj: dict, condition: Condition) -> bool:
    """Whether one stored object satisfies one WHERE condition."""
    value = field_value(obj, condition.field)
    if condition.op == "like":
        return _like(value, condition.values[0])
    if condition.op == "in":
        return _in(condition.field, value, condition.values)
    return _compare(condition.field, value, condition.op, condition.values[0])


def _in(field_name: str, value: Any, values: tuple[Any, ...]) -> bool:
    """`value IN (values)` as `=` against each, by set look-up where `comparable` would compare
    numbers or folded text (an `Id IN` of 100 over 10,000 POs was a million comparisons)."""
    name = field_name.lower()
    if value is None or isinstance(value, bool) or name.endswith("time"):
        return any(_compare(field_name, value, "=", v) for v in values)
    numbers, other_texts, texts = _in_sets(values)
    if name == "id" or isinstance(value, int | Decimal):
        number = _as_decimal(value)
        if number is not None:  # NaN equals nothing, sNaN raises: neither is in `numbers`
            return (not number.is_nan() and number in numbers) or str(
                value
            ).casefold() in other_texts
    return str(value).casefold() in texts


@functools.lru_cache(maxsize=256)
def _in_sets(values: tuple[Any, ...]) -> tuple[frozenset, frozenset, frozenset]:
    """(the literals as numbers, the folded text of those that are not numbers, all folded)."""
    numbers = {n for v in values if (n := _as_decimal(v)) is not None and not n.is_nan()}
    other = {str(v).casefold() for v in values if _as_decimal(v) is None}
    return frozenset(numbers), frozenset(other), frozenset(str(v).casefold() for v in values)


def _compare(field_name: str, value: Any, op: str, literal: Any) -> bool:
    pair = comparable(field_name, value, literal)
    if pair is None:
        return False
    left, right = pair
    try:
        return _OPS[op](left, right)
    except (TypeError, InvalidOperation):  # (a NaN literal orders against nothing)
        return False


_OPS = {
    "=": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


def sort_key(field_name: str):
    """A key function ordering objects by one field, missing values first."""

    def key(obj: dict) -> tuple:
        value = field_value(obj, field_name)
        if value is None:
            return (0, "")
        pair = comparable(field_name, value, value)
        return (1, pair[0] if pair else str(value))

    return key


def mentions(query: Query, field_name: str) -> bool:
    """Whether the WHERE clause filters on a field (case-insensitive)."""
    return any(c.field.lower() == field_name.lower() for c in query.conditions)


def run(query: Query, objects: list[dict]) -> list[dict]:
    """Filter, order and page objects as the query asks (no Active rule: the caller adds it)."""
    selected = [o for o in objects if all(matches(o, c) for c in query.conditions)]
    selected.sort(key=lambda o: int(o["Id"]) if str(o.get("Id", "")).isdigit() else 0)
    for name, descending in reversed(query.order):
        selected.sort(key=sort_key(name), reverse=descending)
    start = query.start_position - 1
    return selected[start : start + query.max_results]


def project(obj: dict, fields: tuple[str, ...]) -> dict:
    """Keep only the selected top-level fields (plus Id): the strict reading of a field list.
    A projected row says it is partial, "sparse": true, first (recorded in
    item_create_batch.json: {"sparse": true, "Id": "138", "DisplayName": ...})."""
    if not fields:
        return obj
    wanted = {f.split(".")[0].lower() for f in fields} | {"id"}
    return {"sparse": True, **{k: v for k, v in obj.items() if k.lower() in wanted}}
