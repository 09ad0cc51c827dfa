"""Query strings: quoting, refusals, conditions, paging."""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.qbo import query as q


def unquote(literal: str) -> str:
    """A reference reader for one QBO string literal; fails on anything malformed."""
    assert literal[0] == "'" and literal[-1] == "'"
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            assert i + 1 < len(body), "dangling backslash eats the closing quote"
            out.append(body[i + 1])
            i += 2
            continue
        assert char != "'", "unescaped quote ends the literal early"
        out.append(char)
        i += 1
    return "".join(out)


latin1_text = st.text(
    alphabet=st.characters(codec="latin-1", exclude_categories=("Cc",), exclude_characters="\x7f")
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Acme", "'Acme'"),
        ("O'Brien", "'O\\'Brien'"),
        ("back\\slash", "'back\\\\slash'"),
        ("trailing\\", "'trailing\\\\'"),
        ("\\'", "'\\\\\\''"),
        ("", "''"),
        ("Café Müller", "'Café Müller'"),
        ("100% & more", "'100% & more'"),
    ],
)
def test_quote_escapes_quote_and_backslash(value, expected):
    """Quotes and backslashes are backslash-escaped; other characters pass through."""
    assert q.quote(value) == expected


@given(latin1_text)
def test_quote_round_trips_through_a_literal_reader(value):
    """Whatever Latin-1 text goes in comes back out of a strict literal reader unchanged."""
    assert unquote(q.quote(value)) == value


@pytest.mark.parametrize(
    "value",
    [
        "Fleur’t",  # U+2019, ruckus/quickbooks-ruby#309
        "Boot – Wolverine",  # U+2013, QuickBooks-V3-PHP-SDK#397
        "Włodarski",  # U+0142, quickbooks-ruby#362
        "Сибирь",  # Cyrillic
        "tab\there",
        "line\nbreak",
        "nul\x00",
        "del\x7f",
        "c1\x85",
        "emoji 🙂",
    ],
)
def test_quote_refuses_what_the_lexer_cannot_take(value):
    """Control characters and code points above U+00FF raise UnqueryableValue, a ValueError."""
    with pytest.raises(q.UnqueryableValue) as info:
        q.quote(value)
    assert isinstance(info.value, ValueError)
    assert info.value.value == value
    assert "U+" in str(info.value)
    assert not q.is_queryable(value)


@given(st.text(min_size=1).filter(lambda s: any(ord(c) > 0xFF for c in s)))
def test_any_char_above_latin1_is_refused(value):
    """Every string holding a code point above U+00FF is refused."""
    with pytest.raises(q.UnqueryableValue):
        q.quote(value)


def test_quote_takes_only_strings():
    """Numbers are not silently quoted as strings."""
    with pytest.raises(TypeError):
        q.quote(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        (q.eq("DisplayName", "O'Brien"), "DisplayName = 'O\\'Brien'"),
        (q.in_("Active", [True, False]), "Active IN (true, false)"),
        (q.like("Name", "Widget%"), "Name LIKE 'Widget%'"),
        (q.ge("TxnDate", date(2024, 1, 31)), "TxnDate >= '2024-01-31'"),
        (q.lt("Id", "10"), "Id < '10'"),
        (q.gt("Id", 3), "Id > 3"),
        (q.le("Id", Decimal("2.50")), "Id <= 2.50"),
        (
            q.ge("MetaData.LastUpdatedTime", datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
            "MetaData.LastUpdatedTime >= '2024-05-01T12:00:00+00:00'",
        ),
        (
            q.eq(
                "MetaData.LastUpdatedTime",
                datetime(2024, 5, 1, 5, 0, tzinfo=timezone(timedelta(hours=-7))),
            ),
            "MetaData.LastUpdatedTime = '2024-05-01T05:00:00-07:00'",
        ),
    ],
)
def test_conditions_render(cond, expected):
    """Each helper renders its operator and value in the query language's spelling."""
    assert cond.render() == expected


def test_select_with_where_order_and_paging():
    """A full statement joins conditions with AND and always carries paging."""
    statement = q.select(
        "Vendor",
        [q.eq("DisplayName", "A\\B"), q.in_("Active", (True, False))],
        order_by=("Id", "desc"),
        start=1001,
        max_results=500,
    )
    assert statement == (
        "SELECT * FROM Vendor WHERE DisplayName = 'A\\\\B' AND Active IN (true, false) "
        "ORDERBY Id DESC STARTPOSITION 1001 MAXRESULTS 500"
    )


