"""Pure: a purchase order's own part of the plan (`documents.plan.decide` does the rest).

A PO never pushed is skipped while it is a draft, or while approval is required and Luminous
does not show it approved; once in QBO it follows every change. Its number is the first of its
`order_numbers`, its vendor its supplier, and the QBO document it should be is the mapping's
(`documents.po.mapping`, with the company's rules).
"""

from __future__ import annotations

from reconciler.documents.actions import Hold
from reconciler.documents.plan import Decision, DesiredDocument, Moment, PlanPolicy
from reconciler.documents.po import mapping
from reconciler.documents.po.model import SourcePO, SourceStatus
from reconciler.model import LedgerEntry

AWAITING = ("pending_approval", "pending", "awaiting_approval")


class POPlan:
    """The `KindPlan` of purchase orders; the context is the company's `MappingRules`."""

    def describe(
        self, record: SourcePO, entry: LedgerEntry | None, context: mapping.MappingRules
    ) -> tuple[str | None, str]:
        return (record.order_numbers[0] if record.order_numbers else None), record.supplier.name

    def early(
        self, record: SourcePO, entry: LedgerEntry | None, context: mapping.MappingRules, at: Moment
    ) -> Decision | None:
        reason = skip_reason(record, at.policy)
        if reason is None or (entry is not None and entry.qbo_id is not None):
            return None
        number, vendor = self.describe(record, entry, context)
        return Decision(Hold(reason), number=number, vendor=vendor)  # never pushed, not yet

    def desired(self, record: SourcePO, context: mapping.MappingRules) -> DesiredDocument:
        return mapping.desired_po(record, context)


def skip_reason(po: SourcePO, policy: PlanPolicy) -> str | None:
    """Why a source PO is not pushed at all (draft, not approved); None when it should be."""
    if po.status is SourceStatus.DRAFT:
        return "draft"
    approval = (po.approval_status or "").strip().lower().replace(" ", "_")
    if policy.require_approval and approval and approval != "approved":
        if approval in AWAITING:
            return "awaiting approval"
        return f"not approved ({po.approval_status})"
    return None
