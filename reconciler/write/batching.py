"""Pure decisions for sending writes through QBO's `/batch` endpoint, and `IN (...)` lists.

A backlog goes out up to 30 writes to one `/batch` request (QBO: at most 30 items per batch, 40
batch requests a minute per realm and app; qbo-api.md and Intuit's "Batch without a Scratch"
post). `reconciler.write.pipeline` does the I/O; this module decides:

- `batchable`: which planned writes may go in a batch: creates that carry a DocNumber (every
  create is looked up in QBO by DocNumber first, one query for the whole batch, so a create
  sent before without a confirmed answer is found, not doubled, whatever batch it lands in),
  and updates/closes. Deletes stay single (rare).
- `wire_request_id` / `batch_request_id`: deterministic ids, at most 36 characters. A batch's id
  comes from its items' wire ids in the order sent: the same items in the same order give the
  same id (a lost answer is replayed by QBO); any other grouping or order gives another id, so a
  stored answer is never mapped onto a different set of bIds.
- `batch_operation` / `batch_body`: one item of a `BatchItemRequest`.
- `batch_patience`: how long a group of writes waits for a `/batch` slot before its writes go
  alone instead (`qbo.groups`).
- `in_chunks`: `IN (...)` value lists for bulk look-ups. Intuit documents no limit on the
  length of a query statement or of an `IN` list (searched: developer.intuit.com "Data
  queries", Intuit blog "Supercharge your queries"); we keep each statement short anyway
  (at most 100 values and about 3,000 characters of values), so one odd limit cannot fail a
  whole pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.documents import plan
from reconciler.model import LedgerEntry

MAX_BATCH_ITEMS = 30
IN_MAX_VALUES = 100
IN_MAX_CHARS = 3000


def batchable(action: plan.Action, doc_number: str | None, *, has_desired: bool = True) -> bool:
    """Whether a planned write may travel in a /batch request (see the module docstring)."""
    if not has_desired:
        return False
    if isinstance(action, plan.Create):
        return bool(doc_number)
    return isinstance(action, plan.Update | plan.Close)


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
    return "create" if isinstance(action, plan.Create) else "update"


def batch_body(action: plan.Action, pending: LedgerEntry, payload: Mapping[str, Any]) -> dict:
    """The entity body of one batch item: the payload for a create; for an update or close the
    payload with Id and SyncToken (the client adds `sparse`)."""
    if isinstance(action, plan.Create):
        return dict(payload)
    body = {**payload, "Id": pending.qbo_id, "SyncToken": pending.sync_token}
    if isinstance(action, plan.Close):
        body["POStatus"] = "Closed"
    return body


def batch_patience(items: int, per_second: int) -> float:
    """Seconds worth waiting for a batch slot: as long as the writes would take alone.

    Alone, `items` writes spend `items` units of the request budget (10 a second); as a batch,
    one unit and one of the 40 batch slots a minute. Waiting longer than the singles would take
    lets the request budget idle; waiting less spends request units the batch would save."""
    if items < 1 or per_second < 1:
        raise ValueError("items and per_second must be positive")
    return items / per_second


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
