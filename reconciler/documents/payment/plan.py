"""Pure: what one Luminous bill payment needs in QBO (its `KindPlan`). In order:

1. a record that cannot be read: rejected with the reason (`documents.plan.decide`);
2. void in Luminous: voided in QBO (QBO's own void of a BillPayment: amounts 0, "Voided" in
   its memo), or skipped when it never reached QBO;
3. its bill not in QBO yet: **wait** (retrying, no attempt spent; taken up again as soon as
   the bill is written, as a bill waits for its PO); its bill void or deleted in QBO: **park**;
4. otherwise the mapped payment is planned like every document: nothing to do for the same
   content, else create (looked up by DocNumber first) or update.

Gone from Luminous (deleted; found by the full sweep): deleted in QBO, or voided
(`[payments] on_delete`). More than the bill's balance, or dated in a closed period: QBO
refuses it (6000, 6210) and the payment fails alone with QBO's reason.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from reconciler.documents import actions
from reconciler.documents.bill.model import POStanding, POState
from reconciler.documents.payment.mapping import PaymentRules, desired_payment
from reconciler.documents.payment.model import PaymentStatus, SourcePayment
from reconciler.documents.plan import Decision, DesiredDocument, Moment, PlanPolicy
from reconciler.model import LedgerEntry


@dataclass(frozen=True)
class PaymentContext:
    """What deciding one payment needs beside it: the rules, and where its bill stands."""

    rules: PaymentRules
    bill: POStanding


class PaymentPlan:
    """The `KindPlan` of bill payments; `void_policy` is what a void in Luminous becomes."""

    def __init__(self, void_policy: PlanPolicy) -> None:
        self.void_policy = void_policy

    def describe(
        self, record: SourcePayment, entry: LedgerEntry | None, context: Any
    ) -> tuple[str | None, str | None]:
        prefix = context.rules.doc_number_prefix if context is not None else ""
        return f"{prefix}P{record.id}", record.vendor_name

    def early(
        self, record: SourcePayment, entry: LedgerEntry | None, context: PaymentContext, at: Moment
    ) -> Decision | None:
        number, vendor = self.describe(record, entry, context)
        if record.status is PaymentStatus.VOID:
            return Decision(self._void(record, entry, at), None, number, vendor)
        bill = context.bill
        if bill.state is POState.WAITING:
            wakers = (record.bill_id,)
            return Decision(
                actions.Wait(bill.reason, actions.BILL_WAIT_CODE), None, number, vendor, wakers
            )
        if bill.state is POState.NEVER:
            why = f"{bill.reason}: the payment has nothing to pay in QBO"
            return Decision(
                actions.Park(why, actions.BILL_PARK_CODE), None, number, vendor, (record.bill_id,)
            )
        return None

    def desired(self, record: SourcePayment, context: PaymentContext) -> DesiredDocument:
        assert context.bill.qbo_id is not None
        return desired_payment(record, context.bill.qbo_id, context.rules)

    def _void(self, record: SourcePayment, entry: LedgerEntry | None, at: Moment) -> Any:
        if entry is None or (entry.qbo_id is None and entry.request_id is None):
            return actions.Hold("void in Luminous; never in QBO")
        since = entry.source_updated_at is None or record.updated_at > entry.source_updated_at
        return dataclasses.replace(at, force=at.force or since).vanished(entry, self.void_policy)


def payment_policies(policy: PlanPolicy, on_delete: str) -> tuple[PlanPolicy, PlanPolicy]:
    """(gone from Luminous: "delete" or "void" by `[payments] on_delete`; void in Luminous:
    a void in QBO, a close)."""
    gone = dataclasses.replace(
        policy, closed_never_synced="skip", on_delete="delete" if on_delete == "delete" else "close"
    )
    return gone, dataclasses.replace(gone, on_delete="close")
