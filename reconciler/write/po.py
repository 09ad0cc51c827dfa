"""How a QBO PurchaseOrder is written: the `DocumentWriter` the pipeline uses for POs.

The body comes from `qbo.bodies.po_payload` with the ids `resolve.References` found. Before any
create QBO is asked what it holds under the DocNumber (`lookup`, `identity`); a create whose
answer was lost is looked up again before it is sent again. No ledger writes here and no
retries: the pipeline records whatever this returns or raises, and decides what a fault means.

Line Ids: every answer's lines are recorded (`state.lines`, keyed by the Luminous line), and
every later write sends each kept line with its QBO `Id`. A line sent without one is a new
line to QBO (Intuit's Line.Id: no Id, "the request is considered a create operation for a line
item"): the old one, and any bill's link to it, would be gone. An update names `POStatus` only
to change it (closing, or reopening one the sync closed): a PO that QBO closed itself because
its bills cover it stays closed when its Luminous PO is edited.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from reconciler import errors
from reconciler.config.loader import Settings
from reconciler.documents import identity, plan, request_ids
from reconciler.documents.lines import answered_lines, matched_lines
from reconciler.documents.outcomes import lifecycle_after
from reconciler.documents.po import body as bodies
from reconciler.documents.po.model import DesiredPO
from reconciler.model import DocKind, LedgerEntry, Lifecycle
from reconciler.qbo import compare
from reconciler.resolve import References
from reconciler.state import DocLines, Ledger
from reconciler.state.scratch import KeyOwners, PassScratch
from reconciler.write import batching
from reconciler.write.lookup import (
    DocNumberLookup,
    create_looking_first,
    number_key,
    prefetch_alongside,
)
from reconciler.write.pipeline import Write

if TYPE_CHECKING:
    from reconciler.documents.po.mapping import MappingRules
    from reconciler.resolve.company import CompanyContext

ENTITY = "PurchaseOrder"
PO = DocKind.PURCHASE_ORDER


class POWriter:
    """PurchaseOrders: bodies, single and batch writes, look-before-create."""

    entity = ENTITY

    def __init__(
        self,
        qbo: Any,
        ledger: Ledger,
        refs: References,
        settings: Settings,
        *,
        first_connection: bool = False,
        company: CompanyContext | None = None,
        lines: DocLines | None = None,
        scratch: PassScratch | None = None,
    ) -> None:
        self.qbo = qbo
        self.ledger = ledger
        self.lines = lines
        self.refs = refs
        self._company = company
        self._rules = settings.mapping_rules()
        self.policy = settings.plan_policy()
        self.lookup = DocNumberLookup(qbo, ENTITY, index_first=first_connection)
        # number key -> the Luminous PO that first took it this pass: a create of another
        # may still be in flight, unseen by the look-up, so the pass itself remembers
        self._numbers_taken = KeyOwners(scratch)

    @property
    def rules(self) -> MappingRules:
        return self._company.rules() if self._company is not None else self._rules

    # --- bodies -------------------------------------------------------------------------

    def warm(self) -> None:
        """What the pass reads from QBO whatever Luminous holds (the first connection's index,
        the configured accounts), while Luminous is read; after the company (one QBO throttles
        gets no reads on top). A failure is met again where the documents need them."""
        try:
            if self._company is not None:
                self._company.loaded()
            self.lookup.warm()
            self.refs.warm()
        except (errors.Retryable, errors.Parked):
            return

    def prefetch(self, desired: Sequence[DesiredPO], creating: Sequence[DesiredPO] = ()) -> None:
        numbers = [d.doc_number for d in creating if d.doc_number]
        prefetch_alongside(self.lookup, numbers, lambda: self.refs.prefetch(desired))

    def payload(self, desired: DesiredPO) -> dict[str, Any]:
        payload = bodies.po_payload(desired, self.refs.for_po(desired))
        # A note emptied in Luminous must be emptied in QBO too: a sparse update leaves out
        # fields it does not name, so name them, empty.
        for field_name in bodies.emptied_text_fields(desired, self.rules):
            payload.setdefault(field_name, "")
        known = self.lines.of(PO, desired.source_id) if self.lines is not None else {}
        if not known and self.lines is not None:
            known = self._lines_from_qbo(desired, payload)
        for line, body in zip(desired.lines, payload["Line"], strict=True):
            if line.key in known:
                body["Id"] = known[line.key].qbo_line_id
        return payload

    def learn_lines(self, desired: DesiredPO) -> None:
        """A PO in QBO whose line Ids were never recorded (pushed before they were): learnt
        from QBO (one read, no write), for the bills that link to it."""
        if self.lines is not None and not self.lines.of(PO, desired.source_id):
            self._lines_from_qbo(desired, bodies.po_payload(desired, self.refs.for_po(desired)))

    def _lines_from_qbo(self, desired: DesiredPO, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The recorded line Ids of a PO in QBO that has none recorded: QBO's lines matched to
        ours by kind, item and amounts. None needed for a PO not in QBO."""
        entry = self.ledger.entry(desired.source_id)
        if entry is None or entry.qbo_id is None or entry.lifecycle is Lifecycle.DELETED:
            return {}
        held = self.qbo.read(ENTITY, entry.qbo_id).entity
        keys = [line.key for line in desired.lines]
        found = matched_lines(keys, payload["Line"], held.get("Line") or [])
        assert self.lines is not None
        self.lines.record(
            PO, desired.source_id, found, vendor_id=identity.vendor_of(held), header=held
        )
        return {line.key: line for line in found}

    def _update_body(self, write: Write, payload: Mapping[str, Any]) -> dict[str, Any]:
        """An update names POStatus only to change it: closing, or reopening what we closed."""
        body = dict(payload)
        if body.get("POStatus") == "Open" and write.base.lifecycle is not Lifecycle.CLOSED:
            del body["POStatus"]
        return body

    def forget_refs(self, desired: DesiredPO) -> None:
        self.refs.forget(desired)

    def lifecycle_after(self, write: Write) -> Lifecycle:
        desired = write.desired.lifecycle if write.desired is not None else None
        return lifecycle_after(write.action, desired, self.policy)

    # --- batches ------------------------------------------------------------------------

    def batchable(self, write: Write) -> bool:
        doc_number = write.desired.doc_number if write.desired is not None else None
        return batching.batchable(write.action, doc_number, has_desired=write.desired is not None)

    def batch_item(
        self, write: Write, begun: LedgerEntry, payload: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        action = plan.Update(begun.request_id) if write.adopting is not None else write.action
        if not write.is_create:
            payload = self._update_body(write, payload)
        return batching.batch_operation(action), batching.batch_body(action, begun, payload)

    # --- identity -----------------------------------------------------------------------

    def identify(
        self, creates: Sequence[tuple[Write, Mapping[str, Any]]], *, fresh: bool = False
    ) -> list[identity.Identity]:
        """What QBO holds under each create's DocNumber, decided by `identity`; one look-up."""
        numbers = [w.desired.doc_number for w, _ in creates if w.desired.doc_number]
        found = self.lookup.find(numbers, fresh=fresh)
        answers: list[identity.Identity] = []
        for write, payload in creates:
            number = write.desired.doc_number or ""
            refused = identity.number_refused(number, write.doc_id, self._numbers_taken, "PO")
            if refused is not None:
                answers.append(refused)
                continue
            candidates = found.get(number_key(number), [])
            owners = {
                str(c["Id"]): owner
                for c in candidates
                if (owner := self.ledger.owner_of(str(c["Id"]))) is not None
            }
            answers.append(
                identity.identify(
                    doc_id=write.doc_id,
                    doc_number=number,
                    vendor_id=str(payload["VendorRef"]["value"]),
                    candidates=candidates,
                    owners=owners,
                )
            )
        return answers

    def differs(self, payload: Mapping[str, Any], entity: Mapping[str, Any]) -> bool:
        return bool(compare.differences(payload, entity))

    def confirmed(self, write: Write, entity: Mapping[str, Any] | None) -> str | None:
        # (no `lookup.remember`: a number created in this pass is in `_numbers_taken`, which
        # refuses it before the look-up is asked)
        self._learn_lines(write, entity)
        return None

    def _learn_lines(self, write: Write, entity: Mapping[str, Any] | None) -> None:
        """The answer's line Ids, for the next update and for the bills that link to them."""
        if self.lines is None:
            return
        if isinstance(write.action, plan.Delete):
            self.lines.forget(PO, write.doc_id)
            return
        if write.desired is None:
            return  # a sparse close of a PO gone from Luminous: its lines did not change
        found = answered_lines([line.key for line in write.desired.lines], entity)
        if found is not None:
            vendor = identity.vendor_of(entity) if entity else None
            self.lines.stage(PO, write.doc_id, found, vendor_id=vendor, header=entity)

    # --- one write ----------------------------------------------------------------------

    def send(
        self, write: Write, begun: LedgerEntry, payload: dict[str, Any] | None, request_id: str
    ) -> tuple[Mapping[str, Any] | None, str | None]:
        action, desired = write.action, write.desired
        if write.adopting is not None:
            assert payload is not None
            return self._update(begun, self._update_body(write, payload), request_id)
        if isinstance(action, plan.Create):
            assert payload is not None and desired is not None
            return self._create(desired, begun, payload, request_id)
        if isinstance(action, plan.Delete):
            return self._delete(desired, begun, payload, request_id)
        body = self._update_body(write, payload) if payload is not None else {}
        if isinstance(action, plan.Close):
            body = {**body, "POStatus": "Closed"}
        return self._update(begun, body, request_id)

    def fresh_sync_token(self, begun: LedgerEntry) -> str:
        """5010: someone changed the PO since we last wrote it; QBO's token now."""
        return self.qbo.read(ENTITY, begun.qbo_id).entity["SyncToken"]

    def _create(
        self, desired: DesiredPO, begun: LedgerEntry, payload: dict[str, Any], request_id: str
    ) -> tuple[Mapping[str, Any] | None, str | None]:
        return create_looking_first(
            self.qbo, ENTITY, payload, request_id,
            landed=lambda: self.landed_create(desired, begun, payload),
            adopt=lambda existing: self._adopt(existing, begun, payload, request_id),
        )  # fmt: skip

    def _delete(
        self,
        desired: DesiredPO | None,
        begun: LedgerEntry,
        payload: dict[str, Any] | None,
        request_id: str,
    ) -> tuple[Mapping[str, Any] | None, str | None]:
        if begun.qbo_id is not None:
            result = self.qbo.delete(ENTITY, begun.qbo_id, begun.sync_token, request_id=request_id)
            return result.entity, result.intuit_tid
        # Cancelled while its create was unconfirmed: delete what landed, if anything did.
        if desired is None or payload is None:
            return None, None
        existing = self.landed_create(desired, begun, payload)
        if existing is None:
            return None, None
        result = self.qbo.delete(
            ENTITY, existing["Id"], existing["SyncToken"], request_id=request_id
        )
        return result.entity, result.intuit_tid

    def _update(
        self, begun: LedgerEntry, body: dict[str, Any], request_id: str
    ) -> tuple[Mapping[str, Any] | None, str | None]:
        full = {**body, "Id": begun.qbo_id, "SyncToken": begun.sync_token, "sparse": True}
        result = self.qbo.update(ENTITY, full, request_id=request_id)
        return result.entity, result.intuit_tid

    # --- identity -----------------------------------------------------------------------

    def landed_create(
        self, desired: DesiredPO, begun: LedgerEntry, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The QBO PO an earlier, unconfirmed create of this PO left behind, if any. A match
        that is not ours to take is a conflict, never adopted."""
        write = Write(
            PO, begun.doc_id, plan.Create(begun.request_id or ""), desired, begun, None, None
        )
        answer = self.identify([(write, payload)], fresh=True)[0]
        if isinstance(answer, identity.Conflict):
            raise errors.DuplicateDocNumberFault(answer.reason, code="6140")
        return dict(answer.entity) if isinstance(answer, identity.Adopt) else None

    def _adopt(
        self, existing: dict[str, Any], begun: LedgerEntry, payload: dict[str, Any], rid: str
    ) -> tuple[Mapping[str, Any] | None, str | None]:
        """The earlier create did land: take that document and bring it up to date."""
        adopted = replace(begun, qbo_id=existing["Id"], sync_token=existing["SyncToken"])
        return self._update(adopted, payload, request_ids.derive_request_id(rid, "adopt"))
