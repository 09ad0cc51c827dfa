"""Pure: a purchase order's own part of the plan (`documents.plan.decide` does the rest).

A PO never pushed is skipped while it is a draft, or while approval is required and Luminous
does not show it approved; once in QBO it follows every change. Approval fails closed: with
`sync.require_approval`, a PO is pushed only when the field `sync.approval_field` names holds
one of `sync.approved_values`. A PO without that field (Luminous's reference shows none), or
with it empty, is not pushed: it is recorded failed with a reason that names the field and the
settings, since only a person can say where Luminous keeps approval. Its number is the first
of its `order_numbers`, its vendor its supplier, and the QBO document it should be is the
mapping's (`documents.po.mapping`, with the company's rules).
"""

from __future__ import annotations

from reconciler.documents.actions import Hold
from reconciler.documents.plan import Decision, DesiredDocument, Moment, PlanPolicy
from reconciler.documents.po import mapping
from reconciler.documents.po.model import SourcePO, SourceStatus
from reconciler.luminous.values import approval_word
from reconciler.model import LedgerEntry, SyncStatus

AWAITING = ("pending_approval", "pending", "awaiting_approval")
APPROVAL_UNREADABLE = "approval_unreadable"  # the error code of a PO whose approval is unread


class POPlan:
    """The `KindPlan` of purchase orders; the context is the company's `MappingRules`."""

    def describe(
        self, record: SourcePO, entry: LedgerEntry | None, context: mapping.MappingRules
    ) -> tuple[str | None, str]:
        return (record.order_numbers[0] if record.order_numbers else None), record.supplier.name

    def early(
        self, record: SourcePO, entry: LedgerEntry | None, context: mapping.MappingRules, at: Moment
    ) -> Decision | None:
        hold = held_back(record, at.policy)
        if hold is None or (entry is not None and entry.qbo_id is not None):
            return None
        number, vendor = self.describe(record, entry, context)
        return Decision(hold, number=number, vendor=vendor)  # never pushed, not yet

    def desired(self, record: SourcePO, context: mapping.MappingRules) -> DesiredDocument:
        return mapping.desired_po(record, context)


def skip_reason(po: SourcePO, policy: PlanPolicy) -> str | None:
    """Why a source PO is not pushed at all (draft, not approved); None when it should be."""
    hold = held_back(po, policy)
    return hold.reason if hold is not None else None


def held_back(po: SourcePO, policy: PlanPolicy) -> Hold | None:
    """The hold of a PO that must not be pushed yet: skipped while a draft or not approved,
    failed when approval is required and cannot be read (the module docs)."""
    if po.status is SourceStatus.DRAFT:
        return Hold("draft")
    if not policy.require_approval:
        return None
    field = policy.approval_field
    if po.approval_status is None:
        what = "has no" if po.approval_missing else "has an empty"
        return Hold(
            f"approval is required (sync.require_approval) but the PO {what} {field!r} field "
            "(sync.approval_field): not pushed; name the field Luminous uses, or set "
            "sync.require_approval = false",
            SyncStatus.FAILED,
            APPROVAL_UNREADABLE,
        )
    word = approval_word(po.approval_status)
    if word in policy.approved_values:
        return None
    if word in AWAITING:
        return Hold("awaiting approval")
    return Hold(f"not approved ({field} {po.approval_status!r} is not in sync.approved_values)")
