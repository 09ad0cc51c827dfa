"""Which ids a ledger row can be keyed on, and that a record with any other id fails alone.

Found by the whole-pass fuzz (tests/badinput/test_fuzz_pass.py): an id such as "5²" passed
`str.isdigit` but not `int`, so the parser's refusal raised while salvaging the id and the
pass crashed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from reconciler.documents.bill.parse import bill_or_reject, receipt_or_reject
from reconciler.documents.po.parse import parse_or_reject
from reconciler.luminous.values import whole_id
from reconciler.model import RejectedRecord


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (7, 7),
        ("7", 7),
        (" 7\t", 7),
        ("007", 7),
        ("١٢", 12),  # decimal digits of another script: a number int() reads
        (2**63 - 1, 2**63 - 1),
        ("²", None),  # a digit, not a decimal: int() refuses it
        ("5²", None),
        ("①", None),
        ("+7", None),
        ("7.0", None),
        ("7_0", None),
        (7.0, None),
        (0, None),
        (-7, None),
        (2**63, None),
        (True, None),
        (None, None),
    ],
)
def test_whole_id_takes_whole_numbers_and_nothing_else(value, key):
    assert whole_id(value) == key


@pytest.mark.parametrize("served", ["²", "5²", "①2"])
@pytest.mark.parametrize("reader", [parse_or_reject, bill_or_reject, receipt_or_reject])
def test_a_record_whose_id_is_digits_but_no_number_is_refused_not_raised(reader, served):
    record = {"id": served, "updated_at": "2026-03-02T08:30:00Z", "order_numbers": ["PO-9"]}
    out = reader(record)
    assert isinstance(out, RejectedRecord) and out.doc_id is None
    assert "id" in out.reason


class _Unreadable(Mapping):
    """A record whose every read fails: the parser and its salvage both meet the error."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("unreadable")

    def __iter__(self) -> Iterator[str]:
        return iter(["id"])

    def __len__(self) -> int:
        return 1


@pytest.mark.parametrize("reader", [parse_or_reject, bill_or_reject, receipt_or_reject])
def test_a_record_the_salvage_cannot_read_either_still_fails_alone(reader):
    out = reader(_Unreadable())
    assert isinstance(out, RejectedRecord) and out.doc_id is None and out.updated_at is None
    assert "RuntimeError" in out.reason
