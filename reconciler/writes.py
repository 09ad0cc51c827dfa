"""What a write is, and how one write settles: the single request, its resends, its rows.

A `Write` is one planned QBO write for one document. `WriteSender` sends it alone and keeps
going until it settles: a vanished reference (610/2500) is resolved afresh and sent once more,
a stale SyncToken (5010) is re-read and sent up to `STALE_RETRIES` more times, always under a
new requestid (QBO would replay the first answer to the old one). What each answer means comes
from `outcomes.fate_of`; the rows it ends in come from the `outcomes` builders.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from reconciler import outcomes, plan
from reconciler.crashpoints import crash_point
from reconciler.model import DocKey, DocKind, LedgerEntry, Lifecycle
from reconciler.outcomes import Fate, Record, fate_of

STALE_RETRIES = 3


@dataclass(frozen=True)
class Write:
    """One planned QBO write for one document, as the engine hands it over."""

    kind: DocKind
    doc_id: int
    action: plan.WriteAction
    desired: Any  # the desired document; None for a PO the full sweep found gone
    base: LedgerEntry  # the ledger row before this write
    updated_at: datetime | None
    number: str | None
    started: float = 0.0  # monotonic time the document was taken up (log duration)

    @property
    def key(self) -> DocKey:
        return (self.kind, self.doc_id)

    @property
    def verb(self) -> str:
        return self.action.operation

    @property
    def is_update(self) -> bool:
        return not isinstance(self.action, plan.Create)

    @property
    def content_hash(self) -> str | None:
        return self.desired.content_hash if self.desired is not None else None


class DocumentWriter(Protocol):
    """How one kind of QBO document is written (`po_writer.POWriter` for PurchaseOrders)."""

    entity: str

    def prefetch(self, desired: Sequence[Any]) -> None: ...
    def payload(self, desired: Any) -> dict[str, Any]: ...
    def batchable(self, write: Write) -> bool: ...
    def batch_item(
        self, write: Write, begun: LedgerEntry, payload: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]]: ...
    def send(
        self, write: Write, begun: LedgerEntry, payload: dict[str, Any] | None, request_id: str
    ) -> tuple[Mapping[str, Any] | None, str | None]: ...
    def forget_refs(self, desired: Any) -> None: ...
    def fresh_sync_token(self, begun: LedgerEntry) -> str: ...
    def lifecycle_after(self, write: Write) -> Lifecycle: ...


class Recorder(Protocol):
    """Where the pipeline writes the ledger (the engine adds the checkpoint and the report)."""

    def begin(self, entries: Sequence[LedgerEntry], verbs: Sequence[str]) -> list[LedgerEntry]: ...
    def record(self, records: Sequence[Record]) -> None: ...


class WriteSender:
    """Sends single writes until they settle, and builds the rows they end in."""

    def __init__(
        self,
        writers: Mapping[DocKind, DocumentWriter],
        *,
        policy: plan.PlanPolicy,
        clock: Callable[[], datetime],
        rng: random.Random,
    ) -> None:
        self._writers = writers
        self._policy = policy
        self._clock = clock
        self._rng = rng

    def writer(self, write: Write) -> DocumentWriter:
        return self._writers[write.kind]

    def attempt(
        self,
        write: Write,
        begun: LedgerEntry,
        payload: dict[str, Any] | None,
        request_id: str,
        error: BaseException | None = None,
    ) -> Record:
        """Send (unless `error` says how the first send ended) until the write settles; the
        body is built here when none is given."""
        writer = self.writer(write)
        refs_left, stale_left = 1, STALE_RETRIES
        while True:
            if error is None:
                try:
                    if payload is None and write.desired is not None:
                        payload = writer.payload(write.desired)
                    entity, tid = writer.send(write, begun, payload, request_id)
                except Exception as exc:
                    error = exc
                else:
                    crash_point("qbo_answered")
                    return self.synced(write, begun, entity, request_id, tid)
            fate = fate_of(error, is_update=write.is_update)
            if fate is Fate.FATAL:
                raise error
            try:
                if fate is Fate.RESEND_REFS and refs_left and write.desired is not None:
                    refs_left -= 1
                    writer.forget_refs(write.desired)
                    request_id = plan.derive_request_id(request_id, "refs")
                    payload, error = writer.payload(write.desired), None
                    continue
                if fate is Fate.RESEND_STALE and stale_left:
                    stale_left -= 1
                    token = writer.fresh_sync_token(begun)
                    begun = replace(begun, sync_token=token)
                    request_id = plan.derive_request_id(request_id, "stale", token)
                    error = None
                    continue
            except Exception as exc:
                error = exc
                continue
            return self.after_error(fate, write, begun, error)

    def pending(self, write: Write) -> LedgerEntry:
        return outcomes.pending(
            write.base, write.content_hash, write.updated_at, write.action.request_id, write.number
        )

    def synced(
        self,
        write: Write,
        begun: LedgerEntry,
        entity: Mapping[str, Any] | None,
        request_id: str,
        tid: str | None,
    ) -> Record:
        lifecycle = self.writer(write).lifecycle_after(write)
        record = outcomes.synced(
            begun, lifecycle, entity, verb=write.verb, request_id=request_id, intuit_tid=tid
        )
        return replace(record, started=write.started)

    def after_error(
        self, fate: Fate, write: Write, begun: LedgerEntry, error: BaseException
    ) -> Record:
        record = outcomes.after_error(
            fate,
            begun,
            write.verb,
            error,
            now=self._clock(),
            jitter=self._rng.random(),
            policy=self._policy,
        )
        return replace(record, started=write.started)

    def failed(self, write: Write, pending: LedgerEntry, error: BaseException) -> Record:
        """Building the body failed: nothing was sent."""
        fate = fate_of(error, is_update=write.is_update)
        if fate is Fate.FATAL:
            raise error
        return self.after_error(fate, write, pending, error)
