"""How a QBO PurchaseOrder is written: its body, its updates, and the line Ids bills need.

The body comes from `documents.po.body` with the ids `resolve.References` found. Line Ids:
every later write sends each kept line with its QBO `Id`. A line sent without one is a new
line to QBO (Intuit's Line.Id: no Id, "the request is considered a create operation for a line
item"): the old one, and any bill's link to it, would be gone. A PO written before its line Ids
were recorded has them matched from QBO's copy (one read). An update names `POStatus` only to
change it (closing, or reopening one the sync closed): a PO that QBO closed itself because its
bills cover it stays closed when its Luminous PO is edited.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from reconciler import errors
from reconciler.documents import actions, identity
from reconciler.documents.lines import QBOLine, matched_lines
from reconciler.documents.po import body as bodies
from reconciler.documents.po.model import DesiredPO
from reconciler.model import DocKind, LedgerEntry, Lifecycle
from reconciler.write.writer import Answer, DocumentWriter, Write

if TYPE_CHECKING:
    from reconciler.documents.po.mapping import MappingRules
    from reconciler.resolve import References
    from reconciler.resolve.company import CompanyContext
    from reconciler.state import DocLines, Ledger
    from reconciler.state.scratch import PassScratch

PO = DocKind.PURCHASE_ORDER


class POWriter(DocumentWriter):
    """PurchaseOrders."""

    entity: ClassVar[str] = "PurchaseOrder"

    def __init__(
        self,
        qbo: Any,
        ledger: Ledger,
        refs: References,
        lines: DocLines,
        *,
        rules: MappingRules,
        first_connection: bool = False,
        company: CompanyContext | None = None,
        scratch: PassScratch | None = None,
    ) -> None:
        super().__init__(
            qbo, ledger, refs, lines, kind=PO, first_connection=first_connection, scratch=scratch
        )
        self._company = company
        self._rules = rules

    @property
    def rules(self) -> MappingRules:
        """The company's rules (its country decides the tax rule) once the pass knows it."""
        return self._company.rules() if self._company is not None else self._rules

    def warm(self) -> None:
        """After the company (one QBO throttles gets no reads on top), the first connection's
        index and the configured accounts, while Luminous is read."""
        try:
            if self._company is not None:
                self._company.loaded()
            super().warm()
            self.refs.warm()
        except (errors.Retryable, errors.Parked):
            return

    def payload(self, desired: DesiredPO) -> dict[str, Any]:
        payload = bodies.po_payload(desired, self.refs.for_document(desired))
        # A note emptied in Luminous must be emptied in QBO too: a sparse update leaves out
        # fields it does not name, so name them, empty.
        for field_name in bodies.emptied_text_fields(desired, self.rules):
            payload.setdefault(field_name, "")
        known = self.lines.of(PO, desired.source_id) or self._lines_from_qbo(desired, payload)
        for line, body in zip(desired.lines, payload["Line"], strict=True):
            if line.key in known:
                body["Id"] = known[line.key].qbo_line_id
        return payload

    def learn_po_lines(self, desired: DesiredPO) -> None:
        """A PO in QBO whose line Ids were never recorded (pushed before they were): learnt
        from QBO (one read, no write), for the bills that link to it."""
        if not self.lines.of(PO, desired.source_id):
            refs = self.refs.for_document(desired)
            self._lines_from_qbo(desired, bodies.po_payload(desired, refs))

    def _lines_from_qbo(
        self, desired: DesiredPO, payload: Mapping[str, Any]
    ) -> Mapping[str, QBOLine]:
        """QBO's lines matched to ours by kind, item and amounts. None needed for a PO not in
        QBO."""
        entry = self.ledger.entry(desired.source_id)
        if entry is None or entry.qbo_id is None or entry.lifecycle is Lifecycle.DELETED:
            return {}
        held = self.read(entry.qbo_id)
        keys = [line.key for line in desired.lines]
        found = matched_lines(keys, payload["Line"], held.get("Line") or [])
        self.lines.record(
            PO, desired.source_id, found, vendor_id=identity.vendor_of(held), header=held
        )
        return {line.key: line for line in found}

    def change_body(self, write: Write, payload: Mapping[str, Any] | None) -> dict[str, Any]:
        """An update names POStatus only to change it: closing, or reopening what we closed."""
        body = dict(payload or {})
        if body.get("POStatus") == "Open" and write.base.lifecycle is not Lifecycle.CLOSED:
            del body["POStatus"]
        if isinstance(write.action, actions.Close) and write.adopting is None:
            body["POStatus"] = "Closed"
        return body

    def confirmed(self, write: Write, entity: Mapping[str, Any] | None) -> str | None:
        # (no `lookup.remember`: a number created in this pass is in `_numbers_taken`, which
        # refuses it before the look-up is asked)
        self.learn_lines(write, entity, header=True)
        return None

    def send_change(
        self, write: Write, begun: LedgerEntry, payload: dict[str, Any] | None, request_id: str
    ) -> Answer:
        if not isinstance(write.action, actions.Delete):
            return self._update(begun, self.change_body(write, payload), request_id)
        if begun.qbo_id is not None:
            return self._delete(begun.qbo_id, begun.sync_token, request_id)
        # Cancelled while its create was unconfirmed: delete what landed, if anything did.
        if write.desired is None or payload is None:
            return None, None
        existing = self.landed_create(write.desired, begun, payload)
        if existing is None:
            return None, None
        return self._delete(existing["Id"], existing["SyncToken"], request_id)
