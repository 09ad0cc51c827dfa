"""Pure: what one Luminous bill (or receiving report) needs in QBO, given its ledger row and
where its POs stand. In order:

1. a record that cannot be read: rejected with the reason;
2. not posted yet (draft, on hold, receiving in progress) and never in QBO: skipped;
3. void in Luminous: voided (every amount 0) or deleted in QBO by `bills.on_void`; never in
   QBO: skipped (the same path as a bill gone from Luminous, by `bills.on_delete`);
4. a line allocated to a PO that is not in QBO yet: **wait** (retrying, with the reason; the
   bill is taken up again as soon as that PO is written, and at the latest after
   `sync.backoff_cap`; waiting costs no attempt);
5. a line allocated to a PO that will not be pushed (skipped: a draft, awaiting approval;
   gone from QBO): **park** the bill (skipped, with the reason; taken up again when that PO
   changes), or post the line unlinked (`bills.unpushed_po = "unlinked"`). A PO closed in QBO
   is not one of them: the writer reopens it for the link (`write.bill_links`);
6. otherwise the mapped bill (`documents.bill.mapping`) is planned like every document
   (`documents.plan.plan_write`): nothing to do for the same content, else create (looked up
   by DocNumber and vendor first) or update.

Whether QBO shows the bill paid is QBO's to say: the writer asks before it edits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.documents import actions
from reconciler.documents.bill import mapping
from reconciler.documents.bill.model import NOT_YET, BillStatus, POStanding, POState, SourceBill
from reconciler.documents.lines import QBOLine
from reconciler.documents.plan import Decision, DesiredDocument, Moment, PlanPolicy
from reconciler.model import DocKind, LedgerEntry, Lifecycle, SyncStatus

NOT_YET_REASONS = {
    BillStatus.DRAFT: "draft in Luminous (not posted)",
    BillStatus.ON_HOLD: "on hold in Luminous",
    BillStatus.IN_PROGRESS: "receiving still in progress in Luminous",
}


@dataclass(frozen=True)
class BillContext:
    """What deciding one bill needs beside the bill: the rules, where its POs stand, and the
    PO of each PO line a line names without its PO (as the PO lines written to QBO say)."""

    rules: mapping.BillRules
    standings: Mapping[int, POStanding]
    po_of_line: Mapping[int, int] = dataclasses.field(default_factory=dict)

    def linked(self, bill: SourceBill) -> SourceBill:
        """The bill with each line's PO filled in from its PO line, where it was missing."""
        if all(line.po_id is not None or line.po_line_id is None for line in bill.lines):
            return bill
        lines = tuple(
            dataclasses.replace(line, po_id=self.po_of_line.get(line.po_line_id))
            if line.po_id is None and line.po_line_id is not None
            else line
            for line in bill.lines
        )
        return dataclasses.replace(bill, lines=lines)


class BillPlan:
    """The `KindPlan` of bills and receiving reports; `void_policy` is what a bill void in
    Luminous becomes (`bills.on_void`)."""

    def __init__(self, void_policy: PlanPolicy) -> None:
        self.void_policy = void_policy

    def describe(
        self, record: SourceBill, entry: LedgerEntry | None, context: BillContext
    ) -> tuple[str | None, str | None]:
        if record.origin is DocKind.RECEIPT:
            return f"{context.rules.receipt_number_prefix}{record.id}", record.vendor_name
        return record.number or (entry.number if entry else None), record.vendor_name

    def early(
        self, record: SourceBill, entry: LedgerEntry | None, context: BillContext, at: Moment
    ) -> Decision | None:
        number, vendor = self.describe(record, entry, context)
        record = context.linked(record)
        in_qbo = entry is not None and entry.qbo_id is not None
        in_qbo = in_qbo and entry is not None and entry.lifecycle is not Lifecycle.DELETED
        if record.status in NOT_YET and not in_qbo:
            return Decision(actions.Hold(NOT_YET_REASONS[record.status]), None, number, vendor)
        if record.status is BillStatus.VOID:
            return Decision(self._void(record, entry, at), None, number, vendor)
        blocked = _blocked(record, context.standings)
        waiting = [s for s in blocked.values() if s.state is POState.WAITING]
        wakers = tuple(sorted(p for p in blocked if p > 0))
        if waiting:
            return Decision(actions.Wait(_reasons(waiting)), None, number, vendor, wakers)
        if blocked and (context.rules.unpushed_po == "park" or record.origin is DocKind.RECEIPT):
            how = (
                ""
                if record.origin is DocKind.RECEIPT
                else ' (or set bills.unpushed_po = "unlinked" to post it without the link)'
            )
            why = f"{_reasons(list(blocked.values()))}; the bill waits for it to be pushed{how}"
            return Decision(actions.Park(why), None, number, vendor, wakers)
        return None

    def desired(self, record: SourceBill, context: BillContext) -> DesiredDocument:
        return mapping.desired_bill(context.linked(record), context.standings, context.rules)

    def _void(self, record: SourceBill, entry: LedgerEntry | None, at: Moment) -> actions.Action:
        """A bill void in Luminous: voided (a close) or deleted in QBO, as one gone would be."""
        if entry is None or (entry.qbo_id is None and entry.request_id is None):
            return actions.Hold("void in Luminous; never in QBO")
        # voided since the row was written: a change, whatever the bill failed with before
        since = entry.source_updated_at is None or record.updated_at > entry.source_updated_at
        return dataclasses.replace(at, force=at.force or since).vanished(entry, self.void_policy)


