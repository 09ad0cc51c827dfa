"""Pure: what an exception means for a write, and every ledger row a document's step ends in.

`FATES` is the one table from error class to what happens next; the single path, the batch
path and the faults of batch items all go through `fate_of`. The builders below make the
(ledger row, outcome) pair for each way a step can end, so "what does a retry record" has one
answer:

    pending      the requestid is in the ledger, the request not yet answered
    synced       QBO confirmed the write (created, updated, closed, deleted, adopted)
    retry_later  transient: back off, try again (parked as failed after max_attempts)
    park         permanent for this content: waits for a change or `reconciler retry`
    hold         nothing sent: unchanged, skipped with a reason, parked, backing off
    reject       the source record cannot become a QBO document

No I/O and no clock: `now` and the jitter come in as arguments.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from reconciler import errors
from reconciler.documents import actions
from reconciler.documents.plan import PlanPolicy, backoff
from reconciler.model import LedgerEntry, Lifecycle, Outcome, SyncStatus


class Fate(enum.StrEnum):
    """What becomes of one write after QBO answered (or did not)."""

    SYNCED = "synced"  # record the returned Id and SyncToken
    RETRY = "retry"  # transient: back off (a create then looks first)
    PARK = "park"  # permanent until the document changes or a user retries
    RESEND_REFS = "resend_refs"  # a reference vanished: forget refs, rebuild, send again
    RESEND_STALE = "resend_stale"  # 5010: re-read the SyncToken, send again
    FATAL = "fatal"  # stop the pass; the write stays pending for the next one


# First match wins: subclasses before their parents.
FATES: tuple[tuple[type[BaseException], Fate], ...] = (
    (errors.Fatal, Fate.FATAL),
    (errors.ObjectNotFoundFault, Fate.RESEND_REFS),
    (errors.StaleObjectFault, Fate.RESEND_STALE),
    # QBO's own 6140 (its duplicate-number check is on): a PO under this number appeared since
    # the look-up; the retry looks again and adopts it or names the conflict
    (errors.DuplicateDocNumberFault, Fate.RETRY),
    (errors.Retryable, Fate.RETRY),
    (errors.Parked, Fate.PARK),
    (errors.BadInput, Fate.PARK),
)


def fate_of(error: BaseException | None, *, is_update: bool) -> Fate:
    """The fate of a write from what it raised (None: it succeeded). A stale SyncToken on a
    create cannot happen and is retried like any transient; anything unforeseen parks the
    document with its reason rather than stopping the pass."""
    if error is None:
        return Fate.SYNCED
    for kind, fate in FATES:
        if isinstance(error, kind):
            if fate is Fate.RESEND_STALE and not is_update:
                return Fate.RETRY
            return fate
    return Fate.PARK


@dataclass(frozen=True)
class Record:
    """A ledger row and the outcome that goes with it, written in one transaction."""

    entry: LedgerEntry
    outcome: Outcome
    history: bool = True  # a history line too (not for "unchanged")
    started: float | None = None  # monotonic time the document was taken up (log duration)
    # QBO's answer to the write (synced only): the snapshot drift checks compare with
    answer: Mapping[str, Any] | None = field(default=None, compare=False)


def _outcome(entry: LedgerEntry, status: SyncStatus, action: str, **kw: Any) -> Outcome:
    return Outcome(
        entry.doc_id,
        status,
        action,
        number=entry.number,
        qbo_id=entry.qbo_id,
        kind=entry.kind,
        **kw,
    )


def error_code(error: BaseException) -> str:
    return getattr(error, "code", None) or type(error).__name__


def _tid(error: BaseException) -> tuple[tuple[str, str], ...]:
    return (("intuit_tid", getattr(error, "intuit_tid", None) or ""),)


# --- writes ------------------------------------------------------------------------------------


def pending(
    base: LedgerEntry,
    content_hash: str | None,
    updated_at: datetime | None,
    request_id: str,
    number: str | None,
) -> LedgerEntry:
    """The row a write starts from (status PENDING is set when it is begun in the ledger)."""
    same_content = content_hash is not None and base.content_hash == content_hash
    return replace(
        base,
        number=number or base.number,
        content_hash=content_hash if content_hash is not None else base.content_hash,
        source_updated_at=updated_at or base.source_updated_at,
        request_id=request_id,
        attempts=base.attempts if same_content else 0,
    )


def synced(
    begun: LedgerEntry,
    lifecycle: Lifecycle,
    entity: Mapping[str, Any] | None,
    *,
    verb: str,
    request_id: str,
    intuit_tid: str | None,
    sent: bool = True,
) -> Record:
    """QBO confirmed the write: its Id and SyncToken are ours now. `attempts` counts the
    requests this content took, this one included (`sent`: False for a document found in QBO
    as it should be, adopted with no request)."""
    entity = entity or {}
    done = replace(
        begun,
        status=SyncStatus.SYNCED,
        qbo_id=entity.get("Id", begun.qbo_id),
        sync_token=entity.get("SyncToken", begun.sync_token),
        lifecycle=lifecycle,
        attempts=begun.attempts + 1 if sent else begun.attempts,
        last_error_code=None,
        last_error_message=None,
        next_retry_at=None,
        force_retry=False,
    )
    extra = (("request_id", request_id), ("intuit_tid", intuit_tid or ""))
    return Record(done, _outcome(done, SyncStatus.SYNCED, verb, extra=extra), answer=entity or None)


def landed_wrong(record: Record, reason: str, code: str = "link_missing") -> Record:
    """QBO holds the document now (its Id and SyncToken are recorded) but not as asked: failed
    with the reason, until it changes or a user retries. Never a silent "synced"."""
    entry = replace(
        record.entry,
        status=SyncStatus.FAILED,
        last_error_code=code,
        last_error_message=reason,
    )
    outcome = replace(record.outcome, status=SyncStatus.FAILED, error_code=code, message=reason)
    return replace(record, entry=entry, outcome=outcome)


def retry_later(
    begun: LedgerEntry,
    verb: str,
    error: BaseException,
    *,
    now: datetime,
    jitter: float,
    policy: PlanPolicy,
) -> Record:
    """Transient trouble: back off; after `max_attempts` the document is parked as failed."""
    attempts = begun.attempts + 1
    delay = backoff(attempts, base=policy.backoff_base, cap=policy.backoff_cap, jitter=jitter)
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        delay = max(delay, timedelta(seconds=retry_after))
    gave_up = attempts >= policy.max_attempts
    status = SyncStatus.FAILED if gave_up else SyncStatus.RETRYING
    entry = replace(
        begun,
        status=status,
        attempts=attempts,
        last_error_code=error_code(error),
        last_error_message=str(error),
        next_retry_at=None if gave_up else now + delay,
        force_retry=False,
    )
    message = f"gave up after {attempts} attempts: {error}" if gave_up else str(error)
    outcome = _outcome(
        entry, status, verb, error_code=entry.last_error_code, message=message, extra=_tid(error)
    )
    return Record(entry, outcome)


def park(begun: LedgerEntry, verb: str, error: BaseException) -> Record:
    """Permanent for this content: failed with QBO's (or our) reason."""
    entry = replace(
        begun,
        status=SyncStatus.FAILED,
        attempts=begun.attempts + 1,
        last_error_code=error_code(error),
        last_error_message=str(error),
        next_retry_at=None,
        force_retry=False,
    )
    outcome = _outcome(
        entry,
        SyncStatus.FAILED,
        verb,
        error_code=entry.last_error_code,
        message=str(error),
        extra=_tid(error),
    )
    return Record(entry, outcome)


