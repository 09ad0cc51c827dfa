"""Pure planning: what the desired document and the ledger row say must happen to one PO.

`plan_po` returns exactly one action. In order of precedence:

1. Gates (skipped with `force_retry`): FAILED with the same content hash -> Hold (parked until
   the PO changes or a user retries); RETRYING whose `next_retry_at` is still ahead -> Hold
   (backing off).
2. PENDING (a write was in flight when the process stopped) with the content it was sending:
   the SAME operation with the SAME request id as the ledger recorded (QBO answers a repeated
   requestid with the first answer). The operation is recovered by recomputing `request_id` for
   each operation and matching the recorded id; if nothing matches, an unpushed PO means create,
   a pushed one update. If the content changed since, plan normally: the old create may have
   landed, and like every create the new one looks QBO up first.
3. Desired versus ledger:
   - unchanged hash, SYNCED, same lifecycle -> Noop: no QBO call at all;
   - never pushed (no QBO id): OPEN -> Create; CLOSED -> by `closed_never_synced`
     ("skip", the default: a PO completed before the sync ever saw it, typically history at
     first start, is not back-filled into QBO; "create": created, closed); DELETED -> Hold
     (but when an earlier create was unconfirmed: CLOSED looks it up and closes it or creates
     it closed, DELETED -> Delete, which the executor resolves by DocNumber);
   - pushed: lifecycle became CLOSED -> Close (the update carries changed content too);
     DELETED -> Delete; otherwise changed -> Update (re-opening included);
   - pushed and deleted in QBO earlier (ledger lifecycle DELETED) but open again -> Create;
     deleted in QBO by someone else (a drift check found it: `drift`) -> Hold, until a user
     asks for a retry or `drift = "restore"` asked for one.
4. Vanished from Luminous (`desired is None`, found by the full sweep): by `on_delete`, Close
   (default, keeps the audit trail) or Delete; a PO that never reached QBO -> Noop. The
   executor sends a sparse `POStatus: Closed` for such a close, having no desired document.

Every create is looked up in QBO by DocNumber before it is sent (`reconciler.documents.identity`): a
match is adopted, never doubled. The plan still knows when an earlier create may have landed
(sent without a confirmed answer): a PO closed or cancelled meanwhile is then planned as a
close or delete of what landed, not skipped.

Request ids are sha256(realm | po | content hash | operation), hex, cut to 36 characters so they
fit both the single-request (50) and the batch (36) limits. The same content and operation always
give the same id, so a retry after an unclear outcome reuses it without any bookkeeping, and a
changed payload never reuses an old one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from reconciler.documents.po import mapping
from reconciler.documents.po.model import DesiredPO, SourcePO, SourceStatus
from reconciler.documents.request_ids import request_id
from reconciler.errors import InvalidSourceRecord
from reconciler.model import Drift, LedgerEntry, Lifecycle, RejectedRecord, SyncStatus

DELETED_IN_QBO = (
    "deleted in QBO by someone else; not recreated (drift = report): `reconciler retry` "
    "recreates it"
)
OPERATIONS = ("create", "update", "close", "delete")


@dataclass(frozen=True)
class PlanPolicy:
    """What configuration decides about planning; built by `settings.Settings.plan_policy()`,
    which holds every default."""

    on_delete: str  # PO vanished from Luminous: "close" | "delete"
    closed_never_synced: str  # "skip" | "create"
    require_approval: bool
    max_attempts: int  # transient failures before a PO is parked as FAILED
    backoff_base: timedelta
    backoff_cap: timedelta


# --- actions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Create:
    request_id: str
    operation: ClassVar[str] = "create"


@dataclass(frozen=True)
class Update:
    request_id: str
    operation: ClassVar[str] = "update"


@dataclass(frozen=True)
class Close:
    """An update with POStatus Closed (carrying any content change too)."""

    request_id: str
    operation: ClassVar[str] = "close"


@dataclass(frozen=True)
class Delete:
    request_id: str
    operation: ClassVar[str] = "delete"


@dataclass(frozen=True)
class Hold:
    """Nothing sent now; the ledger row takes `status` with the reason: skipped (never to be
    pushed as it is), parked as failed, or backing off while retrying."""

    reason: str
    status: SyncStatus = SyncStatus.SKIPPED
    operation: ClassVar[str] = "skip"


@dataclass(frozen=True)
class Reject:
    """The source record cannot become a QBO document; the ledger records why."""

    reason: str
    operation: ClassVar[str] = "reject"


@dataclass(frozen=True)
class Noop:
    """QBO already matches: no call, the ledger row stays as it is."""

    reason: str
    operation: ClassVar[str] = "none"


Action = Create | Update | Close | Delete | Hold | Noop | Reject
WriteAction = Create | Update | Close | Delete


def action_name(action: Action) -> str:
    """The verb an outcome records: create / update / close / delete / skip / none."""
    return action.operation


def vanished_lifecycle(policy: PlanPolicy) -> Lifecycle:
    """What a PO gone from Luminous becomes in QBO under the policy."""
    return Lifecycle.DELETED if policy.on_delete == "delete" else Lifecycle.CLOSED


# --- pieces ------------------------------------------------------------------------------------


def backoff(attempts: int, *, base: timedelta, cap: timedelta, jitter: float) -> timedelta:
    """Delay before retry number `attempts` (1 = after the first failure): exponential, capped,
    "equal jitter" (between half and all of the exponential delay; jitter in 0..1 comes from the
    caller so this stays pure)."""
    jitter = min(max(jitter, 0.0), 1.0)
    exponent = min(max(attempts, 1) - 1, 64)
    seconds = min(base.total_seconds() * 2.0**exponent, cap.total_seconds())
    return timedelta(seconds=seconds * (0.5 + 0.5 * jitter))


def skip_reason(po: SourcePO, policy: PlanPolicy) -> str | None:
    """Why a source PO is not pushed at all (draft, not approved); None when it should be."""
    if po.status is SourceStatus.DRAFT:
        return "draft"
    approval = (po.approval_status or "").strip().lower().replace(" ", "_")
    if policy.require_approval and approval and approval != "approved":
        if approval in ("pending_approval", "pending", "awaiting_approval"):
            return "awaiting approval"
        return f"not approved ({po.approval_status})"
    return None


def _recorded_operation(entry: LedgerEntry, realm_id: str) -> str | None:
    for operation in OPERATIONS:
        if request_id(realm_id, entry.doc_id, entry.content_hash or "", operation) == (
            entry.request_id
        ):
            return operation
    return None


def _look_first(entry: LedgerEntry | None) -> bool:
    """A create was sent before and not confirmed: it may have landed."""
    return entry is not None and entry.qbo_id is None and entry.request_id is not None


def _action(operation: str, rid: str) -> WriteAction:
    if operation == "create":
        return Create(rid)
    if operation == "close":
        return Close(rid)
    if operation == "delete":
        return Delete(rid)
    return Update(rid)


def _gate(entry: LedgerEntry | None, hash_: str | None, now: datetime) -> Hold | None:
    if entry is None:
        return None
    if entry.status is SyncStatus.FAILED and entry.content_hash == hash_:
        why = f": {entry.last_error_message}" if entry.last_error_message else ""
        return Hold(
            f"parked after a permanent failure{why}; waits for a change in Luminous or "
            "`reconciler retry`",
            SyncStatus.FAILED,
        )
    if (
        entry.status is SyncStatus.RETRYING
        and entry.next_retry_at is not None
        and entry.next_retry_at > now
    ):
        return Hold(f"backing off until {entry.next_retry_at.isoformat()}", SyncStatus.RETRYING)
    return None


# --- the plan ----------------------------------------------------------------------------------


def plan_po(
    desired: DesiredPO | None,
    entry: LedgerEntry | None,
    *,
    realm_id: str,
    now: datetime,
    policy: PlanPolicy,
    force_retry: bool = False,
) -> Action:
    """The one action that makes QBO match `desired` (None: the PO is gone from Luminous)."""
    if desired is None:
        return _plan_vanished(entry, realm_id=realm_id, now=now, policy=policy, force=force_retry)
    hash_ = desired.content_hash
    if not force_retry and (gate := _gate(entry, hash_, now)) is not None:
        return gate
    pending_changed = False
    if entry is not None and entry.status is SyncStatus.PENDING and entry.request_id:
        if entry.content_hash == hash_:
            operation = _recorded_operation(entry, realm_id) or (
                "update" if entry.qbo_id else "create"
            )
            if operation != "create" and entry.qbo_id is None:  # no document to change: create
                fresh = request_id(realm_id, desired.source_id, hash_, "create")
                return Create(fresh)
            return _action(operation, entry.request_id)
        pending_changed = True

    def rid(operation: str) -> str:
        return request_id(realm_id, desired.source_id, hash_, operation)

    if entry is not None and entry.drift is Drift.DELETED and not force_retry:
        return Hold(DELETED_IN_QBO)  # drift = report: not recreated unless a user asks
    if (
        entry is not None
        and entry.status is SyncStatus.SYNCED
        and entry.content_hash == hash_
        and entry.lifecycle in (None, desired.lifecycle)  # the hash covers the lifecycle too
    ):
        return Noop("unchanged since the last push")
    in_qbo = entry is not None and entry.qbo_id is not None and entry.lifecycle != Lifecycle.DELETED
    if not in_qbo:
        # An earlier create may have landed (crash, lost answer): then a closed PO is looked up
        # and closed (or created closed), a deleted one looked up and deleted; skipping would
        # leave a landed one open for ever.
        look = pending_changed or _look_first(entry)
        if desired.lifecycle is Lifecycle.DELETED:
            if look:
                return Delete(rid("delete"))  # the executor looks it up by DocNumber
            return Hold("not in QBO; cancelled in Luminous")
        closed = desired.lifecycle is Lifecycle.CLOSED
        if closed and policy.closed_never_synced != "create" and not look:
            return Hold("not in QBO; already closed in Luminous")
        return Create(rid("create"))

    assert entry is not None
    if desired.lifecycle is Lifecycle.DELETED:
        return Delete(rid("delete"))
    if desired.lifecycle is Lifecycle.CLOSED and entry.lifecycle != Lifecycle.CLOSED:
        return Close(rid("close"))
    return Update(rid("update"))


# Retries that never sent a write: a PO stamped in the future (`outcomes.waiting`), a bill
# waiting for its PO or parked behind one never to be pushed (`bill_plan`). Gone from
# Luminous, they are skipped; any other retry's create may have landed.
FUTURE_CODE, WAIT_CODE, PARK_CODE = "future_updated_at", "po_not_in_qbo", "po_not_pushed"
UNSENT_RETRY_CODES = frozenset({FUTURE_CODE, WAIT_CODE, PARK_CODE})


def _plan_vanished(
    entry: LedgerEntry | None, *, realm_id: str, now: datetime, policy: PlanPolicy, force: bool
) -> Action:
    if entry is None:
        return Noop("not in Luminous and never synced")
    if entry.qbo_id is None:
        if entry.status not in (SyncStatus.PENDING, SyncStatus.RETRYING):
            return Noop("not in Luminous and never synced")
        if entry.last_error_code in UNSENT_RETRY_CODES:
            return Hold("deleted in Luminous before it was sent to QBO", SyncStatus.SKIPPED)
    if entry.drift is Drift.DELETED:
        return Noop("deleted in QBO by someone else")
    if entry.qbo_id is None:
        return Hold(
            # a retry keeps its requestid: the failed create may have landed (QBO decides)
            "deleted in Luminous while its create was unconfirmed; check QBO for DocNumber "
            f"{entry.number or '(none)'}",
            SyncStatus.FAILED,
        )
    if entry.lifecycle is Lifecycle.DELETED and entry.status is SyncStatus.SYNCED:
        return Noop("already deleted in QBO")
    operation = "delete" if policy.on_delete == "delete" else "close"
    hash_ = entry.content_hash or ""
    if not force and (gate := _gate(entry, hash_, now)) is not None:
        return gate
    if entry.status is SyncStatus.PENDING and entry.request_id:
        recorded = _recorded_operation(entry, realm_id)
        if recorded in ("close", "delete"):
            return _action(recorded, entry.request_id)
    if (
        operation == "close"
        and entry.lifecycle is Lifecycle.CLOSED
        and entry.status is SyncStatus.SYNCED
    ):
        return Noop("already closed in QBO")
    return _action(operation, request_id(realm_id, entry.doc_id, hash_, operation))


# --- one source record -------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What to do with one source record: the action, the document it aims at, its number."""

    action: Action
    desired: DesiredPO | None = None
    number: str | None = None
    vendor: str | None = None  # the supplier's name, as the status page shows it


