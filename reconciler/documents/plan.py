"""Pure planning: what one document needs in QBO, given what it should be and its ledger row.

`decide` is the same for every kind: a record Luminous refused is rejected; the kind's own
gates come next (`KindPlan.early`: a PO awaiting approval, a bill waiting for its PO); then the
record is mapped to the QBO document it should be (`KindPlan.desired`; a record that cannot be
one is rejected with the reason) and `plan_write` returns exactly one action. In order:

1. Gates (skipped with `force_retry`): FAILED with the same content hash -> Hold (parked until
   the document changes or a user retries); RETRYING whose `next_retry_at` is still ahead ->
   Hold (backing off).
2. PENDING (a write was in flight when the process stopped) with the content it was sending:
   the SAME operation with the SAME requestid as the ledger recorded (QBO answers a repeated
   requestid with the first answer). The operation is recovered by recomputing the requestid
   for each operation and matching the recorded one; if nothing matches, a document never
   pushed means create, a pushed one update. If the content changed since, plan normally: the
   old create may have landed, and like every create the new one looks QBO up first.
3. Desired versus ledger:
   - unchanged hash, SYNCED, same lifecycle -> Noop: no QBO call at all;
   - never pushed (no QBO id): OPEN -> Create; CLOSED -> by `closed_never_synced` ("skip",
     the default: a document completed before the sync ever saw it, typically history at
     first start, is not back-filled into QBO; "create": created, closed); DELETED -> Hold
     (but when an earlier create was unconfirmed: CLOSED looks it up and closes it or creates
     it closed, DELETED -> Delete, which the writer resolves by DocNumber);
   - pushed: lifecycle became CLOSED -> Close (the update carries changed content too);
     DELETED -> Delete; otherwise changed -> Update (re-opening included);
   - pushed and deleted in QBO earlier (ledger lifecycle DELETED) but open again -> Create;
     deleted in QBO by someone else (a drift check found it: `drift`) -> Hold, until a user
     asks for a retry or `drift = "restore"` asked for one.
4. Vanished from Luminous (`plan_vanished`, the full sweep): by `on_delete`, Close (keeps the
   audit trail) or Delete; a document that never reached QBO -> Noop.

Every create is looked up in QBO by DocNumber before it is sent (`documents.identity`): a
match is adopted, never doubled. The plan still knows when an earlier create may have landed
(sent without a confirmed answer): a document closed or cancelled meanwhile is then planned as
a close or delete of what landed, not skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from reconciler.documents.actions import (
    UNSENT_RETRY_CODES,
    WAITING_CODES,
    Action,
    Close,
    Create,
    Delete,
    Hold,
    Noop,
    Reject,
    Update,
    WriteAction,
)
from reconciler.documents.request_ids import request_id
from reconciler.errors import InvalidSourceRecord
from reconciler.model import (
    DesiredVendor,
    Drift,
    LedgerEntry,
    Lifecycle,
    RejectedRecord,
    SyncStatus,
)

DELETED_IN_QBO = (
    "deleted in QBO by someone else; not recreated (drift = report): `reconciler retry` "
    "recreates it"
)
OPERATIONS = ("create", "update", "close", "delete")


@dataclass(frozen=True)
class PlanPolicy:
    """What configuration decides about planning; built by `settings.Settings.plan_policy()`,
    which holds every default."""

    on_delete: str  # gone from Luminous: "close" | "delete"
    closed_never_synced: str  # "skip" | "create"
    require_approval: bool
    max_attempts: int  # transient failures before a document is parked as FAILED
    backoff_base: timedelta
    backoff_cap: timedelta
    approval_field: str = "approval_status"  # the Luminous field a PO's approval is read from
    approved_values: tuple[str, ...] = ("approved",)  # its values that mean approved


class DesiredDocument(Protocol):
    """What the plan (and the pipeline) read of the QBO document a record should be."""

    @property
    def source_id(self) -> int: ...
    @property
    def doc_number(self) -> str | None: ...
    @property
    def content_hash(self) -> str: ...
    @property
    def lifecycle(self) -> Lifecycle: ...
    @property
    def vendor(self) -> DesiredVendor: ...


@dataclass(frozen=True)
class Decision:
    """What to do with one source record: the action, the document it aims at, its number."""

    action: Action
    desired: DesiredDocument | None = None
    number: str | None = None
    vendor: str | None = None  # the supplier's name, as the status page shows it
    waits_for: tuple[int, ...] = ()  # the documents (Luminous POs) that will wake it


@dataclass(frozen=True)
class Moment:
    """What planning one document needs besides the document: the policy, the realm (part of
    every requestid), the time, and whether a retry was asked for."""

    policy: PlanPolicy
    realm_id: str
    now: datetime
    force: bool = False

    def vanished(self, entry: LedgerEntry, policy: PlanPolicy | None = None) -> Action:
        return plan_vanished(entry, self.realm_id, self.now, policy or self.policy, self.force)


class KindPlan(Protocol):
    """The real differences of one document kind for `decide` (`documents.po.plan`,
    `documents.bill.plan`)."""

    def describe(
        self, record: Any, entry: LedgerEntry | None, context: Any
    ) -> tuple[str | None, str | None]:
        """The document's number and vendor name, as far as the record shows them."""
        ...

    def early(
        self, record: Any, entry: LedgerEntry | None, context: Any, at: Moment
    ) -> Decision | None:
        """A decision before any mapping (skipped, void, waiting), or None to map it."""
        ...

    def desired(self, record: Any, context: Any) -> DesiredDocument:
        """The QBO document the record should be; InvalidSourceRecord with the reason."""
        ...