def after_error(
    fate: Fate,
    begun: LedgerEntry,
    verb: str,
    error: BaseException,
    *,
    now: datetime,
    jitter: float,
    policy: PlanPolicy,
) -> Record:
    """The row a failed write ends in: transient trouble (a stale SyncToken that stayed stale
    included) backs off; anything else left over (a reference still missing) parks."""
    if fate in (Fate.RETRY, Fate.RESEND_STALE):
        return retry_later(begun, verb, error, now=now, jitter=jitter, policy=policy)
    return park(begun, verb, error)


# --- nothing sent ------------------------------------------------------------------------------


def not_sent(
    base: LedgerEntry,
    action: actions.NotSent,
    *,
    number: str | None,
    updated_at: datetime | None,
    now: datetime,
    policy: PlanPolicy,
) -> Record:
    """The row a decision that sends nothing ends in (`base`: the ledger row, or a new one)."""
    if isinstance(action, actions.Reject):
        return reject(base, action.reason, number=number, updated_at=updated_at)
    if isinstance(action, actions.Wait):
        return wait(base, action, number=number, updated_at=updated_at, now=now, policy=policy)
    if isinstance(action, actions.Park):
        return parked(base, action, number=number, updated_at=updated_at)
    return hold(base, action, number=number, updated_at=updated_at)


