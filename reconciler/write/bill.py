"""How a QBO Bill is written (a Luminous bill, or a bill made from a receiving report).

- The body (`documents.bill.body`): the vendor and the items of unlinked lines through the
  same resolver as POs; each linked line with its QBO PO's Id and the PO line's Id, as the
  PO's last answer gave them (`state.lines`). A bill whose vendor is not its PO's is refused
  before anything is sent (QBO would drop every link).
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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from reconciler import errors
from reconciler.documents import actions, identity
from reconciler.documents.bill import body as bill_bodies
from reconciler.documents.bill.body import POLinkRef
from reconciler.documents.bill.model import DesiredBill, DesiredBillLine
from reconciler.model import DesiredVendor, DocKind, LedgerEntry
from reconciler.write.bill_links import POLinks
from reconciler.write.writer import Answer, DocumentWriter, Write

if TYPE_CHECKING:
    from reconciler.resolve import References
    from reconciler.state import DocLines, Ledger
    from reconciler.state.scratch import PassScratch

PO = DocKind.PURCHASE_ORDER


class BillPaid(errors.Parked):
    """QBO shows the bill paid or partly paid: the sync does not edit it."""


@dataclass(frozen=True)
class BillReferences:
    """What the resolver needs of a bill: its vendor and the lines that need an item or an
    account of their own (a linked line takes the PO line's)."""

    source_id: int
    vendor: DesiredVendor
    lines: tuple[DesiredBillLine, ...]
    ap_account: str | None
    location: None = None  # a bill takes its PO's DepartmentRef as an id: nothing to resolve
    tax_calculation: str | None = None  # TaxInclusive: the body needs the codes' rates


class BillWriter(DocumentWriter):
    """QBO Bills of one document kind (Luminous bills, or receiving reports)."""

    entity: ClassVar[str] = "Bill"
    per_vendor: ClassVar[bool] = True
    batches_changes: ClassVar[bool] = False  # an edit reads the bill first (paid? its lines)

    def __init__(
        self,
        qbo: Any,
        ledger: Ledger,
        refs: References,
        lines: DocLines,
        *,
        kind: DocKind,
        run_id: str | None = None,
        first_connection: bool = False,
        clock: Callable[[], datetime],
        scratch: PassScratch | None = None,
        before_overwrite: Callable[[Sequence[Mapping[str, Any]]], None] = lambda held: None,
    ) -> None:
        super().__init__(
            qbo, ledger, refs, lines, kind=kind, first_connection=first_connection, scratch=scratch
        )
        self.links = POLinks(
            qbo, ledger, lines, run_id=run_id, clock=clock, before_overwrite=before_overwrite
        )
        self._links: dict[int, dict[int, POLinkRef]] = {}  # doc id -> line number -> link

    def refs_view(self, desired: DesiredBill) -> BillReferences:
        lines = tuple(line for line in desired.lines if line.link is None)
        return BillReferences(
            desired.source_id,
            desired.vendor,
            lines,
            desired.ap_account,
            tax_calculation=desired.tax_calculation,
        )

    def payload(self, desired: DesiredBill) -> dict[str, Any]:
        refs = self.refs.for_document(self.refs_view(desired))
        links = self.links.of(desired, refs.vendor_id)
        self.links.reopen_closed(links, desired.doc_number)
        self._links[desired.source_id] = links
        return bill_bodies.bill_payload(desired, refs, links)

    def adoptable(self, answer: identity.Identity, payload: Mapping[str, Any]) -> identity.Identity:
        """A bill found paid that differs from Luminous is not taken over (not edited)."""
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

    def confirmed(self, write: Write, entity: Mapping[str, Any] | None) -> str | None:
        """Learn the lines; check every link asked for is in the answer; tell the PO."""
        if isinstance(write.action, actions.Delete | actions.Close):
            for line in self.lines.of(self.kind, write.doc_id).values():
                po_doc_id = self.ledger.owner_of(line.linked_txn_id or "", PO)
                if po_doc_id is not None:  # its PO may reopen in QBO now
                    self.links.touched[str(line.linked_txn_id)] = po_doc_id
            if isinstance(write.action, actions.Delete):
                self.lines.forget(self.kind, write.doc_id)
            return None  # a void keeps its lines as they were
        desired = write.desired
        if desired is None or not entity:
            return None
        if write.is_create:
            self.lookup.remember(desired.doc_number, str(entity.get("Id")))
        self.learn_lines(write, entity)
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

    def send_change(
        self, write: Write, begun: LedgerEntry, payload: dict[str, Any] | None, request_id: str
    ) -> Answer:
        """An edit, void or delete: the bill as QBO holds it now first (one read); for a
        create never confirmed, the one it left behind, if any."""
        if begun.qbo_id is not None:
            current: dict[str, Any] | None = self.read(begun.qbo_id)
        elif write.desired is not None and payload is not None:
            current = self.landed_create(write.desired, begun, payload)
        else:
            current = None
        if current is None:
            return None, None  # deleted while its create was unconfirmed, and none landed
        if isinstance(write.action, actions.Delete):
            refuse_paid(current, "deleted")
            return self._delete(current["Id"], current["SyncToken"], request_id)
        if isinstance(write.action, actions.Close):
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

    def refresh_pos(self) -> list[tuple[int, str | None, str | None, dict[str, Any]]]:
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
