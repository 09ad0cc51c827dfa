"""The pure payment side: a Luminous bill payment read, mapped, planned, and its BillPayment
body. No I/O. Field names and payment_type values as the official CLI shows them
(LuminousInventory/luminous-cli, cli/resources/purchase_orders.py: payment_date, payment_type
cash|credit_card|debit_card|check|bank_transfer, paid_amount, remarks); BillPayment as Intuit's
reference has it (PayType Check with CheckPayment.BankAccountRef, CreditCard with
CreditCardPayment.CCAccountRef; Line.LinkedTxn to the Bill)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import support

from reconciler.config.loader import Settings, load_settings
from reconciler.documents import actions, plan
from reconciler.documents.bill.model import POStanding, POState
from reconciler.documents.bill.standing import bill_standing
from reconciler.documents.payment import body as bodies
from reconciler.documents.payment.mapping import PaymentRules
from reconciler.documents.payment.model import PaymentStatus
from reconciler.documents.payment.parse import parse_payment, payment_or_reject
from reconciler.documents.payment.plan import PaymentContext, PaymentPlan, payment_policies
from reconciler.documents.references import ResolvedRefs
from reconciler.errors import ConfigError
from reconciler.model import DocKind, LedgerEntry, Lifecycle, RejectedRecord, SyncStatus

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ACCOUNTS = (("check", "Checking"), ("credit_card", "Visa"), ("default", "Petty"))
RULES = PaymentRules(accounts=ACCOUNTS)
GONE, VOID = payment_policies(support.policy(), "delete")
IN_QBO = POStanding(POState.IN_QBO, "INV-1", "", "900")


def raw(**changes):
    payment = {
        "id": 31,
        "payment_date": "2026-02-10",
        "payment_type": "check",
        "paid_amount": "200.00",
        "remarks": "part one",
        "status": "completed",
        "bill": {
            "id": 5,
            "bill_number": "INV-1",
            "vendor_id": 3,
            "vendor_name": " Nutricost ",
            "currency": "USD",
            "updated_at": "2026-02-11T10:00:00.000000Z",
        },
    }
    payment.update(changes)
    return payment


def decide(record, entry=None, bill=IN_QBO, rules=RULES):
    return plan.decide(
        record,
        entry,
        PaymentPlan(VOID),
        PaymentContext(rules, bill),
        policy=GONE,
        realm_id="r1",
        now=NOW,
    )


def test_a_payment_is_read_with_its_bill_and_the_bills_stamp():
    p = parse_payment(raw())
    assert (p.id, p.bill_id, p.amount, p.payment_type) == (31, 5, Decimal("200.00"), "check")
    assert p.updated_at == datetime(2026, 2, 11, 10, tzinfo=UTC)  # its bill's: the read's key
    assert (p.vendor_name, p.bill_number, p.status) == (
        "Nutricost",
        "INV-1",
        PaymentStatus.COMPLETED,
    )
    assert parse_payment(raw(status="Voided")).status is PaymentStatus.VOID


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"paid_amount": "lots"}, "bad number in paid_amount"),
        ({"payment_type": "wire"}, "unknown payment_type"),
        ({"bill": None}, "without its bill"),
        ({"bill": {"vendor_name": "X"}}, "payment names no bill"),
        ({"bill": {"id": 5}}, "missing bill.updated_at"),
    ],
)
def test_a_payment_that_cannot_be_read_is_rejected_with_the_reason(changes, reason):
    rejected = payment_or_reject(raw(**changes))
    assert isinstance(rejected, RejectedRecord) and reason in rejected.reason
    assert (rejected.doc_id, rejected.kind) == (31, DocKind.PAYMENT)


def test_a_payment_maps_to_one_line_linked_to_its_bill_from_the_account_of_its_type():
    decision = decide(parse_payment(raw()))
    assert isinstance(decision.action, actions.Create)
    desired = decision.desired
    assert (desired.doc_number, desired.pay_type, desired.account) == ("L-P31", "Check", "Checking")
    assert (desired.bill_qbo_id, desired.amount) == ("900", Decimal("200.00"))
    assert desired.private_note == "Luminous payment 31 of bill INV-1 (check)\npart one"
    assert desired.vendor.display_name == "Nutricost" and decision.vendor == "Nutricost"
    card = decide(parse_payment(raw(payment_type="credit_card"))).desired
    assert (card.pay_type, card.account) == ("CreditCard", "Visa")
    cash = decide(parse_payment(raw(payment_type="cash"))).desired
    assert (cash.pay_type, cash.account) == ("Check", "Petty")  # the "default" account


def test_a_payment_with_no_account_or_no_amount_is_rejected():
    strict = PaymentRules(accounts=(("check", "Checking"),))
    none = decide(parse_payment(raw(payment_type="cash")), rules=strict)
    assert isinstance(none.action, actions.Reject) and "payment_type cash" in none.action.reason
    zero = decide(parse_payment(raw(paid_amount="0")))
    assert isinstance(zero.action, actions.Reject) and "not above zero" in zero.action.reason


def test_a_payment_waits_for_its_bill_and_is_parked_when_the_bill_is_void():
    waiting = POStanding(POState.WAITING, "INV-1", "bill INV-1 is not in QBO yet (retrying)")
    early = decide(parse_payment(raw()), bill=waiting)
    assert isinstance(early.action, actions.Wait) and early.waits_for == (5,)
    assert early.action.code == "bill_not_in_qbo"  # what it waits for, not a PO
    void = POStanding(POState.NEVER, "INV-1", "bill INV-1 is void in QBO")
    parked = decide(parse_payment(raw()), bill=void)
    assert isinstance(parked.action, actions.Park) and "void in QBO" in parked.action.reason
    assert parked.action.code == "bill_not_pushed"


def test_a_void_payment_is_voided_in_qbo_or_skipped_when_it_never_got_there():
    never = decide(parse_payment(raw(status="void")))
    assert isinstance(never.action, actions.Hold) and "never in QBO" in never.action.reason
    synced = LedgerEntry(31, SyncStatus.SYNCED, qbo_id="44", content_hash="h", kind=DocKind.PAYMENT)
    assert isinstance(decide(parse_payment(raw(status="void")), synced).action, actions.Close)
    done = dataclasses.replace(synced, lifecycle=Lifecycle.CLOSED)
    assert isinstance(decide(parse_payment(raw(status="void")), done).action, actions.Noop)
    gone = plan.decide_vanished(synced, policy=GONE, realm_id="r1", now=NOW)
    assert isinstance(gone.action, actions.Delete)  # [payments] on_delete = "delete"


def test_the_same_payment_twice_is_nothing_to_do_and_an_edit_is_an_update():
    first = decide(parse_payment(raw()))
    row = LedgerEntry(
        31,
        SyncStatus.SYNCED,
        qbo_id="44",
        content_hash=first.desired.content_hash,
        lifecycle=Lifecycle.OPEN,
        kind=DocKind.PAYMENT,
    )
    assert isinstance(decide(parse_payment(raw()), row).action, actions.Noop)
    assert isinstance(decide(parse_payment(raw(paid_amount="210")), row).action, actions.Update)


def test_where_a_bill_stands_for_its_payments():
    assert bill_standing(5, None).state is POState.WAITING
    row = LedgerEntry(5, SyncStatus.SYNCED, "INV-1", qbo_id="900", lifecycle=Lifecycle.OPEN)
    assert bill_standing(5, row).qbo_id == "900"
    void = dataclasses.replace(row, lifecycle=Lifecycle.CLOSED)
    assert bill_standing(5, void).state is POState.NEVER
    held = LedgerEntry(5, SyncStatus.SKIPPED, "INV-1", last_error_message="on hold in Luminous")
    standing = bill_standing(5, held)
    assert standing.state is POState.WAITING and "on hold" in standing.reason


def test_the_body_names_the_bank_or_card_and_links_the_bill():
    desired = decide(parse_payment(raw())).desired
    refs = ResolvedRefs(vendor_id="3", account_ids={"Checking": "7"}, ap_account_id="1")
    body = bodies.payment_payload(desired, refs, "3")
    assert body["CheckPayment"] == {"BankAccountRef": {"value": "7"}}
    assert body["Line"] == [
        {"Amount": Decimal("200.00"), "LinkedTxn": [{"TxnId": "900", "TxnType": "Bill"}]}
    ]
    assert (body["TotalAmt"], body["DocNumber"], body["TxnDate"]) == (
        Decimal("200.00"),
        "L-P31",
        "2026-02-10",
    )
    assert body["APAccountRef"] == {"value": "1"} and "CurrencyRef" not in body
    card = bodies.pay_block("CreditCard", "9")
    assert card == {"CreditCardPayment": {"CCAccountRef": {"value": "9"}}}
    with pytest.raises(ConfigError):
        bodies.payment_payload(desired, ResolvedRefs(vendor_id="3"), "3")
    voided = {"TotalAmt": "0", "Line": [], "PrivateNote": "Voided - x"}
    assert bodies.is_void(voided) and not bodies.is_void({**voided, "TotalAmt": 5})


def test_payments_need_luminous_bills_and_named_accounts():
    base = {"RECONCILER_PAYMENTS__FROM": "luminous"}
    with pytest.raises(ConfigError) as caught:
        load_settings(None, base, require_secrets=False)
    problems = "\n".join(caught.value.problems)
    assert 'needs bills.from = "bills"' in problems and "payments.accounts must name" in problems
    assert Settings().payments.from_ == "off" and Settings().vendor_credits.from_ == "off"
