"""SIGKILL while payments (and a credit's application) are written, then restart: each Luminous
payment once in QBO, each bill's balance what Luminous paid.

The daemon (`python -m reconciler run --once`) is killed at a named point
(`reconciler.crashpoints`, RECONCILER_CRASH_AT) while one payment is created alone, and again
while two are created in one /batch and the first is voided. With QBO's requestid replay off
and its duplicate-number check off, only the look-before-create (DocNumber L-P<id>; the
application's L-A<id>, and the credit's LinkedTxn) stands between a kill and a second payment.
`qbo_answered` is the kill between a payment's request and its outcome. The inner loop kills
there; the other two points are marked slow (a restart each, several seconds) and run in CI.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from payables_kit import money, pay, payables, payments_in_qbo, posted_bill, qbo_of, run
from reliability_kit import SIGKILLED

from reconciler.model import DocKind, SyncStatus
from reconciler.sandbox.qbo.server import FaultRule
from reconciler.state import StateStore

POINTS = ("ledger_pending", "qbo_no_reply", "qbo_answered")


def _crash(w, point: str, label: str) -> None:
    if point == "qbo_no_reply":  # the payment is committed, the answer never arrives
        w.qbo.add_fault(
            FaultRule(method="POST", path_regex=r"/(billpayment|batch)", action="drop_after_commit")
        )
    code = run(w, crash_at=f"{point}:1", label=f"crash {label}")
    w.qbo.clear_faults()
    assert code == SIGKILLED, f"{point} was not reached"


def _settle(w, label: str) -> None:
    for _ in range(5):
        if run(w, label=label) == 0:
            return
    raise AssertionError(f"{label}: the passes did not settle")


def _check(w, bills: list[dict]) -> None:
    """Every Luminous payment once in QBO (a void one voided), every bill's balance what its
    payments left, every payment's ledger row synced."""
    store = StateStore.open(w.state_path)
    try:
        for bill in bills:
            paid = Decimal(0)
            for payment in w.lum.payments.of(bill["id"]):
                found = payments_in_qbo(w, f"L-P{payment['id']}")
                assert len(found) == 1, f"payment {payment['id']} is {len(found)} times in QBO"
                void = payment["status"] == "void"
                want = Decimal(0) if void else money(payment["paid_amount"])
                assert money(found[0]["TotalAmt"]) == want
                paid += want
                row = store.ledger.entry(payment["id"], DocKind.PAYMENT)
                assert row.status is SyncStatus.SYNCED and row.qbo_id == found[0]["Id"]
            total = money(qbo_of(w, bill["id"], DocKind.BILL)["TotalAmt"])
            assert money(qbo_of(w, bill["id"], DocKind.BILL)["Balance"]) == total - paid
        assert store.integrity_ok()
    finally:
        store.close()


@pytest.mark.parametrize(
    "point", [p if p == "qbo_answered" else pytest.param(p, marks=pytest.mark.slow) for p in POINTS]
)
def test_sigkill_while_payments_are_written_then_restart_pays_each_once(tmp_path, point):
    with payables(tmp_path, replay=False) as w:
        w.qbo.duplicate_docnumber_check = False  # a second payment would really double
        bills = [posted_bill(w, "10", f"INV-{n}") for n in range(3)]
        _settle(w, "bills first")
        first = pay(w, bills[0], "100.00")
        _crash(w, point, "one payment")
        _settle(w, f"settle {point}")
        _check(w, bills)

        pay(w, bills[1], "200.00", "bank_transfer")
        pay(w, bills[2], "425.00", "credit_card")
        w.lum.payments.void(bills[0]["id"], first["id"], updated_at=w.source.stamps.next())
        _crash(w, point, "a batch of payments and a void")
        _settle(w, f"settle {point} again")
        _check(w, bills)
        assert len(w.qbo.objects("BillPayment")) == 3


def test_sigkill_between_a_credits_application_and_its_outcome_applies_it_once(tmp_path):
    """Killed after QBO made the application's BillPayment and before the ledger knew: the
    restart finds it (the credit's LinkedTxn, its number) and makes no second one."""
    with payables(tmp_path, replay=False) as w:
        w.qbo.duplicate_docnumber_check = False
        bill = posted_bill(w, "10", "INV-A")
        _settle(w, "bill first")
        supplier = w.source.supplier("Nutricost")
        credit = w.lum.credits.create(
            {"vendor_id": supplier["id"], "amount": "60.00"}, w.source.stamps.next()
        )
        w.lum.credits.apply(
            credit["id"], {"bill_id": bill["id"], "amount": "60"}, w.source.stamps.next()
        )
        _crash(w, "qbo_answered", "credit applied")
        assert len(w.qbo.objects("BillPayment")) == 1  # it landed; the ledger does not know
        _settle(w, "settle the credit")
        assert len(w.qbo.objects("BillPayment")) == 1
        assert len(w.qbo.objects("VendorCredit")) == 1
        assert money(qbo_of(w, bill["id"], DocKind.BILL)["Balance"]) == money("365.00")
        row = StateStore.open(w.state_path)
        try:
            assert row.ledger.entry(credit["id"], DocKind.VENDOR_CREDIT).status is SyncStatus.SYNCED
        finally:
            row.close()
