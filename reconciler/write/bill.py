"""How a QBO Bill is written: the `DocumentWriter` the pipeline uses for bills (and bills made
from receiving reports), beside `po_writer.POWriter`.

- The body (`qbo.bill_bodies`): the vendor and the items of unlinked lines through the same
  resolver as POs; each linked line with its QBO PO's Id and the PO line's Id, as the PO's
  last answer gave them (`state.lines`). A bill whose vendor is not its PO's is refused before
  anything is sent (QBO would drop every link).
- Creates go in batches, looked up first by DocNumber among the bills of the same vendor
  (bill numbers are the supplier's and repeat across suppliers).
- An edit, a void or a delete reads the bill first (one read): a bill QBO shows paid or partly
  paid (Balance below TotalAmt) is not touched, and the outcome says so; the read also gives
  the current SyncToken (a payment moves it) and the lines QBO holds, so kept lines keep their
  Ids and links.
- Every answer's links are read back (`confirmed`): a link asked for and missing is the
  bill's failure, with the reason, never a silent "synced". `bill_links.POLinks` finds the PO
  lines, tells each PO's history of its bills, and asks QBO whether they closed it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from reconciler import errors
from reconciler.config.loader import Settings
from reconciler.documents import identity, plan
from reconciler.documents.bill import body as bill_bodies
from reconciler.documents.bill.body import POLinkRef
from reconciler.documents.bill.model import DesiredBill, DesiredBillLine, answered_lines
from reconciler.model import DesiredVendor, DocKind, LedgerEntry, Lifecycle
from reconciler.qbo import compare
from reconciler.qbo import query as q
from reconciler.resolve import References
from reconciler.state import DocLines, Ledger
from reconciler.state.scratch import KeyOwners, PassScratch
from reconciler.write.bill_links import POLinks
from reconciler.write.lookup import (
    DocNumberLookup,
    create_looking_first,
    number_key,
    prefetch_alongside,
)
from reconciler.write.pipeline import Write

ENTITY = "Bill"
PO = DocKind.PURCHASE_ORDER


class BillPaid(errors.Parked):
    """QBO shows the bill paid or partly paid: the sync does not edit it."""


@dataclass(frozen=True)
class _RefsView:
    """What the resolver needs of a bill: its vendor and the lines that need an item or an
    account of their own (a linked line takes the PO line's)."""

    source_id: int
    vendor: DesiredVendor
    lines: tuple[DesiredBillLine, ...]
    ap_account: str | None
    location: None = None  # a bill takes its PO's DepartmentRef as an id: nothing to resolve
    tax_calculation: str | None = None  # TaxInclusive: the body needs the codes' rates


def _refs_view(desired: DesiredBill) -> Any:
    lines = tuple(line for line in desired.lines if line.link is None)
    return _RefsView(
        desired.source_id,
        desired.vendor,
        lines,
        desired.ap_account,
        tax_calculation=desired.tax_calculation,
    )


class BillWriter:
    """QBO Bills of one document kind (Luminous bills, or receiving reports)."""

    entity = ENTITY

    def __init__(
        self,
        qbo: Any,
        ledger: Ledger,
        refs: References,
        settings: Settings,
        lines: DocLines,
        *,
        kind: DocKind,
        run_id: str | None = None,
        first_connection: bool = False,
        clock: Callable[[], datetime],
        scratch: PassScratch | None = None,
    ) -> None:
        self.qbo = qbo
        self.ledger = ledger
        self.refs = refs
        self.lines = lines
        self.kind = kind
        self.run_id = run_id
        self.lookup = DocNumberLookup(qbo, ENTITY, index_first=first_connection)
        self.links = POLinks(qbo, ledger, lines, run_id=run_id, clock=clock)
        self.reads = 0
        self._links: dict[int, dict[int, POLinkRef]] = {}  # doc id -> line number -> link
        self._numbers_taken = KeyOwners(scratch)  # (number, vendor) -> first document (as POWriter)

    # --- bodies -------------------------------------------------------------------------

    def warm(self) -> None:
        """The first connection's index of bill numbers, while Luminous is read."""
        with contextlib.suppress(errors.Retryable, errors.Parked):  # met again where needed
            self.lookup.warm()

    def prefetch(
        self, desired: Sequence[DesiredBill], creating: Sequence[DesiredBill] = ()
    ) -> None:
        numbers = [d.doc_number for d in creating if d.doc_number]
        prefetch_alongside(
            self.lookup, numbers, lambda: self.refs.prefetch(_refs_view(d) for d in desired)
        )

    def payload(self, desired: DesiredBill) -> dict[str, Any]:
        refs = self.refs.for_po(_refs_view(desired))
        links = self.links.of(desired, refs.vendor_id)
        self.links.reopen_closed(links, desired.doc_number)
        self._links[desired.source_id] = links
        return bill_bodies.bill_payload(desired, refs, links)

    def forget_refs(self, desired: DesiredBill) -> None:
        self.refs.forget(_refs_view(desired))

    def lifecycle_after(self, write: Write) -> Lifecycle:
        if isinstance(write.action, plan.Delete):
            return Lifecycle.DELETED
        if isinstance(write.action, plan.Close):
            return Lifecycle.CLOSED  # void in QBO
        return Lifecycle.OPEN

    # --- batches ------------------------------------------------------------------------

    def batchable(self, write: Write) -> bool:
        """Creates only: an edit reads the bill first (paid? its lines, its SyncToken)."""
        return isinstance(write.action, plan.Create) and write.desired is not None

    def batch_item(
        self, write: Write, begun: LedgerEntry, payload: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        if write.adopting is not None:
            body = {**payload, "Id": begun.qbo_id, "SyncToken": begun.sync_token}
            return "update", body
        return "create", dict(payload)

    # --- identity -----------------------------------------------------------------------

    def identify(
        self, creates: Sequence[tuple[Write, Mapping[str, Any]]], *, fresh: bool = False
    ) -> list[identity.Identity]:
        """What QBO holds under each create's number, among that vendor's bills; one look-up.
        A bill found paid that differs from Luminous is not taken over (it is not edited)."""
        found = self.lookup.find([w.desired.doc_number for w, _ in creates], fresh=fresh)
        answers: list[identity.Identity] = []
        label = self.kind.label
        for write, payload in creates:
            number, vendor = write.desired.doc_number, str(payload["VendorRef"]["value"])
            key = (number_key(number), vendor)
            if not q.is_queryable(number):
                answers.append(identity.Conflict(f"{label} number {number!r} cannot be searched"))
                continue
            owner = self._numbers_taken.claim(json.dumps(key), write.doc_id)
            if owner != write.doc_id:
                answers.append(
                    identity.Conflict(
                        f"{label} number {number!r} of this vendor is also Luminous {label} "
                        f"{owner}'s: one of them is a duplicate; fix it in Luminous"
                    )
                )
                continue
            candidates = found.get(key[0], [])
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
                entity=ENTITY,
                label=label,
                per_vendor=True,
            )
            answers.append(self._unless_paid(answer, payload))
        return answers

    def _unless_paid(
        self, answer: identity.Identity, payload: Mapping[str, Any]
    ) -> identity.Identity:
        if not isinstance(answer, identity.Adopt):
            return answer
        paid = bill_bodies.paid_amount(answer.entity)
        if paid > 0 and self.differs(payload, answer.entity):
            return identity.Conflict(
                f"QBO bill {answer.entity.get('Id')} under this number is paid ({paid} of "
                f"{answer.entity.get('TotalAmt')}) and differs from Luminous: a paid bill is "
                "not edited; correct it in QBO, then `reconciler retry`"
            )
        return answer

    def differs(self, payload: Mapping[str, Any], entity: Mapping[str, Any]) -> bool:
        return bool(compare.differences(payload, entity))

    def confirmed(self, write: Write, entity: Mapping[str, Any] | None) -> str | None:
        """Learn the lines; check every link asked for is in the answer; tell the PO."""
        if isinstance(write.action, plan.Delete | plan.Close):
            for line in self.lines.of(self.kind, write.doc_id).values():
                po_doc_id = self.ledger.owner_of(line.linked_txn_id or "", PO)
                if po_doc_id is not None:  # its PO may reopen in QBO now
                    self.links.touched[str(line.linked_txn_id)] = po_doc_id
            if isinstance(write.action, plan.Delete):
                self.lines.forget(self.kind, write.doc_id)
            return None  # a void keeps its lines as they were
        desired = write.desired
        if desired is None or not entity:
            return None
        if write.is_create:
            self.lookup.remember(desired.doc_number, str(entity.get("Id")))
        found = answered_lines([line.key for line in desired.lines], entity)
        if found is not None:
            self.lines.stage(self.kind, write.doc_id, found, vendor_id=identity.vendor_of(entity))
        links = self._links.get(write.doc_id, {})
        missing = bill_bodies.missing_links(links, entity)
        note = write.is_create or write.adopting is not None
        self.links.tell_pos(self.kind, desired.doc_number, entity, links, missing, note=note)
        if not missing:
            return None
        return (
            f"QBO bill {entity.get('Id')} was written but QBO did not link "
            f"{'; '.join(missing)} (QBO drops a link it cannot make: a PO closed or edited "
            "meanwhile, another vendor, a line no longer on the PO); fix it, then "
            "`reconciler retry`"
        )

    def send(
        self, write: Write, begun: LedgerEntry, payload: dict[str, Any] | None, request_id: str
    ) -> tuple[Mapping[str, Any] | None, str | None]:
        action = write.action
        if write.adopting is not None:
            assert payload is not None
            return self._update(begun, payload, request_id)
        if isinstance(action, plan.Create):
            assert payload is not None
            return self._create(write, begun, payload, request_id)
        current = self._current(write, begun, payload)
        if current is None:
            return None, None  # deleted while its create was unconfirmed, and none landed
        if isinstance(action, plan.Delete):
            refuse_paid(current, "deleted")
            result = self.qbo.delete(
                ENTITY, current["Id"], current["SyncToken"], request_id=request_id
            )
            return result.entity, result.intuit_tid
        if isinstance(action, plan.Close):
            if bill_bodies.is_void(current):
                return current, None
            refuse_paid(current, "voided")
            return self._update(_at(begun, current), bill_bodies.void_payload(current), request_id)
        assert payload is not None and write.desired is not None
        refuse_paid(current, "edited")
        keys = [line.key for line in write.desired.lines]
        body = bill_bodies.with_line_ids(
            payload, keys, self.lines.of(self.kind, write.doc_id), current
        )
        return self._update(_at(begun, current), body, request_id)

    def fresh_sync_token(self, begun: LedgerEntry) -> str:
        self.reads += 1
        return self.qbo.read(ENTITY, begun.qbo_id).entity["SyncToken"]

    def _current(
        self, write: Write, begun: LedgerEntry, payload: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """The bill as QBO holds it now (one read); for a create never confirmed, the one it
        left behind, if any."""
        if begun.qbo_id is not None:
            self.reads += 1
            return dict(self.qbo.read(ENTITY, begun.qbo_id).entity)
        if write.desired is None or payload is None:
            return None
        return self.landed_create(write.desired, begun, payload)

    def _create(
        self, write: Write, begun: LedgerEntry, payload: dict[str, Any], request_id: str
    ) -> tuple[Mapping[str, Any] | None, str | None]:
        def adopt(existing: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, str | None]:
            adopted = replace(begun, qbo_id=existing["Id"], sync_token=existing["SyncToken"])
            return self._update(adopted, payload, plan.derive_request_id(request_id, "adopt"))

        return create_looking_first(
            self.qbo, ENTITY, payload, request_id,
            landed=lambda: self.landed_create(write.desired, begun, payload), adopt=adopt,
        )  # fmt: skip

    def landed_create(
        self, desired: DesiredBill, begun: LedgerEntry, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The QBO bill an earlier, unconfirmed create of this bill left behind, if any."""
        write = Write(
            self.kind, begun.doc_id, plan.Create(begun.request_id or ""), desired, begun, None, None
        )
        answer = self.identify([(write, payload)], fresh=True)[0]
        if isinstance(answer, identity.Conflict):
            raise errors.DuplicateDocNumberFault(answer.reason, code="6140")
        return dict(answer.entity) if isinstance(answer, identity.Adopt) else None

    def _update(
        self, begun: LedgerEntry, body: dict[str, Any], request_id: str
    ) -> tuple[Mapping[str, Any] | None, str | None]:
        full = {**body, "Id": begun.qbo_id, "SyncToken": begun.sync_token, "sparse": True}
        result = self.qbo.update(ENTITY, full, request_id=request_id)
        return result.entity, result.intuit_tid

    def refresh_pos(self) -> list[tuple[int, str | None, str | None]]:
        return self.links.refresh()


def refuse_paid(current: Mapping[str, Any], what: str) -> None:
    """A bill QBO shows paid or partly paid is not edited, voided or deleted by the sync."""
    paid = bill_bodies.paid_amount(current)
    if paid > 0:
        total = current.get("TotalAmt")
        state = "paid" if paid >= bill_bodies.money(total) else "partly paid"
        raise BillPaid(
            f"QBO shows bill {current.get('Id')} {state} ({paid} of {total}): it is not "
            f"{what} by the sync; change it in QBO if it must change, then `reconciler retry`",
            code="bill_paid",
        )


def _at(begun: LedgerEntry, current: Mapping[str, Any]) -> LedgerEntry:
    """The row with QBO's Id and SyncToken as just read (a payment or a link moved it)."""
    return replace(begun, qbo_id=str(current["Id"]), sync_token=str(current["SyncToken"]))