def bill_policy(policy: PlanPolicy, choice: str) -> PlanPolicy:
    """The planning policy for bills; `choice` is what happens to a bill that goes (void in
    Luminous, or gone from it): "void" is a close of the QBO document, "delete" a delete."""
    return dataclasses.replace(
        policy, closed_never_synced="skip", on_delete="delete" if choice == "delete" else "close"
    )


def standing_of(
    po_id: int,
    entry: LedgerEntry | None,
    lines: Mapping[str, QBOLine],
    facts: Mapping[str, Any] | None = None,
) -> POStanding:
    """Where a PO stands for the bills that pay for it, from its ledger row, and its lines and
    header (`facts`: location, tax calculation) as QBO last showed them."""
    name = f"PO {entry.number}" if entry is not None and entry.number else f"Luminous PO {po_id}"
    number = entry.number if entry is not None else None
    if entry is None:
        return POStanding(POState.WAITING, number, f"{name} has not been read yet")
    if entry.qbo_id and entry.lifecycle is not Lifecycle.DELETED:
        if not lines:
            why = f"the QBO line ids of {name} are not known yet; learnt on its next write"
            return POStanding(POState.WAITING, number, why, entry.qbo_id)
        # closed in QBO (by the sync, or by its bills): the writer reopens it for the link
        facts = facts or {}
        return POStanding(
            POState.IN_QBO,
            number,
            "",
            entry.qbo_id,
            lines,
            facts.get("department_id"),
            facts.get("tax_calculation"),
        )
    if entry.lifecycle is Lifecycle.DELETED and entry.status is SyncStatus.SYNCED:
        return POStanding(POState.NEVER, number, f"{name} was deleted in QBO")
    if entry.status is SyncStatus.SKIPPED:
        why = entry.last_error_message or "skipped"
        return POStanding(POState.NEVER, number, f"{name} is not pushed to QBO ({why})")
    state = str(entry.status)
    why = f": {entry.last_error_message}" if entry.last_error_message else ""
    return POStanding(POState.WAITING, number, f"{name} is not in QBO yet ({state}{why})")


def _blocked(bill: SourceBill, standings: Mapping[int, POStanding]) -> dict[int, POStanding]:
    """The POs that keep a line of this bill from linking (waiting, or never to be pushed)."""
    blocked: dict[int, POStanding] = {}
    for line in bill.lines:
        if line.po_line_id is None:
            continue
        if line.po_id is None:
            why = f"PO line {line.po_line_id} is on no PO the sync has written to QBO"
            blocked[-line.po_line_id] = POStanding(POState.WAITING, reason=why)
            continue
        standing = standings.get(line.po_id) or POStanding(
            POState.WAITING, reason=f"Luminous PO {line.po_id} has not been read yet"
        )
        if standing.state is POState.IN_QBO and f"item:{line.po_line_id}" not in standing.lines:
            name = f"PO {standing.number}" if standing.number else f"Luminous PO {line.po_id}"
            why = f"line {line.po_line_id} of {name} is not in QBO yet"
            standing = dataclasses.replace(standing, state=POState.WAITING, reason=why)
        if standing.state is not POState.IN_QBO:
            blocked[line.po_id] = standing
    return blocked


def _reasons(standings: list[POStanding]) -> str:
    return "; ".join(dict.fromkeys(s.reason for s in standings))
