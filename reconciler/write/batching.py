"""Pure decisions for sending planned writes through QBO's `/batch` endpoint.

A backlog goes out up to 30 writes to one `/batch` request (`qbo.wire.MAX_BATCH_ITEMS`; 40
batch requests a minute per realm and app, Intuit's "Batch without a Scratch" post).
`write.pipeline` does the I/O; this module decides:

- `batchable`: which planned writes may go in a batch: creates that carry a DocNumber (every
  create is looked up in QBO by DocNumber first, one query for the whole batch, so a create
  sent before without a confirmed answer is found, not doubled, whatever batch it lands in),
  and updates/closes. Deletes stay single (rare).
- `batch_operation` / `batch_body`: one item of a `BatchItemRequest`.

The requestids of items and batches follow the one rule in `documents.request_ids`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.documents import plan
from reconciler.model import LedgerEntry


def batchable(action: plan.Action, doc_number: str | None, *, has_desired: bool = True) -> bool:
    """Whether a planned write may travel in a /batch request (see the module docstring)."""
    if not has_desired:
        return False
    if isinstance(action, plan.Create):
        return bool(doc_number)
    return isinstance(action, plan.Update | plan.Close)


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
