"""The pure bill side: Luminous bills and receiving reports read, mapped, planned, and the
QBO Bill body and answer checks. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import support

from reconciler.config.loader import Settings
from reconciler.documents import actions, plan
from reconciler.documents.bill import body as bill_bodies
from reconciler.documents.bill import mapping as bill_mapping
from reconciler.documents.bill import plan as bill_plan
from reconciler.documents.bill.model import (
    BillStatus,
    POStanding,
    POState,
    SourceBill,
    SourceBillLine,
)
from reconciler.documents.bill.parse import bill_or_reject, parse_bill, parse_receipt
from reconciler.documents.bill.plan import BillContext, BillPlan
from reconciler.documents.lines import QBOLine, answered_lines, matched_lines
from reconciler.documents.references import ResolvedRefs
from reconciler.model import (
    DocKind,
    LedgerEntry,
    Lifecycle,
    RejectedRecord,
    SourceProduct,
    SyncStatus,
)

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
RULES = Settings().bill_rules()
POLICY = bill_plan.bill_policy(support.policy(), "void")
PO_LINE = QBOLine("item:11", "7", "ItemBasedExpenseLineDetail", "42", Decimal("10"), Decimal("4.5"))
IN_QBO = POStanding(POState.IN_QBO, "PO-1", "", "900", {"item:11": PO_LINE})


def raw_bill(**changes):
    bill = {
        "id": 5,
        "bill_number": " INV-1 ",
        "status": "posted",
        "vendor_id": 3,
        "vendor_name": "Nutricost",
        "bill_date": "2026-02-01",
        "due_date": "2026-03-03",
        "updated_at": "2026-02-01T10:00:00.000000Z",
        "items": [
            {
                "id": 70,
                "purchase_order_id": 1,
                "purchase_order_item_id": 11,
                "quantity": "4",
                "unit_price": "4.50",
                "amount": "18.00",
                "tax": "1.10",
                "product": {"id": 9, "name": "Whey", "sku": "W-1"},
            }
        ],
        "extra_costs": [{"id": 3, "name": "Freight", "quantity": 1, "unit_price": "5.25"}],
    }
    bill.update(changes)
    return bill


def decide(record, entry=None, standings=None, rules=RULES, **kw):
    context = BillContext(rules, {1: IN_QBO} if standings is None else standings)
    return plan.decide(
        record,
        entry,
        BillPlan(POLICY),
        context,
        policy=POLICY,
        realm_id="r",
        now=NOW,
        **kw,
    )


# --- the adapter -----------------------------------------------------------------------


def test_a_bill_is_read_with_exact_money_its_po_line_and_its_extra_costs():
    bill = parse_bill(raw_bill())
    assert bill.number == "INV-1" and bill.status is BillStatus.POSTED
    assert bill.lines[0].po_line_id == 11 and bill.lines[0].unit_price == Decimal("4.50")
    assert bill.costs[0].amount == Decimal("5.25") and bill.costs[0].name == "Freight"
    assert bill.linked_po_ids() == (1,)


def test_an_item_allocated_to_two_po_lines_becomes_two_lines_and_the_rest_unlinked():
    item = {"id": 70, "quantity": "10", "unit_price": "2", "product": {"name": "Whey"}}
    allocations = [
        {"bill_item_id": 70, "purchase_order_id": 1, "purchase_order_item_id": 11, "quantity": 4},
        {"bill_item_id": 70, "purchase_order_id": 1, "purchase_order_item_id": 12, "quantity": 5},
        {"bill_extra_cost_id": 3, "purchase_order_item_id": 11, "amount": "1.00"},
    ]
    bill = parse_bill(raw_bill(items=[item], allocations=allocations, extra_costs=[]))
    assert [(x.po_line_id, x.quantity) for x in bill.lines] == [(11, 4), (12, 5), (None, 1)]


def test_a_receiving_report_is_read_as_the_bill_it_becomes():
    report = {
        "id": 8,
        "purchase_order_id": 1,
        "status": "completed",
        "received_date": "2026-02-03T09:00:00Z",
        "updated_at": "2026-02-03T09:00:00Z",
        "items": [
            {"id": 1, "purchase_order_item_id": 11, "received_quantity": "3", "quantity": "5"},
            {"id": 2, "purchase_order_item_id": 12, "received_quantity": "0"},
        ],
        "purchase_orders": [{"id": 1, "supplier": {"name": "Nutricost"}}],
    }
    bill = parse_receipt(report)
    assert bill.origin is DocKind.RECEIPT and bill.vendor_name == "Nutricost"
    assert [(x.po_id, x.po_line_id, x.quantity, x.unit_price) for x in bill.lines] == [
        (1, 11, Decimal("3"), None)
    ]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"status": "disputed"}, "unknown status"),
        ({"items": "x"}, "items is not a list"),
        ({"updated_at": "soon"}, "bad timestamp"),
        ({"items": [{"quantity": "1"}]}, "missing number"),
    ],
)
def test_a_bill_that_cannot_be_read_is_rejected_with_its_number(changes, reason):
    rejected = bill_or_reject(raw_bill(**changes))
    assert isinstance(rejected, RejectedRecord) and reason in rejected.reason
    assert rejected.kind is DocKind.BILL and rejected.doc_id == 5


# --- mapping and plan ------------------------------------------------------------------


def test_a_linked_line_tax_and_freight_map_to_three_lines():
    decision = decide(parse_bill(raw_bill()))
    assert isinstance(decision.action, actions.Create)
    desired = decision.desired
    assert desired.doc_number == "INV-1" and desired.vendor.display_name == "Nutricost"
    assert [(x.amount, x.link is not None, x.account) for x in desired.lines] == [
        (Decimal("18.00"), True, None),
        (Decimal("1.10"), False, RULES.tax_account),
        (Decimal("5.25"), False, RULES.freight_account),
    ]


def test_the_content_hash_ignores_line_keys_and_follows_the_content():
    one = decide(parse_bill(raw_bill())).desired
    again = decide(parse_bill(raw_bill())).desired
    dearer = decide(parse_bill(raw_bill(extra_costs=[{"name": "Fee", "unit_price": "9"}]))).desired
    assert one.content_hash == again.content_hash != dearer.content_hash


def test_a_stated_amount_that_is_not_qty_times_price_is_rejected():
    item = {**raw_bill()["items"][0], "amount": "19.00"}
    decision = decide(parse_bill(raw_bill(items=[item])))
    assert (
        isinstance(decision.action, actions.Reject) and "is not quantity" in decision.action.reason
    )


def test_a_bill_whose_po_is_not_in_qbo_waits_and_names_it():
    waiting = POStanding(POState.WAITING, "PO-1", "PO PO-1 is not in QBO yet (retrying)")
    decision = decide(parse_bill(raw_bill()), standings={1: waiting})
    assert isinstance(decision.action, actions.Wait) and decision.waits_for == (1,)
    assert "PO PO-1 is not in QBO yet" in decision.action.reason


def test_a_bill_whose_po_will_not_be_pushed_is_parked_or_unlinked_by_configuration():
    never = POStanding(POState.NEVER, "PO-1", "PO PO-1 is not pushed to QBO (awaiting approval)")
    parked = decide(parse_bill(raw_bill()), standings={1: never})
    assert isinstance(parked.action, actions.Park) and "awaiting approval" in parked.action.reason
    loose = bill_mapping.BillRules(**{**RULES.__dict__, "unpushed_po": "unlinked"})
    posted = decide(parse_bill(raw_bill()), standings={1: never}, rules=loose)
    assert isinstance(posted.action, actions.Create)
    assert posted.desired.lines[0].link is None and posted.desired.lines[0].item.sku == "W-1"


def test_a_receipt_line_takes_the_po_lines_unit_cost():
    line = SourceBillLine(id=1, quantity=Decimal("3"), unit_price=None, po_id=1, po_line_id=11)
    receipt = SourceBill(
        8, DocKind.RECEIPT, BillStatus.COMPLETED, NOW, vendor_name="Nutricost", lines=(line,)
    )
    desired = decide(receipt).desired
    assert desired.doc_number == "RR-8" and desired.lines[0].amount == Decimal("13.50")


def test_void_drafts_and_numbers():
    draft = decide(parse_bill(raw_bill(status="draft")))
    assert isinstance(draft.action, actions.Hold) and "draft" in draft.action.reason
    void_never = decide(parse_bill(raw_bill(status="void")))
    assert (
        isinstance(void_never.action, actions.Hold) and "never in QBO" in void_never.action.reason
    )
    synced = LedgerEntry(5, SyncStatus.SYNCED, qbo_id="44", content_hash="h", kind=DocKind.BILL)
    void = decide(parse_bill(raw_bill(status="void")), synced)
    assert isinstance(void.action, actions.Close)  # void in QBO
    long = decide(parse_bill(raw_bill(bill_number="X" * 22)))
    assert isinstance(long.action, actions.Reject) and "22 characters" in long.action.reason
    odd = decide(parse_bill(raw_bill(bill_number="Rg.-Nr. „7“"))).desired
    assert odd.doc_number == "L-B5" and "Supplier bill number: Rg.-Nr. „7“" in odd.private_note


def test_a_standing_says_why():
    assert bill_plan.standing_of(1, None, {}).state is POState.WAITING
    skipped = LedgerEntry(1, SyncStatus.SKIPPED, number="PO-1", last_error_message="draft")
    assert bill_plan.standing_of(1, skipped, {}).state is POState.NEVER
    no_lines = LedgerEntry(1, SyncStatus.SYNCED, number="PO-1", qbo_id="9")
    assert "line ids" in bill_plan.standing_of(1, no_lines, {}).reason
    closed = LedgerEntry(1, SyncStatus.SYNCED, qbo_id="9", lifecycle=Lifecycle.CLOSED)
    assert bill_plan.standing_of(1, closed, {"item:11": PO_LINE}).state is POState.IN_QBO


# --- the body and the answer -------------------------------------------------------------


def _body():
    desired = decide(parse_bill(raw_bill())).desired
    refs = ResolvedRefs(vendor_id="3", account_ids={RULES.tax_account: "80"})
    link = bill_bodies.POLinkRef("900", PO_LINE, 1, "PO-1")
    return desired, bill_bodies.bill_payload(desired, refs, {1: link}), link


def test_a_linked_line_carries_the_po_lines_kind_item_and_the_link():
    _, body, _ = _body()
    line = body["Line"][0]
    assert line["DetailType"] == "ItemBasedExpenseLineDetail"
    assert line["ItemBasedExpenseLineDetail"] == {
        "ItemRef": {"value": "42"},
        "Qty": Decimal("4"),
        "UnitPrice": Decimal("4.50"),
    }
    assert line["LinkedTxn"] == [{"TxnId": "900", "TxnType": "PurchaseOrder", "TxnLineId": "7"}]


def test_links_missing_from_the_answer_are_named():
    _, body, link = _body()
    answer = {"Line": [{**line, "Id": str(n)} for n, line in enumerate(body["Line"], 1)]}
    assert bill_bodies.missing_links({1: link}, answer) == []
    dropped = {"Line": [{k: v for k, v in answer["Line"][0].items() if k != "LinkedTxn"}]}
    assert bill_bodies.missing_links({1: link}, dropped) == ["line 1 to PO PO-1 line 7"]


def test_an_update_keeps_a_line_with_its_link_and_sends_a_line_to_link_anew_without_id():
    desired, body, _ = _body()
    keys = [line.key for line in desired.lines]
    kept = {keys[0]: QBOLine(keys[0], "1", "ItemBasedExpenseLineDetail", "42")}
    linked = {
        "Id": "1",
        "LinkedTxn": [{"TxnId": "900", "TxnType": "PurchaseOrder", "TxnLineId": "7"}],
    }
    same = bill_bodies.with_line_ids(body, keys, kept, {"Line": [linked]})
    assert same["Line"][0]["Id"] == "1"
    unlinked = bill_bodies.with_line_ids(body, keys, kept, {"Line": [{"Id": "1"}]})
    assert "Id" not in unlinked["Line"][0]  # QBO links only a new line


def test_void_zeroes_every_line_and_marks_the_memo_and_paid_is_total_less_balance():
    held = {
        "TotalAmt": Decimal("18"),
        "Balance": Decimal("8"),
        "PrivateNote": "from the supplier",
        "Line": [
            {
                "Id": "1",
                "Amount": Decimal("18"),
                "DetailType": "ItemBasedExpenseLineDetail",
                "ItemBasedExpenseLineDetail": {"ItemRef": {"value": "42"}, "Qty": 4},
            }
        ],
    }
    void = bill_bodies.void_payload(held)
    assert (
        void["Line"][0]["Amount"] == 0 and void["Line"][0]["ItemBasedExpenseLineDetail"]["Qty"] == 0
    )
    assert void["PrivateNote"] == "Voided from the supplier"
    assert bill_bodies.paid_amount(held) == Decimal("10")


def test_void_of_a_tax_inclusive_bill_zeroes_its_gross_too():
    """QBO taxes a TaxInclusive line's gross (TaxInclusiveAmt, reconciler/sandbox/qbo/tax.py):
    a void that kept it would leave the tax on a bill of nothing."""
    detail = {"AccountRef": {"value": "6"}, "TaxInclusiveAmt": Decimal("12.00")}
    held = {
        "Line": [
            {
                "Id": "1",
                "Amount": Decimal("10.00"),
                "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": detail,
            }
        ]
    }
    void = bill_bodies.void_payload(held)
    assert void["Line"][0]["AccountBasedExpenseLineDetail"]["TaxInclusiveAmt"] == 0
    assert void["Line"][0]["Amount"] == 0 and detail["TaxInclusiveAmt"] == Decimal("12.00")


def test_answered_and_matched_lines_key_qbo_lines_by_source_line():
    answer = {
        "Line": [
            {"Id": "5", "LineNum": 1, "DetailType": "ItemBasedExpenseLineDetail", "Amount": 1,
             "ItemBasedExpenseLineDetail": {"ItemRef": {"value": "42"}, "Qty": 1, "UnitPrice": 1}},
            {"Id": "6", "LineNum": 2, "DetailType": "AccountBasedExpenseLineDetail", "Amount": 2,
             "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "80"}}},
        ]
    }  # fmt: skip
    learnt = answered_lines(["item:1", "tax"], answer)
    assert [(x.key, x.qbo_line_id, x.target_id) for x in learnt] == [
        ("item:1", "5", "42"),
        ("tax", "6", "80"),
    ]
    ours = [{k: v for k, v in line.items() if k != "Id"} for line in reversed(answer["Line"])]
    matched = matched_lines(["tax", "item:1"], ours, answer["Line"])
    assert [(x.key, x.qbo_line_id) for x in matched] == [("tax", "6"), ("item:1", "5")]


def test_an_unlinked_item_line_needs_its_item():
    line = SourceBillLine(
        id=1, quantity=Decimal("1"), unit_price=Decimal("2"), product=SourceProduct(None, "Tea")
    )
    bill = SourceBill(5, DocKind.BILL, BillStatus.POSTED, NOW, "B-1", "Nutricost", lines=(line,))
    desired = decide(bill, standings={}).desired
    with pytest.raises(Exception, match="no QBO id"):
        bill_bodies.bill_payload(desired, ResolvedRefs(vendor_id="3"), {})
