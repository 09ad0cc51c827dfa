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
   gone from QBO): **park** the bill (failed, with the reason; taken up again when that PO
   changes), or post the line unlinked (`bills.unpushed_po = "unlinked"`). A PO closed in QBO
   is not one of them: the writer reopens it for the link (`bill_links`);
6. otherwise the mapped bill (`bill_mapping`) is planned like a PO (`plan.plan_po`): nothing to
   do for the same content, else create (looked up by DocNumber and vendor first) or update.

Whether QBO shows the bill paid is QBO's to say: the writer asks before it edits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from reconciler.documents import outcomes, plan
from reconciler.documents.bill import mapping as bill_mapping
from reconciler.documents.bill.model import (
    NOT_YET,
    BillStatus,
    POStanding,
    POState,
    SourceBill,
)
from reconciler.documents.lines import QBOLine
from reconciler.errors import InvalidSourceRecord
from reconciler.model import DocKind, LedgerEntry, Lifecycle, Outcome, RejectedRecord, SyncStatus

WAIT_CODE, PARK_CODE = plan.WAIT_CODE, plan.PARK_CODE  # (named once, in `plan`)
NOT_YET_REASONS = {
    BillStatus.DRAFT: "draft in Luminous (not posted)",
    BillStatus.ON_HOLD: "on hold in Luminous",
    BillStatus.IN_PROGRESS: "receiving still in progress in Luminous",
}


@dataclass(frozen=True)
class Wait:
    """A PO of this bill is not in QBO yet: retrying, no attempt spent."""

    reason: str
    operation: ClassVar[str] = "wait"


@dataclass(frozen=True)
class Park:
    """A PO of this bill will not be pushed: failed until that PO (or the bill) changes."""

    reason: str
    operation: ClassVar[str] = "skip"


@dataclass(frozen=True)
class BillDecision:
    action: plan.Action | Wait | Park
    desired: object | None = None  # DesiredBill
    number: str | None = None
    vendor: str | None = None
    waits_for: tuple[int, ...] = ()  # the Luminous POs that will wake it


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
            POState.IN_QBO, number, "", entry.qbo_id, lines,
            facts.get("department_id"), facts.get("tax_calculation"),
        )  # fmt: skip
    if entry.lifecycle is Lifecycle.DELETED and entry.status is SyncStatus.SYNCED:
        return POStanding(POState.NEVER, number, f"{name} was deleted in QBO")
    if entry.status is SyncStatus.SKIPPED:
        why = entry.last_error_message or "skipped"
        return POStanding(POState.NEVER, number, f"{name} is not pushed to QBO ({why})")
    state = str(entry.status)
    why = f": {entry.last_error_message}" if entry.last_error_message else ""
    return POStanding(POState.WAITING, number, f"{name} is not in QBO yet ({state}{why})")


def decide_bill(
    record: SourceBill | RejectedRecord,
    entry: LedgerEntry | None,
    standings: Mapping[int, POStanding],
    *,
    rules: bill_mapping.BillRules,
    policy: plan.PlanPolicy,
    void_policy: plan.PlanPolicy,
    realm_id: str,
    now: datetime,
    force_retry: bool = False,
) -> BillDecision:
    """Everything the sync decides about one bill read from Luminous (see the module docs)."""
    if isinstance(record, RejectedRecord):
        return BillDecision(plan.Reject(record.reason), number=record.number)
    number = _number(record, rules, entry)
    vendor = record.vendor_name
    in_qbo = entry is not None and entry.qbo_id is not None
    in_qbo = in_qbo and entry.lifecycle is not Lifecycle.DELETED  # type: ignore[union-attr]
    if record.status in NOT_YET and not in_qbo:
        return BillDecision(plan.Hold(NOT_YET_REASONS[record.status]), None, number, vendor)
    force = force_retry or _woken(entry)
    if record.status is BillStatus.VOID:
        action = _void(record, entry, void_policy, realm_id=realm_id, now=now, force=force)
        return BillDecision(action, None, number, vendor)
    blocked = _blocked(record, standings)
    waiting = [s for s in blocked.values() if s.state is POState.WAITING]
    wakers = tuple(sorted(p for p in blocked if p > 0))
    if waiting:
        return BillDecision(Wait(_reasons(waiting)), None, number, vendor, wakers)
    if blocked and (rules.unpushed_po == "park" or record.origin is DocKind.RECEIPT):
        how = (
            ""
            if record.origin is DocKind.RECEIPT
            else ' (or set bills.unpushed_po = "unlinked" to post it without the link)'
        )
        why = f"{_reasons(list(blocked.values()))}; the bill waits for it to be pushed{how}"
        return BillDecision(Park(why), None, number, vendor, wakers)
    try:
        desired = bill_mapping.desired_bill(record, standings, rules)
    except InvalidSourceRecord as exc:
        return BillDecision(plan.Reject(exc.message), None, number, vendor)
    action = plan.plan_po(
        desired,  # type: ignore[arg-type]
        entry,
        realm_id=realm_id,
        now=now,
        policy=policy,
        force_retry=force,
    )
    return BillDecision(action, desired, desired.doc_number, desired.vendor.display_name)


