"""PreviewQBO: reads pass through, writes are answered locally and seen by later reads; and the
statement reader it matches local rows with. (End to end over HTTP: tests/integration/
test_preview.py.)"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from reconciler import errors
from reconciler.preview.plan import is_placeholder
from reconciler.preview.qbo import PreviewQBO
from reconciler.qbo import query as q
from reconciler.qbo import statement as st
from reconciler.qbo.wire import BatchItemResult, BatchOp


class Inner:
    """Answers queries from fixed rows per entity, and refuses any write."""

    def __init__(self, rows: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.rows = rows or {}
        self.statements: list[str] = []

    def query_page(self, statement: str) -> tuple[list[dict[str, Any]], str | None]:
        self.statements.append(statement)
        parsed = st.parse(statement)
        assert parsed is not None, statement
        return [r for r in self.rows.get(parsed.entity, []) if st.matches(parsed, r)], "tid"

    def query(self, statement: str) -> list[dict[str, Any]]:
        return self.query_page(statement)[0]

    def count(self, statement: str) -> int:
        return 42

    def batch(self, items, **_: Any) -> list[BatchItemResult]:
        assert all(i.operation == "query" for i in items), "a write reached QBO"
        return [BatchItemResult(i.bid, query_response={"rows": i.query}) for i in items]

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"PreviewQBO sent {name} to QBO")


def test_create_gets_a_placeholder_and_later_look_ups_find_it():
    qbo = PreviewQBO(Inner())
    created = qbo.create(
        "PurchaseOrder", {"DocNumber": "PO-1", "VendorRef": {"value": "5"}}, request_id="r1"
    ).entity
    assert is_placeholder(created["Id"]) and created["SyncToken"] == "0"
    assert not is_placeholder("17") and not is_placeholder(None)
    found = qbo.query(q.select("PurchaseOrder", [q.in_("DocNumber", ("po-1", "PO-2"))]))
    assert [r["Id"] for r in found] == [created["Id"]]  # QBO compares without case
    assert qbo.query(q.select("PurchaseOrder", [q.eq("DocNumber", "PO-3")])) == []
    assert qbo.read("PurchaseOrder", created["Id"]).entity["DocNumber"] == "PO-1"
    assert [(w.entity, w.operation, w.qbo_id) for w in qbo.writes] == [
        ("PurchaseOrder", "create", created["Id"])
    ]


def test_update_answers_with_the_next_sync_token_over_what_qbo_held():
    held = {"Id": "9", "SyncToken": "3", "DisplayName": "Retired Vendor", "Active": False}
    qbo = PreviewQBO(Inner({"Vendor": [held]}))
    rows = qbo.query(
        q.select("Vendor", [q.eq("DisplayName", "Retired Vendor"), q.in_("Active", (True, False))])
    )
    assert rows == [held]
    answer = qbo.update(
        "Vendor", {"Id": "9", "SyncToken": "3", "Active": True, "sparse": True}, request_id="r"
    ).entity
    assert answer == {"Id": "9", "SyncToken": "4", "DisplayName": "Retired Vendor", "Active": True}
    assert qbo.writes[0].body == {"Id": "9", "SyncToken": "3", "Active": True}
    again = qbo.query(q.select("Vendor", [q.eq("DisplayName", "Retired Vendor")]))
    assert again[0]["SyncToken"] == "4"  # QBO as the writes left it


def test_deleted_documents_leave_the_answers():
    qbo = PreviewQBO(Inner({"PurchaseOrder": [{"Id": "7", "DocNumber": "PO-7"}]}))
    assert qbo.delete("PurchaseOrder", "7", "2", request_id="r").entity["status"] == "Deleted"
    assert qbo.query(q.select("PurchaseOrder", [q.eq("DocNumber", "PO-7")])) == []


def test_vendor_named_like_a_customer_or_employee_is_refused_as_qbo_would():
    inner = Inner({"Employee": [{"Id": "3", "DisplayName": "Emily Platt", "Active": True}]})
    qbo = PreviewQBO(inner)
    with pytest.raises(errors.DuplicateNameFault) as refused:
        qbo.create("Vendor", {"DisplayName": "emily  platt"}, request_id="r")
    assert refused.value.code == "6240" and qbo.writes == []
    assert qbo.create("Vendor", {"DisplayName": "Emily Platt (Supplier)"}, request_id="r")
    assert [s.split(" WHERE")[0] for s in inner.statements[-2:]] == [
        "SELECT * FROM Customer",
        "SELECT * FROM Employee",
    ]


def test_batch_writes_are_answered_here_and_queries_go_to_qbo():
    qbo = PreviewQBO(Inner())
    ops = [
        BatchOp("1", "create", "PurchaseOrder", {"DocNumber": "A"}),
        BatchOp("2", "query", query="SELECT * FROM Vendor"),
        BatchOp("3", "update", "PurchaseOrder", {"Id": "5", "SyncToken": "1", "sparse": True}),
        BatchOp("4", "delete", "PurchaseOrder", {"Id": "6", "SyncToken": "0"}),
    ]
    results = qbo.batch(ops, request_id="b")
    assert [r.bid for r in results] == ["1", "2", "3", "4"]
    assert is_placeholder(results[0].entity["Id"]) and results[1].query_response
    assert results[2].entity["SyncToken"] == "2" and results[3].entity["status"] == "Deleted"
    assert [w.operation for w in qbo.writes] == ["create", "update", "delete"]


def test_writes_from_many_threads_get_distinct_ids():
    qbo = PreviewQBO(Inner())
    with ThreadPoolExecutor(8) as pool:
        ids = list(
            pool.map(
                lambda n: qbo.create("Item", {"Name": f"i{n}"}, request_id="r").entity["Id"],
                range(200),
            )
        )
    assert len(set(ids)) == 200 == len(qbo.writes)


@pytest.mark.parametrize(
    ("statement", "row", "expected"),
    [
        (
            q.select("Vendor", [q.eq("DisplayName", "O'Brien \\ Sons")]),
            {"DisplayName": "o'brien \\ sons"},
            True,
        ),
        (q.select("Vendor", [q.eq("DisplayName", "A AND B")]), {"DisplayName": "A AND B"}, True),
        (q.select("Vendor", [q.in_("Active", (True, False))]), {"DisplayName": "x"}, True),
        (q.select("Vendor", [q.eq("Active", False)]), {"DisplayName": "x"}, False),
        (q.select("Item", [q.like("Name", "Whey%")]), {"Name": "whey protein"}, True),
        (q.select("Item", [q.like("Name", "Whey%")]), {"Name": "Big whey"}, False),
        (
            q.select("PurchaseOrder", [q.in_("Id", ("1", "2"))], order_by="Id", start=1),
            {"Id": "2"},
            True,
        ),
        (
            q.select("PurchaseOrder", [q.ge("TxnDate", "2026-01-01")]),
            {"TxnDate": "2027-01-01"},
            False,
        ),  # a comparison it cannot judge leaves the row out
    ],
)
def test_statement_matches_like_qbo(statement, row, expected):
    parsed = st.parse(statement)
    assert parsed is not None
    assert st.matches(parsed, row) is expected


def test_statement_parts():
    parsed = st.parse(q.select("PurchaseOrder", [q.in_("DocNumber", ("a",))], start=1001))
    assert (parsed.entity, parsed.start, parsed.full_rows, parsed.count) == (
        "PurchaseOrder",
        1001,
        True,
        False,
    )
    assert st.parse(q.select("PurchaseOrder", count=True)).count
    assert not st.parse(q.select("PurchaseOrder", fields=("Id", "DocNumber"))).full_rows
    assert st.parse("DELETE everything") is None
    assert st.parse("SELECT * FROM Vendor WHERE DisplayName = 'unterminated") is None


def test_the_preview_answers_every_call_the_real_client_offers():
    """A pass handed PreviewQBO must never reach a QBOClient method it does not define (a new
    write method added to the client alone would go to QBO for real, or crash the preview)."""
    from reconciler.qbo.client import QBOClient

    offered = {
        name
        for name in dir(QBOClient)
        if not name.startswith("_") and callable(getattr(QBOClient, name))
    }
    assert offered <= set(dir(PreviewQBO)), offered - set(dir(PreviewQBO))


def test_a_group_of_writes_is_answered_locally_item_by_item():
    """`send_group` (the pipeline's and the reference creates' path) writes nothing to QBO; a
    vendor name a customer holds is that item's fault, the others are created here."""
    inner = Inner({"Customer": [{"Id": "9", "DisplayName": "Held By A Customer", "Active": True}]})
    preview = PreviewQBO(inner)
    ops = [
        BatchOp("1", "create", "Vendor", {"DisplayName": "New Supplier"}),
        BatchOp("2", "create", "Vendor", {"DisplayName": "Held By A Customer"}),
    ]
    answer = preview.send_group(ops, request_id="g", item_request_ids=["a", "b"])
    assert answer.results[0].entity["Id"].startswith("-")
    assert isinstance(answer.results[1].fault, errors.DuplicateNameFault)
    assert [w.operation for w in preview.writes] == ["create"]  # Inner refuses any real write
