"""Request bodies keep money exact; answers parse money as Decimal."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.qbo.client import InvalidRequestId, validate_request_id
from reconciler.qbo.transport import parse_retry_after
from reconciler.qbo.wire import decode_json, encode_json


def test_decimal_goes_out_as_the_number_it_is():
    """Decimal("10.10") is written 10.10: not 10.1, not "10.10", not a float."""
    assert encode_json({"Amount": Decimal("10.10")}) == '{"Amount":10.10}'


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.00"), "0.00"),
        (Decimal("1E+2"), "100"),
        (Decimal("-3.500"), "-3.500"),
        (Decimal("-0"), "0"),
        (Decimal("123456789012.34"), "123456789012.34"),
    ],
)
def test_decimal_forms(value, text):
    """Exponent forms are expanded; negative zero is plain zero."""
    assert encode_json(value) == text


def test_nested_structures_and_scalars():
    """Objects, lists, tuples, strings, booleans, null, ints and dates encode as JSON."""
    body = {
        "Line": ({"Qty": 3, "UnitPrice": Decimal("1.25"), "Description": "O'Brien \\ “x”"},),
        "Active": True,
        "Memo": None,
        "TxnDate": date(2024, 2, 29),
        "At": datetime(2024, 1, 1, tzinfo=UTC),
    }
    text = encode_json(body)
    assert json.loads(text) == {
        "Line": [{"Qty": 3, "UnitPrice": 1.25, "Description": "O'Brien \\ “x”"}],
        "Active": True,
        "Memo": None,
        "TxnDate": "2024-02-29",
        "At": "2024-01-01T00:00:00+00:00",
    }


@pytest.mark.parametrize(
    "bad",
    [1.5, Decimal("NaN"), Decimal("Infinity"), {1: "x"}, {"s": {1, 2}}, datetime(2024, 1, 1)],
)
def test_refuses_what_would_lose_money_or_meaning(bad):
    """Floats, non-finite Decimals, non-str keys, sets and naive datetimes are refused."""
    with pytest.raises((TypeError, ValueError)):
        encode_json(bad)


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=2, min_value=-(10**12), max_value=10**12
    )
)
def test_decimal_round_trip(value):
    """encode_json then decode_json returns the same Decimal, digits and all."""
    back = decode_json(encode_json({"v": value}))["v"]
    assert back == value
    if value != 0:
        assert str(back) == format(value, "f")


def test_decode_gives_decimal_for_fractions():
    """Answers' money fields parse as Decimal, integers stay int."""
    assert decode_json(b'{"TotalAmt": 10.10, "Qty": 3}') == {"TotalAmt": Decimal("10.10"), "Qty": 3}


@pytest.mark.parametrize(
    ("request_id", "limit", "ok"),
    [
        ("a" * 50, 50, True),
        ("a" * 51, 50, False),
        ("a" * 36, 36, True),
        ("a" * 37, 36, False),
        ("", 50, False),
        ("has space", 50, False),
        ("é", 50, False),
        ("po-12:create:abc.DEF_9", 50, True),
    ],
)
def test_request_id_validation(request_id, limit, ok):
    """requestid is 1..50 visible ASCII characters (1..36 for batch)."""
    if ok:
        assert validate_request_id(request_id, limit=limit) == request_id
    else:
        with pytest.raises(InvalidRequestId):
            validate_request_id(request_id, limit=limit)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        (None, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        ("-1", None),
        ("nan", None),
        ("100000", 120.0),
    ],
)
def test_retry_after(header, seconds):
    """Delta-seconds are honoured (capped at 120 s); dates and junk fall back to backoff."""
    assert parse_retry_after(header) == seconds
