"""Pure: what one Luminous vendor credit needs in QBO (its `KindPlan`). In order:

1. a record that cannot be read: rejected with the reason (`documents.plan.decide`);
2. a draft never in QBO: skipped;
3. cancelled in Luminous: voided (every amount 0, "Voided" before its memo) or deleted in QBO
   by `[vendor_credits] on_cancel`, its applications undone first; skipped when it never
   reached QBO;
4. applied to a bill not in QBO yet: **wait** for it, as a bill waits for its PO; to a bill
   void or deleted in QBO: **park** with the reason;
5. otherwise the mapped credit is planned like every document: nothing to do for the same
   content (its applications included), else create (looked up first by number among the
   vendor's credits) or update.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.documents import actions
from reconciler.documents.bill.model import POStanding, POState
from reconciler.documents.credit.mapping import CreditRules, desired_credit
from reconciler.documents.credit.model import CreditStatus, SourceCredit
from reconciler.documents.plan import Decision, DesiredDocument, Moment, PlanPolicy
from reconciler.model import LedgerEntry


@dataclass(frozen=True)
class CreditContext:
    """The rules, and where each bill the credit is applied to stands."""

    rules: CreditRules
    bills: Mapping[int, POStanding]


class CreditPlan:
    """The `KindPlan` of vendor credits; `cancel_policy` says what a cancellation becomes."""

    def __init__(self, cancel_policy: PlanPolicy) -> None:
        self.cancel_policy = cancel_policy

    def describe(
        self, record: SourceCredit, entry: LedgerEntry | None, context: Any
    ) -> tuple[str | None, str | None]:
        return record.number or (entry.number if entry else None), record.vendor_name

    def early(
        self, record: SourceCredit, entry: LedgerEntry | None, context: CreditContext, at: Moment
    ) -> Decision | None:
        number, vendor = self.describe(record, entry, context)
        sent = entry is not None and (entry.qbo_id is not None or entry.request_id is not None)
        if record.status is CreditStatus.DRAFT and not sent:
            return Decision(actions.Hold("draft in Luminous"), None, number, vendor)
        if record.status is CreditStatus.CANCELLED:
            if entry is None or not sent:
                return Decision(actions.Hold("cancelled in Luminous; never in QBO"), None, number)
            since = entry.source_updated_at is None or record.updated_at > entry.source_updated_at
            moment = dataclasses.replace(at, force=at.force or since)
            return Decision(moment.vanished(entry, self.cancel_policy), None, number, vendor)
        blocked = {
            a.bill_id: context.bills[a.bill_id]
            for a in record.applied()
            if a.bill_id is not None and context.bills[a.bill_id].state is not POState.IN_QBO
        }
        wakers = tuple(sorted(blocked))
        reasons = "; ".join(dict.fromkeys(s.reason for s in blocked.values()))
        if any(s.state is POState.WAITING for s in blocked.values()):
            why = f"applied to a bill not in QBO yet: {reasons}"
            return Decision(actions.Wait(why, actions.BILL_WAIT_CODE), None, number, vendor, wakers)
        if blocked:
            why = f"applied to a bill QBO will not hold: {reasons}; reverse the application"
            return Decision(actions.Park(why, actions.BILL_PARK_CODE), None, number, vendor, wakers)
        return None

    def desired(self, record: SourceCredit, context: CreditContext) -> DesiredDocument:
        return desired_credit(record, context.bills, context.rules)


def cancel_policy(policy: PlanPolicy, on_cancel: str) -> PlanPolicy:
    """Cancelled in Luminous, or gone from it: "void" is a close of the QBO credit, "delete" a
    delete."""
    how = "delete" if on_cancel == "delete" else "close"
    return dataclasses.replace(policy, closed_never_synced="skip", on_delete=how)
