"""How a QBO document is written, whatever its kind: a `Write`, and the steps every writer takes.

A `Write` is one planned QBO write for one document. A `DocumentWriter` is what the pipeline
uses to carry one out; this base holds the steps every kind shares, and a kind supplies its
body, what it changes on an update, and its checks of QBO's answer (`write.po`, `write.bill`):

- **look before create**: QBO is asked what it holds under each create's DocNumber (one
  look-up for a whole group, `write.lookup`), and `documents.identity` decides: create, adopt
  (updated only if it differs), or a conflict (a failure naming the QBO ids, never a create).
  A number another document took earlier in the same pass is refused before any look-up: its
  create may still be in flight, unseen by QBO. Bills look among one vendor's documents
  (`per_vendor`: supplier numbers repeat across suppliers);
- **a create whose answer was lost** is looked up again before it is sent again, and what
  landed is adopted;
- **updates** are sparse, with the SyncToken the ledger holds; after a stale one (5010) the
  sender reads the document afresh (`current`);
- **line Ids**: every answer's lines are staged for the ledger (`state.lines`), so the next
  update sends each kept line with its Id, and a bill links to a PO line by its Id.

No ledger writes here and no retries: the pipeline records whatever this returns or raises,
and `documents.outcomes` decides what a fault means.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from reconciler import errors
from reconciler.documents import actions, identity
from reconciler.documents.actions import WriteAction
from reconciler.documents.lines import answered_lines
from reconciler.documents.request_ids import derive_request_id
from reconciler.model import DocKey, DocKind, LedgerEntry, Lifecycle
from reconciler.qbo import compare
from reconciler.qbo import query as q
from reconciler.state.scratch import KeyOwners
from reconciler.write.lookup import (
    DocNumberLookup,
    create_looking_first,
    number_key,
    prefetch_alongside,
)

if TYPE_CHECKING:
    from reconciler.resolve import References
    from reconciler.state import DocLines, Ledger
    from reconciler.state.scratch import PassScratch

Answer = tuple[Mapping[str, Any] | None, str | None]  # QBO's entity, and its intuit_tid


@dataclass(frozen=True)
class Write:
    """One planned QBO write for one document, as the engine hands it over."""

    kind: DocKind
    doc_id: int
    action: WriteAction
    desired: Any  # the desired document; None for one the full sweep found gone
    base: LedgerEntry  # the ledger row before this write
    updated_at: Any  # the Luminous updated_at it was read at (None: found gone)
    number: str | None
    started: float = 0.0  # monotonic time the document was taken up (log duration)
    adopting: Mapping[str, Any] | None = None  # a create found in QBO: this document instead

    @property
    def key(self) -> DocKey:
        return (self.kind, self.doc_id)

    @property
    def verb(self) -> str:
        return "adopt" if self.adopting is not None else self.action.operation

    @property
    def is_create(self) -> bool:
        return isinstance(self.action, actions.Create) and self.adopting is None

    @property
    def is_update(self) -> bool:
        return not self.is_create

    @property
    def content_hash(self) -> str | None:
        return self.desired.content_hash if self.desired is not None else None


class DocumentWriter:
    """QBO documents of one kind: the shared steps (the module docs)."""

    entity: ClassVar[str]
    per_vendor: ClassVar[bool] = False  # its numbers are unique per vendor, not per company
    batches_changes: ClassVar[bool] = True  # updates may go in a /batch (else creates only)

    def __init__(
        self,
        qbo: Any,
        ledger: Ledger,
        refs: References,
        lines: DocLines,
        *,
        kind: DocKind,
        first_connection: bool = False,
        scratch: PassScratch | None = None,
    ) -> None:
        self.qbo = qbo
        self.ledger = ledger
        self.refs = refs
        self.lines = lines
        self.kind = kind
        self.lookup = DocNumberLookup(qbo, self.entity, index_first=first_connection)
        # number key -> the document that first took it this pass: a create of another may
        # still be in flight, unseen by the look-up, so the pass itself remembers
        self._numbers_taken = KeyOwners(scratch)

    # --- what a kind supplies -----------------------------------------------------------

    def payload(self, desired: Any) -> dict[str, Any]:
        """The document's JSON body, with the ids its references have in QBO."""
        raise NotImplementedError

    def refs_view(self, desired: Any) -> Any:
        """What the resolver reads of the document (`resolve.ReferringDocument`)."""
        return desired

    def change_body(self, write: Write, payload: Mapping[str, Any] | None) -> dict[str, Any]:
        """The body of an update of this kind (no Id or SyncToken)."""
        return dict(payload or {})

    def send_change(
        self, write: Write, begun: LedgerEntry, payload: dict[str, Any] | None, request_id: str
    ) -> Answer:
        """An update, close or delete of a document in QBO."""
        raise NotImplementedError

    def confirmed(self, write: Write, entity: Mapping[str, Any] | None) -> str | None:
        """Learn from QBO's answer; a reason when the document landed but not as asked (it is
        then recorded failed, with its Id), else None."""
        self.learn_lines(write, entity)
        return None

    def adoptable(self, answer: identity.Identity, payload: Mapping[str, Any]) -> identity.Identity:
        """Whether a match found in QBO may be taken over (a kind may refuse some)."""
        return answer

    # --- the shared steps ---------------------------------------------------------------

    def warm(self) -> None:
        """What needs no document (the first connection's index), read while Luminous is. A
        failure is met again where the documents need it."""
        with contextlib.suppress(errors.Retryable, errors.Parked):
            self.lookup.warm()

    def prefetch(self, desired: Sequence[Any], creating: Sequence[Any] = ()) -> None:
        """The references of many documents, beside one DocNumber look-up of their creates."""
        numbers = [d.doc_number for d in creating if d.doc_number]
        views = [self.refs_view(d) for d in desired]
        prefetch_alongside(self.lookup, numbers, lambda: self.refs.prefetch(views))

    def forget_refs(self, desired: Any) -> None:
        self.refs.forget(self.refs_view(desired))

    def lifecycle_after(self, write: Write) -> Lifecycle:
        """What the QBO document is once the write is confirmed."""
        if isinstance(write.action, actions.Delete):
            return Lifecycle.DELETED
        if isinstance(write.action, actions.Close):
            return Lifecycle.CLOSED
        return write.desired.lifecycle if write.desired is not None else Lifecycle.OPEN

    def batchable(self, write: Write) -> bool:
        """Creates that carry a DocNumber (looked up first, one query for the whole batch, so
        a create sent before without a confirmed answer is found, not doubled), and updates
        and closes where the kind allows; deletes and writes with no document stay single."""
        if write.desired is None:
            return False
        if isinstance(write.action, actions.Create):
            return bool(write.desired.doc_number)
        return self.batches_changes and isinstance(write.action, actions.Update | actions.Close)

    def batch_item(
        self, write: Write, begun: LedgerEntry, payload: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """One item of a `BatchItemRequest`: its operation and entity body (the client adds
        `sparse` to an update)."""
        if write.is_create:
            return "create", dict(payload)
        body = self.change_body(write, payload)
        return "update", {**body, "Id": begun.qbo_id, "SyncToken": begun.sync_token}

    def identify(
        self, creates: Sequence[tuple[Write, Mapping[str, Any]]], *, fresh: bool = False
    ) -> list[identity.Identity]:
        """What QBO holds under each create's number, decided by `identity`; one look-up."""
        found = self.lookup.find(
            [w.desired.doc_number for w, _ in creates if w.desired.doc_number], fresh=fresh
        )
        answers: list[identity.Identity] = []
        for write, payload in creates:
            number = write.desired.doc_number or ""
            vendor = str(payload["VendorRef"]["value"])
            refused = self._refused(number, vendor, write.doc_id)
            if refused is not None:
                answers.append(refused)
                continue
            candidates = found.get(number_key(number), [])
            owners = {
                str(c["Id"]): owner
                for c in candidates
                if (owner := self.ledger.owner_of(str(c["Id"]), self.kind)) is not None
            }
            answer = identity.identify(
                doc_id=write.doc_id,
                doc_number=number,
                vendor_id=vendor,
                candidates=candidates,
                owners=owners,
                entity=self.entity,
                label=self.kind.label,
                per_vendor=self.per_vendor,
            )
            answers.append(self.adoptable(answer, payload))
        return answers

    def differs(self, payload: Mapping[str, Any], entity: Mapping[str, Any]) -> bool:
        return bool(compare.differences(payload, entity))

    def send(
        self, write: Write, begun: LedgerEntry, payload: dict[str, Any] | None, request_id: str
    ) -> Answer:
        """One write alone: a create looked up first, an adoption's update, or the kind's
        update, close or delete."""
        if write.adopting is not None:
            return self._update(begun, self.change_body(write, payload), request_id)
        if isinstance(write.action, actions.Create):
            assert payload is not None
            return self._create(write, begun, payload, request_id)
        return self.send_change(write, begun, payload, request_id)

    def current(self, begun: LedgerEntry) -> dict[str, Any]:
        """5010: someone changed the document since we last wrote it; QBO's version now."""
        return self.read(begun.qbo_id or "")

    def landed_create(
        self, desired: Any, begun: LedgerEntry, payload: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The QBO document an earlier, unconfirmed create of this one left behind, if any. A
        match that is not ours to take is a conflict, never adopted."""
        create = actions.Create(begun.request_id or "")
        write = Write(self.kind, begun.doc_id, create, desired, begun, None, None)
        answer = self.identify([(write, payload)], fresh=True)[0]
        if isinstance(answer, identity.Conflict):
            raise errors.DuplicateDocNumberFault(answer.reason, code="6140")
        return dict(answer.entity) if isinstance(answer, identity.Adopt) else None

    def learn_lines(
        self, write: Write, entity: Mapping[str, Any] | None, *, header: bool = False
    ) -> None:
        """The answer's line Ids, staged to commit with the outcome (a delete forgets them)."""
        if isinstance(write.action, actions.Delete):
            self.lines.forget(self.kind, write.doc_id)
            return
        if write.desired is None or not entity:
            return  # a sparse close of a document gone from Luminous: no lines changed
        found = answered_lines([line.key for line in write.desired.lines], entity)
        if found is not None:
            vendor = identity.vendor_of(entity)
            held = entity if header else None
            self.lines.stage(self.kind, write.doc_id, found, vendor_id=vendor, header=held)

    # --- requests -----------------------------------------------------------------------

    def read(self, qbo_id: str) -> dict[str, Any]:
        return dict(self.qbo.read(self.entity, qbo_id).entity)

    def _create(
        self, write: Write, begun: LedgerEntry, payload: dict[str, Any], request_id: str
    ) -> Answer:
        def adopt(existing: Mapping[str, Any]) -> Answer:
            """The earlier create did land: take that document and bring it up to date."""
            adopted = replace(begun, qbo_id=existing["Id"], sync_token=existing["SyncToken"])
            return self._update(adopted, payload, derive_request_id(request_id, "adopt"))

        def landed() -> Mapping[str, Any] | None:
            return self.landed_create(write.desired, begun, payload)

        return create_looking_first(
            self.qbo, self.entity, payload, request_id, landed=landed, adopt=adopt
        )

    def _update(self, begun: LedgerEntry, body: dict[str, Any], request_id: str) -> Answer:
        full = {**body, "Id": begun.qbo_id, "SyncToken": begun.sync_token, "sparse": True}
        result = self.qbo.update(self.entity, full, request_id=request_id)
        return result.entity, result.intuit_tid

    def _delete(self, qbo_id: str, sync_token: str | None, request_id: str) -> Answer:
        result = self.qbo.delete(self.entity, qbo_id, sync_token, request_id=request_id)
        return result.entity, result.intuit_tid

    def _refused(self, number: str, vendor: str, doc_id: int) -> identity.Conflict | None:
        """A number no look-up can vouch for: one QBO's query lexer cannot take, or one another
        document took earlier in this pass (among one vendor's, for `per_vendor` kinds)."""
        label = self.kind.label
        if not number or not q.is_queryable(number):
            return identity.Conflict(f"{label} number {number!r} cannot be searched in QBO")
        key = number_key(number)
        owner = self._numbers_taken.claim(
            json.dumps([key, vendor]) if self.per_vendor else key, doc_id
        )
        if owner == doc_id:
            return None
        scope = " of one vendor" if self.per_vendor else ""
        return identity.Conflict(
            f"{label} number {number!r} is also Luminous {label} {owner}'s: {label} numbers"
            f"{scope} must be unique; renumber one in Luminous"
        )