def test_select_defaults_to_first_page_of_1000():
    """Without paging arguments the statement asks for the first 1000."""
    assert q.select("Item") == "SELECT * FROM Item STARTPOSITION 1 MAXRESULTS 1000"


def test_count_statement_has_no_paging():
    """COUNT(*) statements carry no STARTPOSITION/MAXRESULTS."""
    assert q.select("PurchaseOrder", [q.eq("DocNumber", "PO-1")], count=True) == (
        "SELECT COUNT(*) FROM PurchaseOrder WHERE DocNumber = 'PO-1'"
    )


@pytest.mark.parametrize(
    ("entity", "where", "kwargs"),
    [
        ("Vendor", [q.eq("CompanyName", "x")], {}),  # not filterable
        ("PurchaseOrder", [q.eq("TotalAmt", 1)], {}),
        ("Invoice", [], {}),  # unknown entity
        ("Item", [], {"start": 0}),
        ("Item", [], {"max_results": 1001}),
        ("Item", [], {"max_results": 0}),
        ("Item", [], {"order_by": "Description"}),
        ("Item", [], {"order_by": ("Name", "UP")}),
    ],
)
def test_select_refuses_what_qbo_would_reject(entity, where, kwargs):
    """Unfilterable fields, unknown entities and out-of-range paging raise InvalidQuery."""
    with pytest.raises(q.InvalidQuery):
        q.select(entity, where, **kwargs)


def test_empty_in_is_refused():
    """IN () is a parser error in QBO, so it is refused here."""
    with pytest.raises(q.InvalidQuery):
        q.in_("Id", [])


def test_naive_datetime_is_refused():
    """A datetime without a zone would be read in the company's zone: refuse it."""
    with pytest.raises(q.InvalidQuery):
        q.eq("MetaData.LastUpdatedTime", datetime(2024, 1, 1)).render()


def test_unqueryable_value_surfaces_from_select():
    """select() lets UnqueryableValue through so the caller can park that one PO."""
    with pytest.raises(q.UnqueryableValue):
        q.select("Vendor", [q.eq("DisplayName", "Smith’s")])


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ("Smith’s Ltd", "Smith%"),
        ("Plain Name", "Plain Name%"),
        ("Włodarski", None),  # only "W" is left: too little to search by
        ("’quoted", None),
        ("O'Brien – Sons", "O'Brien %"),
    ],
)
def test_queryable_prefix_pattern(value, pattern):
    """The part before the first refused character becomes a LIKE prefix, when long enough."""
    assert q.queryable_prefix_pattern(value) == pattern
    if pattern is not None:
        assert q.like("DisplayName", pattern).render().startswith("DisplayName LIKE '")


def _select_calls():
    """Every `q.select("Entity", [conditions])` in the client code, with the fields its
    conditions name, found in the source."""
    package = Path(__file__).resolve().parents[2] / "reconciler"
    for path in sorted(package.rglob("*.py")):
        if "sandbox" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "select"
                and isinstance(getattr(node.func.value, "id", None), str)
                and node.args
            ):
                entity = node.args[0]
                fields = {
                    inner.args[0].value
                    for inner in ast.walk(node)
                    if isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Attribute)
                    and inner.func.attr in ("eq", "in_", "like", "lt", "gt", "le", "ge")
                    and inner.args
                    and isinstance(inner.args[0], ast.Constant)
                }
                yield path.name, entity, fields


def test_every_entity_and_field_a_resolver_queries_is_in_the_filterable_table():
    """A query the client builds never names an entity or field the table does not know
    (it would fail at run time with InvalidQuery, or at QBO with 4001)."""
    calls = list(_select_calls())
    assert len(calls) >= 8  # the resolvers, the writers, the identity index
    for where, entity, fields in calls:
        if isinstance(entity, ast.Constant):
            assert entity.value in q.FILTERABLE_FIELDS, f"{where}: {entity.value}"
            assert fields <= q.FILTERABLE_FIELDS[entity.value], f"{where}: {fields}"


def test_the_client_table_never_allows_what_qbo_refuses():
    """Every field our builder lets through is filterable in the emulator, which follows
    Intuit's list (PrimaryEmailAddr and AcctNum are refused with 4001)."""
    from reconciler.sandbox.qbo.store import ALWAYS_FILTERABLE, FILTERABLE

    for entity, allowed in q.FILTERABLE_FIELDS.items():
        qbo_side = {f.lower() for f in FILTERABLE[entity] | ALWAYS_FILTERABLE}
        assert {f.lower() for f in allowed} <= qbo_side, entity