def decide(
    record: Any,
    entry: LedgerEntry | None,
    kind: KindPlan,
    context: Any = None,
    *,
    policy: PlanPolicy,
    realm_id: str,
    now: datetime,
    force_retry: bool = False,
) -> Decision:
    """Everything the sync decides about one record read from Luminous (the module docs)."""
    if isinstance(record, RejectedRecord):
        return Decision(Reject(record.reason), number=record.number)
    number, vendor = kind.describe(record, entry, context)
    at = Moment(policy, realm_id, now, force_retry or woken(entry))
    early = kind.early(record, entry, context, at)
    if early is not None:
        return early
    try:
        desired = kind.desired(record, context)
    except InvalidSourceRecord as exc:
        return Decision(Reject(exc.message), number=number, vendor=vendor)
    action = plan_write(desired, entry, realm_id=realm_id, now=now, policy=policy, force=at.force)
    number = desired.doc_number or (entry.number if entry else None)
    return Decision(action, desired, number, desired.vendor.display_name)


def decide_vanished(
    entry: LedgerEntry, *, policy: PlanPolicy, realm_id: str, now: datetime
) -> Decision:
    """A document the full sweep (or a retry) no longer finds in Luminous."""
    return Decision(plan_vanished(entry, realm_id, now, policy), None, entry.number)


def woken(entry: LedgerEntry | None) -> bool:
    """A user asked for a retry, or the document was waiting (or parked) for another one that
    has changed since: it is not backing off from a failure."""
    return entry is not None and (entry.force_retry or entry.last_error_code in WAITING_CODES)


def backoff(attempts: int, *, base: timedelta, cap: timedelta, jitter: float) -> timedelta:
    """Delay before retry number `attempts` (1 = after the first failure): exponential, capped,
    "equal jitter" (between half and all of the exponential delay; jitter in 0..1 comes from the
    caller so this stays pure)."""
    jitter = min(max(jitter, 0.0), 1.0)
    exponent = min(max(attempts, 1) - 1, 64)
    seconds = min(base.total_seconds() * 2.0**exponent, cap.total_seconds())
    return timedelta(seconds=seconds * (0.5 + 0.5 * jitter))


# --- one write ---------------------------------------------------------------------------------


def plan_write(
    desired: DesiredDocument,
    entry: LedgerEntry | None,
    *,
    realm_id: str,
    now: datetime,
    policy: PlanPolicy,
    force: bool = False,
) -> Action:
    """The one action that makes QBO match `desired` (the module docs, points 1 to 3)."""
    hash_ = desired.content_hash
    if not force and (gate := _gate(entry, hash_, now)) is not None:
        return gate
    pending = bool(entry and entry.status is SyncStatus.PENDING and entry.request_id)
    if pending and entry is not None and entry.content_hash == hash_:
        return _resumed(entry, realm_id, desired.source_id, hash_)
    pending_changed = pending

    def rid(operation: str) -> str:
        return request_id(realm_id, desired.source_id, hash_, operation)

    if entry is not None and entry.drift is Drift.DELETED and not force:
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
        return _first_write(desired.lifecycle, entry, policy, rid, pending_changed)
    assert entry is not None
    if desired.lifecycle is Lifecycle.DELETED:
        return Delete(rid("delete"))
    if desired.lifecycle is Lifecycle.CLOSED and entry.lifecycle != Lifecycle.CLOSED:
        return Close(rid("close"))
    return Update(rid("update"))


def _resumed(entry: LedgerEntry, realm_id: str, doc_id: int, hash_: str) -> WriteAction:
    """The write a crash interrupted, with the content it was sending: the same operation
    under the same requestid."""
    operation = _recorded_operation(entry, realm_id) or ("update" if entry.qbo_id else "create")
    if operation != "create" and entry.qbo_id is None:  # no document to change: create
        return Create(request_id(realm_id, doc_id, hash_, "create"))
    return _action(operation, entry.request_id or "")


def _first_write(
    lifecycle: Lifecycle,
    entry: LedgerEntry | None,
    policy: PlanPolicy,
    rid: Callable[[str], str],
    pending_changed: bool,
) -> Action:
    """A document not in QBO. An earlier create may have landed (crash, lost answer): then a
    closed one is looked up and closed (or created closed), a deleted one looked up and
    deleted; skipping would leave a landed one open for ever."""
    look = pending_changed or _look_first(entry)
    if lifecycle is Lifecycle.DELETED:
        if look:
            return Delete(rid("delete"))  # the writer looks it up by DocNumber
        return Hold("not in QBO; cancelled or deleted in Luminous")
    closed = lifecycle is Lifecycle.CLOSED
    if closed and policy.closed_never_synced != "create" and not look:
        return Hold("not in QBO; already closed in Luminous")
    return Create(rid("create"))


def plan_vanished(
    entry: LedgerEntry | None,
    realm_id: str,
    now: datetime,
    policy: PlanPolicy,
    force: bool = False,
) -> Action:
    """A document gone from Luminous (the module docs, point 4)."""
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


# --- pieces ------------------------------------------------------------------------------------


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
