"""The pure vendor-credit side: a Luminous vendor credit read, mapped, planned, its VendorCredit
body and its applications' BillPayment bodies. No I/O. The CLI's columns (LuminousInventory/
luminous-cli cli/resources/vendor_credits.py: id, vendor_name, amount, status, created_at);
Intuit's VendorCredit (lines as a Bill's) and BillPayment (Line "zero or more Bill,
VendorCredit ... objects"; TotalAmt the net: laf-rge/quickbooks-mcp #23)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import support

from reconciler.config.loader import Settings
from reconciler.documents import actions, coding, plan
from reconciler.documents.bill.model import POStanding, POState
from reconciler.documents.credit import body as bodies
from reconciler.documents.credit.model import CreditStatus
from reconciler.documents.credit.parse import credit_or_reject, parse_credit
from reconciler.documents.credit.plan import CreditContext, CreditPlan, cancel_policy
from reconciler.documents.references import ResolvedRefs
from reconciler.model import DocKind, LedgerEntry, LineKind, RejectedRecord, SyncStatus

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
RULES = dataclasses.replace(Settings().credit_rules(), application_account="Checking")
POLICY = cancel_policy(support.policy(), "void")
BILL = POStanding(POState.IN_QBO, "INV-1", "", "900")
UK = coding.CodingRules(
    tax=coding.TaxRules(codes=(("20", "20.0% S"),), zero_rate="0.0% Z"),
    global_tax="TaxExcluded",
)


def raw(**changes):
    credit = {
        "id": 8,
        "credit_number": "CN-8",
        "status": "partially_applied",
        "vendor_id": 3,
        "vendor_name": "Nutricost",
        "amount": "50.00",
        "credit_date": "2026-02-20",
        "memo": "damaged tubs",
        "updated_at": "2026-02-21T10:00:00.000000Z",
        "created_at": "2026-02-20T10:00:00.000000Z",
        "items": [],
        "applications": [{"id": 4, "bill_id": 5, "amount": "30.00", "status": "applied"}],
    }
    credit.update(changes)
    return credit


def decide(record, entry=None, bills=None, rules=RULES):
    bills = {5: BILL} if bills is None else bills
    return plan.decide(
        record,
        entry,
        CreditPlan(POLICY),
        CreditContext(rules, bills),
        policy=POLICY,
        realm_id="r1",
        now=NOW,
    )


def test_a_credit_is_read_with_its_applications():
    c = parse_credit(raw())
    assert (c.id, c.number, c.status, c.amount) == (8, "CN-8", CreditStatus.PARTIALLY_APPLIED, 50)
    (application,) = c.applied()
    assert (application.id, application.bill_id, application.amount) == (4, 5, Decimal("30.00"))
    reversed_ = parse_credit(
        raw(applications=[{"id": 4, "bill_id": 5, "amount": 30, "status": "reversed"}])
    )
    assert reversed_.applied() == ()
    assert parse_credit(raw(status="Canceled")).status is CreditStatus.CANCELLED


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"status": "lost"}, "unknown status"),
        ({"applications": [{"bill_id": 5, "amount": 1}]}, "applications[1] has no id"),
        ({"items": [{"quantity": "x", "unit_price": 1}]}, "bad number in items[1].quantity"),
    ],
)
def test_a_credit_that_cannot_be_read_is_rejected_with_its_number(changes, reason):
    rejected = credit_or_reject(raw(**changes))
    assert isinstance(rejected, RejectedRecord) and reason in rejected.reason
    assert (rejected.number, rejected.kind) == ("CN-8", DocKind.VENDOR_CREDIT)


def test_a_credit_without_lines_is_one_account_line_and_its_application_a_billpayment():
    decision = decide(parse_credit(raw()))
    assert isinstance(decision.action, actions.Create)
    credit = decision.desired
    (line,) = credit.lines
    assert (line.kind, line.amount, line.account) == (
        LineKind.ACCOUNT,
        Decimal("50.00"),
        RULES.account,
    )
    assert credit.doc_number == "CN-8" and "damaged tubs" in credit.private_note
    (application,) = credit.applications
    assert (application.doc_number, application.bill_qbo_id, application.amount) == (
        "L-A4",
        "900",
        Decimal("30.00"),
    )


def test_lines_are_coded_as_a_bills_and_the_us_tax_is_an_account_line():
    whey = {"id": 1, "name": "Whey", "sku": "W-1"}
    items = [
        {"id": 1, "product": whey, "quantity": "2", "unit_price": "42.50", "tax": "3.40"},
        {"id": 2, "description": "fee refunded", "quantity": "1", "unit_price": "10"},
    ]
    credit = decide(parse_credit(raw(items=items, applications=[]))).desired
    kinds = [(ln.kind, ln.amount, ln.key) for ln in credit.lines]
    assert kinds == [
        (LineKind.ITEM, Decimal("85.00"), "item:1"),
        (LineKind.ACCOUNT, Decimal("10.00"), "item:2"),
        (LineKind.ACCOUNT, Decimal("3.40"), "tax"),
    ]
    uk_rules = dataclasses.replace(RULES, lines=dataclasses.replace(RULES.lines, line_coding=UK))
    items[0]["tax"] = "17.00"
    uk = decide(parse_credit(raw(items=items, applications=[])), rules=uk_rules).desired
    assert [ln.tax_code for ln in uk.lines] == ["20.0% S", "0.0% Z"]  # QBO computes the VAT
    assert uk.tax_calculation == "TaxExcluded"


def test_a_credit_applied_to_a_bill_not_in_qbo_waits_and_to_a_void_one_is_parked():
    waiting = POStanding(POState.WAITING, "INV-1", "bill INV-1 is not in QBO yet (pending)")
    early = decide(parse_credit(raw()), bills={5: waiting})
    assert isinstance(early.action, actions.Wait) and early.waits_for == (5,)
    assert early.action.code == "bill_not_in_qbo"
    void = POStanding(POState.NEVER, "INV-1", "bill INV-1 is void in QBO")
    parked = decide(parse_credit(raw()), bills={5: void})
    assert isinstance(parked.action, actions.Park) and parked.action.code == "bill_not_pushed"
    assert (
        isinstance(parked.action, actions.Park)
        and "reverse the application" in parked.action.reason
    )


def test_drafts_cancellations_and_what_changes_the_content():
    draft = decide(parse_credit(raw(status="draft", applications=[])))
    assert isinstance(draft.action, actions.Hold) and "draft" in draft.action.reason
    never = decide(parse_credit(raw(status="cancelled", applications=[])))
    assert isinstance(never.action, actions.Hold) and "never in QBO" in never.action.reason
    first = decide(parse_credit(raw())).desired
    row = LedgerEntry(8, SyncStatus.SYNCED, "CN-8", qbo_id="70", content_hash=first.content_hash)
    assert isinstance(decide(parse_credit(raw()), row).action, actions.Noop)
    reversed_ = raw(applications=[{"id": 4, "bill_id": 5, "amount": 30, "status": "reversed"}])
    assert isinstance(decide(parse_credit(reversed_), row).action, actions.Update)
    cancelled = decide(parse_credit(raw(status="cancelled", applications=[])), row)
    assert isinstance(cancelled.action, actions.Close)  # void in QBO
    deleting = CreditPlan(cancel_policy(support.policy(), "delete"))
    gone = plan.decide(
        parse_credit(raw(status="cancelled")),
        row,
        deleting,
        CreditContext(RULES, {5: BILL}),
        policy=POLICY,
        realm_id="r1",
        now=NOW,
    )
    assert isinstance(gone.action, actions.Delete)


def test_a_credit_with_nothing_to_credit_is_rejected():
    empty = decide(parse_credit(raw(amount=None, applications=[])))
    assert (
        isinstance(empty.action, actions.Reject) and "no lines and no amount" in empty.action.reason
    )
    unnamed = decide(parse_credit(raw(vendor_name=None)))
    assert isinstance(unnamed.action, actions.Reject) and "names no vendor" in unnamed.action.reason


def test_the_credits_body_and_its_applications_billpayment():
    credit = decide(parse_credit(raw())).desired
    refs = ResolvedRefs(vendor_id="3", account_ids={RULES.account: "60"}, ap_account_id="1")
    body = bodies.credit_payload(credit, refs)
    assert body["VendorRef"]["value"] == "3" and body["DocNumber"] == "CN-8"
    assert body["Line"][0]["AccountBasedExpenseLineDetail"]["AccountRef"] == {"value": "60"}
    assert (body["TxnDate"], body["APAccountRef"]) == ("2026-02-20", {"value": "1"})
    held = {"Id": "70", "VendorRef": {"value": "3"}, "TxnDate": "2026-02-20"}
    (application,) = credit.applications
    payment = bodies.application_payload(application, held, "7", "note")
    assert payment["TotalAmt"] == 0 and payment["CheckPayment"]["BankAccountRef"] == {"value": "7"}
    assert [ln["LinkedTxn"][0] for ln in payment["Line"]] == [
        {"TxnId": "900", "TxnType": "Bill"},
        {"TxnId": "70", "TxnType": "VendorCredit"},
    ]
    answered = {**payment, "Line": [{**ln, "Amount": "30.00"} for ln in payment["Line"]]}
    assert bodies.same_application(application, answered)
    other_bill = dataclasses.replace(application, bill_qbo_id="901")
    assert not bodies.same_application(other_bill, answered)
    ours = bodies.our_application_number("L-")
    assert ours.match("L-A4") and not ours.match("L-P4") and not ours.match("A4")
    assert bodies.applied_payments({"LinkedTxn": [{"TxnId": "12", "TxnType": "BillPayment"}]}) == [
        "12"
    ]
