"""The request-id rule: every QBO write carries a deterministic `requestid`.

QBO answers a repeated requestid with its first answer, so an id must be the same for a repeat
of the same write and different for anything else:

- `request_id`: sha256(realm | document | content hash | operation), hex, cut to 36 characters
  (QBO's single-request limit is 50, a batch item's 36). The same content and operation always
  give the same id, so a retry after an unclear outcome reuses it with no bookkeeping, and a
  changed payload never reuses an old one.
- `derive_request_id`: an id tied to another and more state (a SyncToken, a retry reason).
- `wire_request_id`: the plan's id plus the QBO document's Id and SyncToken, so content that
  comes back (A -> B -> A) never reuses an id whose stored answer QBO would replay.
- `batch_request_id`: a /batch's id from its items' wire ids in the order sent: the same items
  in the same order give the same id (a lost answer is replayed); any other grouping or order
  another, so a stored answer is never mapped onto a different set of bIds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from reconciler.model import LedgerEntry

REQUEST_ID_LENGTH = 36


def request_id(realm_id: str, doc_id: int, content_hash: str, operation: str) -> str:
    """Deterministic requestid: the same realm, document, content and operation give the same
    id."""
    text = f"{realm_id}|{doc_id}|{content_hash}|{operation}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:REQUEST_ID_LENGTH]


def derive_request_id(base: str, *parts: str) -> str:
    """A requestid tied to `base` and more state (a SyncToken, a retry reason), within 36."""
    text = "|".join((base, *parts))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:REQUEST_ID_LENGTH]


def wire_request_id(action_request_id: str, base: LedgerEntry) -> str:
    """The id of one write on the wire: the plan's id plus the QBO document's state."""
    return derive_request_id(action_request_id, base.qbo_id or "", base.sync_token or "")


def batch_request_id(wire_ids: Sequence[str]) -> str:
    """The /batch requestid: the items' wire ids in the order sent (36 hex characters)."""
    if not wire_ids:
        raise ValueError("a batch needs at least one item")
    return derive_request_id("batch", *wire_ids)