def _void(
    record: SourceBill,
    entry: LedgerEntry | None,
    policy: plan.PlanPolicy,
    *,
    realm_id: str,
    now: datetime,
    force: bool,
) -> plan.Action:
    """A bill void in Luminous: voided (a close) or deleted in QBO, as one gone would be."""
    if entry is None or (entry.qbo_id is None and entry.request_id is None):
        return plan.Hold("void in Luminous; never in QBO")
    # voided since the row was written: a change, whatever the bill failed with before
    since = entry.source_updated_at is None or record.updated_at > entry.source_updated_at
    return plan.plan_po(
        None, entry, realm_id=realm_id, now=now, policy=policy, force_retry=force or since
    )


def decide_vanished_bill(
    entry: LedgerEntry, *, policy: plan.PlanPolicy, realm_id: str, now: datetime
) -> BillDecision:
    """A bill the full sweep (or a retry) no longer finds in Luminous: by `bills.on_delete`."""
    action = plan.plan_po(None, entry, realm_id=realm_id, now=now, policy=policy)
    return BillDecision(action, None, entry.number)


def bill_policy(policy: plan.PlanPolicy, choice: str) -> plan.PlanPolicy:
    """The PO planning policy for bills; `choice` is what happens to a bill that goes (void in
    Luminous, or gone from it): "void" is a close of the QBO document, "delete" a delete."""
    return dataclasses.replace(
        policy, closed_never_synced="skip", on_delete="delete" if choice == "delete" else "close"
    )


def _woken(entry: LedgerEntry | None) -> bool:
    """A bill that waited or was parked for its PO is not backing off from a failure."""
    return entry is not None and (
        entry.force_retry or entry.last_error_code in (WAIT_CODE, PARK_CODE)
    )


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


def _number(
    record: SourceBill, rules: bill_mapping.BillRules, entry: LedgerEntry | None
) -> str | None:
    if record.origin is DocKind.RECEIPT:
        return f"{rules.receipt_number_prefix}{record.id}"
    return record.number or (entry.number if entry else None)


# --- the rows a wait or a park ends in ---------------------------------------------------------


def waiting_record(
    entry: LedgerEntry,
    reason: str,
    *,
    number: str | None,
    updated_at: datetime | None,
    now: datetime,
    policy: plan.PlanPolicy,
) -> outcomes.Record:
    """Retrying without spending an attempt: the bill is woken when its PO is written, and
    looks again after `backoff_cap` at the latest."""
    kept = dataclasses.replace(
        entry,
        status=SyncStatus.RETRYING,
        number=number or entry.number,
        source_updated_at=updated_at or entry.source_updated_at,
        last_error_code=WAIT_CODE,
        last_error_message=reason,
        next_retry_at=now + policy.backoff_cap,
        force_retry=False,
    )
    outcome = Outcome(
        kept.doc_id,
        SyncStatus.RETRYING,
        "wait",
        number=kept.number,
        qbo_id=kept.qbo_id,
        error_code=WAIT_CODE,
        message=reason,
        kind=kept.kind,
    )
    return outcomes.Record(kept, outcome)


def parked_record(
    entry: LedgerEntry, reason: str, *, number: str | None, updated_at: datetime | None
) -> outcomes.Record:
    """Failed until its PO (or the bill) changes: nothing sent."""
    kept = dataclasses.replace(
        entry,
        status=SyncStatus.FAILED,
        number=number or entry.number,
        source_updated_at=updated_at or entry.source_updated_at,
        last_error_code=PARK_CODE,
        last_error_message=reason,
        next_retry_at=None,
        force_retry=False,
    )
    outcome = Outcome(
        kept.doc_id,
        SyncStatus.FAILED,
        "skip",
        number=kept.number,
        qbo_id=kept.qbo_id,
        error_code=PARK_CODE,
        message=reason,
        kind=kept.kind,
    )
    return outcomes.Record(kept, outcome)