def decide(
    record: SourcePO | RejectedRecord,
    entry: LedgerEntry | None,
    *,
    rules: mapping.MappingRules,
    policy: PlanPolicy,
    realm_id: str,
    now: datetime,
    force_retry: bool = False,
) -> Decision:
    """Everything the sync decides about one PO read from Luminous, given its ledger row."""
    if isinstance(record, RejectedRecord):
        return Decision(Reject(record.reason), number=record.number)
    number = record.order_numbers[0] if record.order_numbers else None
    vendor = record.supplier.name
    reason = skip_reason(record, policy)
    if reason is not None and (entry is None or entry.qbo_id is None):
        return Decision(Hold(reason), number=number, vendor=vendor)  # never pushed, not yet
    try:
        desired = mapping.desired_po(record, rules)
    except InvalidSourceRecord as exc:
        return Decision(Reject(exc.message), number=number, vendor=vendor)
    force = force_retry or (entry is not None and entry.force_retry)
    action = plan_po(desired, entry, realm_id=realm_id, now=now, policy=policy, force_retry=force)
    number = desired.doc_number or (entry.number if entry else None)
    return Decision(action, desired, number, desired.vendor.display_name)


def decide_vanished(
    entry: LedgerEntry, *, policy: PlanPolicy, realm_id: str, now: datetime
) -> Decision:
    """A PO the full sweep no longer finds in Luminous."""
    action = plan_po(None, entry, realm_id=realm_id, now=now, policy=policy, force_retry=False)
    return Decision(action, None, entry.number)
