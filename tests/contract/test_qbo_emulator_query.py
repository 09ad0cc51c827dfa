"""QBO emulator: the query language subset, paging, the Active rule and parser faults."""

from __future__ import annotations

import pytest


def rows(response, entity: str) -> list[dict]:
    """The objects of a 200 query answer (empty when QBO leaves the key out)."""
    assert response.status_code == 200, response.text
    return response.json()["QueryResponse"].get(entity, [])


def names(response, entity: str = "Vendor", key: str = "DisplayName") -> list[str]:
    return [o[key] for o in rows(response, entity)]


def test_select_star_answers_query_response_with_paging_fields(qbo):
    """QueryResponse carries the entity list, startPosition and maxResults."""
    answer = qbo.query("SELECT * FROM Vendor").json()
    assert set(answer) == {"QueryResponse", "time"}
    response = answer["QueryResponse"]
    assert response["startPosition"] == 1 and response["maxResults"] == 3


def test_count_answers_total_count(qbo):
    """COUNT(*) answers totalCount only."""
    answer = qbo.query("select count(*) from Item").json()["QueryResponse"]
    assert answer == {"totalCount": 3}


def test_inactive_records_hidden_unless_active_is_filtered(qbo):
    """Without Active in WHERE only active records come back."""
    assert "Retired Vendor" not in names(qbo.query("select * from Vendor"))
    both = names(qbo.query("select * from Vendor where Active in (true, false)"))
    assert "Retired Vendor" in both and len(both) == 4
    assert names(qbo.query("select * from Vendor where Active = false")) == ["Retired Vendor"]


def test_escaped_quote_in_value_matches(qbo):
    """'O\\'Brien Hardware' finds the vendor; comparison is case-insensitive."""
    found = names(qbo.query("select * from Vendor where DisplayName = 'o\\'brien hardware'"))
    assert found == ["O'Brien Hardware"]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Id = '2'", ["Bolt & Nut Ltd"]),
        ("Id > '1'", ["Bolt & Nut Ltd", "O'Brien Hardware"]),
        ("Id >= '2' AND Id < '3'", ["Bolt & Nut Ltd"]),
        ("Id <= '1'", ["Acme Supply Co"]),
        ("DisplayName IN ('Acme Supply Co', 'Nobody')", ["Acme Supply Co"]),
        ("DisplayName LIKE '%nut%'", ["Bolt & Nut Ltd"]),
        ("DisplayName LIKE 'Acme%'", ["Acme Supply Co"]),
    ],
)
def test_where_operators(qbo, where, expected):
    """=, <, >, <=, >=, IN and LIKE with % filter as QBO does."""
    assert names(qbo.query(f"select * from Vendor where {where}")) == expected


def test_orderby_startposition_maxresults(qbo):
    """ORDERBY DESC with 1-based STARTPOSITION and MAXRESULTS pages the result."""
    text = "select * from Vendor orderby DisplayName desc startposition 2 maxresults 1"
    response = qbo.query(text)
    assert names(response) == ["Bolt & Nut Ltd"]
    assert response.json()["QueryResponse"]["startPosition"] == 2


def test_maxresults_above_1000_is_refused_not_capped(qbo):
    """MAXRESULTS 5000 is 4001 "Invalid query" (quickbooks-ruby #24 quotes QBO's "value 1500 is
    too large. Max allowed value is 1000"); 1000 answers 1000 rows."""
    for number in range(1005):
        qbo.emu.seed("Customer", {"DisplayName": f"Bulk {number}"})
    refused = qbo.query("select * from Customer maxresults 5000")
    assert refused.status_code == 400
    error = refused.json()["Fault"]["Error"][0]
    assert (error["code"], error["Message"]) == ("4001", "Invalid query")
    assert error["Detail"] == (
        "QueryValidationError: value 5000 is too large. Max allowed value is 1000"
    )
    assert len(rows(qbo.query("select * from Customer maxresults 1000"), "Customer")) == 1000


def test_default_page_is_100(qbo):
    """Without MAXRESULTS a query answers at most 100 rows."""
    for number in range(120):
        qbo.emu.seed("Customer", {"DisplayName": f"Page {number}"})
    assert len(rows(qbo.query("select * from Customer"), "Customer")) == 100


def test_no_match_answers_empty_query_response(qbo):
    """No rows: QueryResponse is an empty object."""
    response = qbo.query("select * from Vendor where DisplayName = 'nobody'")
    assert response.json()["QueryResponse"] == {}


def test_post_query_with_application_text(qbo):
    """POST /query with Content-Type application/text runs the body as the query."""
    response = qbo.session.post(
        qbo.url("query"),
        data="select * from Item where Sku = 'WID-001'",
        headers={"Content-Type": "application/text"},
        params={"minorversion": "75"},
        timeout=5,
    )
    assert [i["Name"] for i in rows(response, "Item")] == ["Widget"]