def hold(
    base: LedgerEntry,
    action: actions.Hold | actions.Noop,
    *,
    number: str | None,
    updated_at: datetime | None,
) -> Record:
    """No QBO call: the row keeps (or takes) the status the plan gave, with its reason."""
    if isinstance(action, actions.Noop):
        status = SyncStatus.SYNCED if base.status is SyncStatus.PENDING else base.status
    else:
        status = action.status
    kept = replace(
        base,
        status=status,
        number=number or base.number,
        source_updated_at=updated_at or base.source_updated_at,
        force_retry=False,
    )
    if status is SyncStatus.SKIPPED:
        kept = replace(kept, last_error_code=None, last_error_message=action.reason)
        kept = replace(kept, next_retry_at=None)
    code = action.code if isinstance(action, actions.Hold) else None
    if code is not None:
        kept = replace(kept, last_error_code=code, last_error_message=action.reason)
    verb = "none" if isinstance(action, actions.Noop) else "skip"
    outcome = _outcome(kept, status, verb, error_code=code, message=action.reason)
    return Record(kept, outcome, history=verb != "none")


def waiting(
    entry: LedgerEntry, updated_at: datetime, *, now: datetime, policy: PlanPolicy
) -> Record:
    """A document stamped in the future (Luminous's clock ahead of ours): retried in a while."""
    reason = (
        f"updated_at {updated_at.isoformat()} is in the future by this machine's clock "
        f"({now.isoformat()}); taken up by the retries, the checkpoint does not move past it"
    )
    kept = replace(
        entry,
        status=SyncStatus.RETRYING,
        source_updated_at=updated_at,
        last_error_code=actions.FUTURE_CODE,
        last_error_message=reason,
        next_retry_at=now + policy.backoff_base,
        force_retry=False,
    )
    outcome = _outcome(
        kept, SyncStatus.RETRYING, "wait", error_code=actions.FUTURE_CODE, message=reason
    )
    return Record(kept, outcome)


def wait(
    base: LedgerEntry,
    action: actions.Wait,
    *,
    number: str | None,
    updated_at: datetime | None,
    now: datetime,
    policy: PlanPolicy,
) -> Record:
    """Retrying without spending an attempt: woken when what it waits for is written, and
    looking again after `backoff_cap` at the latest."""
    kept = replace(
        base,
        status=SyncStatus.RETRYING,
        number=number or base.number,
        source_updated_at=updated_at or base.source_updated_at,
        last_error_code=action.code,
        last_error_message=action.reason,
        next_retry_at=now + policy.backoff_cap,
        force_retry=False,
    )
    outcome = _outcome(
        kept, SyncStatus.RETRYING, "wait", error_code=action.code, message=action.reason
    )
    return Record(kept, outcome)


def parked(
    base: LedgerEntry, action: actions.Park, *, number: str | None, updated_at: datetime | None
) -> Record:
    """Skipped, with the reason and its code, until what it depends on (or the document)
    changes: a bill whose PO is not pushed by design (a draft, awaiting approval) is not pushed
    either, and is no failure (the code wakes it when that PO changes)."""
    kept = replace(
        base,
        status=SyncStatus.SKIPPED,
        number=number or base.number,
        source_updated_at=updated_at or base.source_updated_at,
        last_error_code=action.code,
        last_error_message=action.reason,
        next_retry_at=None,
        force_retry=False,
    )
    outcome = _outcome(
        kept, SyncStatus.SKIPPED, "skip", error_code=action.code, message=action.reason
    )
    return Record(kept, outcome)


def reject(
    base: LedgerEntry,
    reason: str,
    *,
    number: str | None,
    updated_at: datetime | None,
    code: str = "invalid_source_record",
) -> Record:
    """The source record cannot become a QBO document: failed until it changes."""
    failed = replace(
        base,
        status=SyncStatus.FAILED,
        number=number or base.number,
        source_updated_at=updated_at or base.source_updated_at,
        last_error_code=code,
        last_error_message=reason,
        next_retry_at=None,
        force_retry=False,
    )
    outcome = _outcome(failed, SyncStatus.FAILED, "reject", error_code=code, message=reason)
    return Record(failed, outcome)


def anonymous_reject(reason: str, number: str | None) -> Outcome:
    """A record with no id has no ledger row: its outcome is only logged and counted."""
    return Outcome(
        0,
        SyncStatus.FAILED,
        "reject",
        number=number,
        error_code="invalid_source_record",
        message=reason,
    )
