"""Pure decisions for sending PO writes through QBO's `/batch` endpoint.

The engine buffers writes while a pass works through a backlog and sends up to 30 of them in
one `/batch` request (QBO: at most 30 items per batch, 40 batch requests a minute per realm;
qbo-api.md and Intuit's "Batch without a Scratch" post). Everything here decides; the engine
does the I/O:

- `batchable`: which planned writes may go in a batch. Fresh creates that carry a DocNumber,
  and updates/closes. A create that was sent before without a confirmed answer
  (`look_first`) goes the single path, which queries QBO by DocNumber and adopts a match: after
  a restart the batch holding it may be grouped differently, so QBO's requestid replay cannot be
  relied on for it. A create without a DocNumber has nothing to look it up by later, so it goes
  single too (its own requestid covers a lost answer). Deletes stay single (rare).
- `batch_request_id`: deterministic, at most 36 characters, from the items' wire ids in the
  order sent. The same items in the same order give the same id (a lost answer is replayed by
  QBO); any other grouping or order gives another id, so a stored answer is never mapped onto
  a different set of bIds.
- `item_fate`: what one item's answer means, exactly as for a single request.
- `pending_entry` / `synced_entry`: the ledger rows before sending and after success.
- `in_chunks`: `IN (...)` value lists for bulk look-ups. Intuit documents no limit on the
  length of a query statement or of an `IN` list (searched: developer.intuit.com "Data
  queries", Intuit blog "Supercharge your queries"); we keep each statement short anyway
  (at most 100 values and about 3,000 characters of values), so one odd limit cannot fail a
  whole pass.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from reconciler import errors, plan
from reconciler.model import DesiredPO, LedgerEntry, Lifecycle, SyncStatus

MAX_BATCH_ITEMS = 30
IN_MAX_VALUES = 100
IN_MAX_CHARS = 3000

Key = tuple[datetime, int]


def batchable(action: plan.Action, desired: DesiredPO | None) -> bool:
    """Whether a planned write may travel in a /batch request (see the module docstring)."""
    if desired is None:
        return False
    if isinstance(action, plan.CreatePO):
        return not action.look_first and bool(desired.doc_number)
    return isinstance(action, plan.UpdatePO | plan.ClosePO)


@dataclass(frozen=True)
class BufferedWrite:
    """A planned write waiting in the buffer; `key` is its pull key (None outside key order)."""

    po_id: int
    key: Key | None
    updated_at: datetime | None
    desired: DesiredPO
    base: LedgerEntry
    action: plan.CreatePO | plan.UpdatePO | plan.ClosePO
    number: str | None
    started: float = 0.0  # monotonic time the PO was taken up (for the log's duration)


def wire_request_id(action_request_id: str, base: LedgerEntry) -> str:
    """The id of one write on the wire: the plan's id plus the QBO document's state, so content
    that comes back (A -> B -> A) never reuses an id whose stored answer QBO would replay."""
    return plan.derive_request_id(action_request_id, base.qbo_id or "", base.sync_token or "")


def batch_request_id(wire_ids: Sequence[str]) -> str:
    """The /batch requestid: the items' wire ids in the order sent (36 hex characters)."""
    if not wire_ids:
        raise ValueError("a batch needs at least one item")
    return plan.derive_request_id("batch", *wire_ids)


def batch_operation(action: plan.Action) -> str:
    """The BatchItemRequest operation for a batchable action."""
    return "create" if isinstance(action, plan.CreatePO) else "update"


def batch_body(action: plan.Action, pending: LedgerEntry, payload: Mapping[str, Any]) -> dict:
    """The entity body of one batch item: the payload for a create; for an update or close the
    payload with Id and SyncToken (the client adds `sparse`)."""
    if isinstance(action, plan.CreatePO):
        return dict(payload)
    body = {**payload, "Id": pending.qbo_id, "SyncToken": pending.sync_token}
    if isinstance(action, plan.ClosePO):
        body["POStatus"] = "Closed"
    return body


class ItemFate(enum.StrEnum):
    """What the engine does with one batch item's answer."""

    SYNCED = "synced"  # record the returned Id and SyncToken
    RETRY = "retry"  # transient: back off (a create then looks first)
    PARK = "park"  # permanent until the PO changes or a user retries
    RESEND_REFS = "resend_refs"  # a reference vanished: forget refs, resend singly, new id
    RESEND_STALE = "resend_stale"  # 5010: the single update path re-reads the SyncToken
    FATAL = "fatal"  # stop the pass; the item stays pending


def item_fate(fault: BaseException | None, *, is_update: bool) -> ItemFate:
    """An item's fate from its fault (None: success), by the same classes a single request
    raises. A stale SyncToken on a create cannot happen; it is retried like any transient."""
    if fault is None:
        return ItemFate.SYNCED
    if isinstance(fault, errors.Fatal):
        return ItemFate.FATAL
    if isinstance(fault, errors.ObjectNotFoundFault):
        return ItemFate.RESEND_REFS
    if isinstance(fault, errors.StaleObjectFault):
        return ItemFate.RESEND_STALE if is_update else ItemFate.RETRY
    if isinstance(fault, errors.Retryable):
        return ItemFate.RETRY
    return ItemFate.PARK


def pending_entry(
    base: LedgerEntry,
    desired: DesiredPO | None,
    updated_at: datetime | None,
    action: plan.WriteAction,
    number: str | None,
) -> LedgerEntry:
    """The ledger row a write starts from (the engine's single path builds the same)."""
    same_content = desired is not None and base.content_hash == desired.content_hash
    return replace(
        base,
        po_number=number or base.po_number,
        content_hash=desired.content_hash if desired else base.content_hash,
        source_updated_at=updated_at or base.source_updated_at,
        request_id=action.request_id,
        attempts=base.attempts if same_content else 0,
    )


def synced_entry(
    pending: LedgerEntry,
    desired: DesiredPO | None,
    action: plan.WriteAction,
    entity: Mapping[str, Any] | None,
    policy: plan.PlanPolicy,
) -> LedgerEntry:
    """The ledger row after QBO confirmed the write."""
    lifecycle = desired.lifecycle if desired is not None else plan.vanished_lifecycle(policy)
    if isinstance(action, plan.DeletePO):
        lifecycle = Lifecycle.DELETED
    entity = entity or {}
    return replace(
        pending,
        status=SyncStatus.SYNCED,
        qbo_id=entity.get("Id", pending.qbo_id),
        sync_token=entity.get("SyncToken", pending.sync_token),
        lifecycle=lifecycle,
        attempts=0,
        last_error_code=None,
        last_error_message=None,
        next_retry_at=None,
    )


def smallest_key(keys: Iterable[Key | None]) -> Key | None:
    """The first key still unsettled (the checkpoint may not reach it)."""
    present = [k for k in keys if k is not None]
    return min(present) if present else None


def in_chunks(
    values: Iterable[str], *, max_values: int = IN_MAX_VALUES, max_chars: int = IN_MAX_CHARS
) -> list[list[str]]:
    """Split values into lists for `IN (...)`: each at most `max_values` values and, roughly,
    `max_chars` characters once quoted (one value longer than that gets a list of its own)."""
    if max_values < 1 or max_chars < 1:
        raise ValueError("chunk limits must be positive")
    chunks: list[list[str]] = []
    current: list[str] = []
    size = 0
    for value in values:
        cost = len(value) + 4  # quotes, comma, space (escapes are rare and small)
        if current and (len(current) >= max_values or size + cost > max_chars):
            chunks.append(current)
            current, size = [], 0
        current.append(value)
        size += cost
    if current:
        chunks.append(current)
    return chunks