def test_purchase_order_by_docnumber_and_metadata_time(qbo):
    """POs filter on DocNumber and MetaData.LastUpdatedTime."""
    qbo.create("purchaseorder", qbo.po_body(doc_number="A-1"))
    qbo.emu.advance_clock(60)
    late = qbo.create("purchaseorder", qbo.po_body(doc_number="A-2"))
    since = late["MetaData"]["LastUpdatedTime"]
    by_doc = rows(qbo.query("select * from PurchaseOrder where DocNumber = 'A-1'"), "PurchaseOrder")
    recent = rows(
        qbo.query(f"select * from PurchaseOrder where MetaData.LastUpdatedTime >= '{since}'"),
        "PurchaseOrder",
    )
    assert [p["DocNumber"] for p in by_doc] == ["A-1"]
    assert [p["DocNumber"] for p in recent] == ["A-2"]


@pytest.mark.parametrize(
    "text",
    [
        "select * from Vendor where DisplayName = 'O'Brien Hardware'",
        "select * from Vendor where DisplayName = 'trailing\\'",
        "select * from Vendor where DisplayName = 'a' OR DisplayName = 'b'",
        "select * from Vendor where (DisplayName = 'a')",
        'select * from Vendor where DisplayName = "a"',
        "select * Vendor",
        "",
    ],
)
def test_malformed_query_is_parser_fault_4000(qbo, text):
    """Unescaped quotes, trailing backslash, OR, parentheses: 400 'Error parsing query'."""
    response = qbo.query(text)
    assert response.status_code == 400
    error = response.json()["Fault"]["Error"][0]
    assert (error["code"], error["Message"]) == ("4000", "Error parsing query")
    assert error["Detail"].startswith("QueryParserError: ")


def test_field_that_is_not_filterable_is_4001(qbo):
    """Filtering PurchaseOrder on a non-filterable field is an invalid query."""
    response = qbo.query("select * from PurchaseOrder where Memo = 'x'")
    assert response.status_code == 400
    assert response.json()["Fault"]["Error"][0]["code"] == "4001"


@pytest.mark.parametrize(
    "value", ["Smith\u2019s Ltd", "Nord\u2013Sud", "\u0141\u00f3d\u017a", "\u041e\u041e\u041e"]
)
def test_characters_outside_latin1_are_a_lexical_error(qbo, value):
    """As reported against real QBO: a string literal beyond Latin-1 fails in the lexer (4000)."""
    response = qbo.query(f"select * from Vendor where DisplayName = '{value}'")
    assert response.status_code == 400
    error = response.json()["Fault"]["Error"][0]
    assert error["code"] == "4000"
    assert "Lexical error" in error["Detail"]


def test_latin1_letters_are_fine_in_a_literal(qbo):
    """Accented Latin-1 letters (é, ü, ñ) query normally."""
    response = qbo.query("select * from Vendor where DisplayName = 'Caf\u00e9 M\u00fcller'")
    assert response.status_code == 200


# --- IN (...) by set look-up means what `=` against each value means ---------------------------

from decimal import Decimal  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from reconciler.sandbox.qbo import query as qbo_query  # noqa: E402

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from(["1", "01", "1.0", "abc", "ABC", "NaN", "sNaN", "Infinity", "true", ""]),
    st.decimals(allow_nan=False, places=1, min_value=-3, max_value=3),
    st.sampled_from([Decimal("NaN"), Decimal("Infinity"), Decimal("-0")]),
)


@given(
    field=st.sampled_from(["Id", "DocNumber", "Balance", "Active", "MetaData.LastUpdatedTime"]),
    value=_SCALARS,
    values=st.lists(_SCALARS.filter(lambda v: v is not None), min_size=1, max_size=6),
)
def test_in_matches_exactly_when_equals_matches_one_of_the_values(field, value, values):
    """The emulator answers `IN` by set look-up (an `Id IN` of 100 over 10,000 POs was a
    million comparisons); it must keep the meaning of `=` against each value."""
    condition = qbo_query.Condition(field, "in", tuple(str(v) for v in values))
    obj = {"Id": "7", field: value} if "." not in field else {"Id": "7", "MetaData": {}}
    naive = any(
        qbo_query._compare(field, qbo_query.field_value(obj, field), "=", v)
        for v in condition.values
    )
    assert qbo_query.matches(obj, condition) == naive


def test_in_by_set_look_up_finds_numbers_in_any_spelling():
    obj = {"Id": "42", "Balance": Decimal("10.50"), "DocNumber": "PO-7"}
    assert qbo_query.matches(obj, qbo_query.Condition("Id", "in", ("41", "042")))
    assert qbo_query.matches(obj, qbo_query.Condition("Balance", "in", ("10.5",)))
    assert qbo_query.matches(obj, qbo_query.Condition("DocNumber", "in", ("po-7",)))
    assert not qbo_query.matches(obj, qbo_query.Condition("DocNumber", "in", ("PO-70",)))
