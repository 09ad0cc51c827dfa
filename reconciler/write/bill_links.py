"""The QBO side of a bill's links: which QBO PO line each bill line links to, what the POs'
histories say of their bills, and whether the bills closed their POs in QBO.

A link is built from what the PO's last answer showed (`state.lines`: the QBO PO Id, the line's
Id, its kind and item, the PO's vendor); nothing is read for it. A PO linked in this pass is
asked about once at the end of the bill phase, many in one query (`Id IN (...)`, only Id,
POStatus and SyncToken): that is how the sync learns that QBO closed a PO, and the PO's new
SyncToken (a bill moves it), which spares the PO's next edit a stale-token round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from reconciler import errors
from reconciler.documents import request_ids
from reconciler.documents.bill.body import POLinkRef
from reconciler.documents.bill.model import DesiredBill
from reconciler.model import DocKind, Lifecycle
from reconciler.qbo import query as q
from reconciler.state import DocLines, Ledger

PO = DocKind.PURCHASE_ORDER


class POLinks:
    """The PO lines bills link to, for one pass."""

    def __init__(
        self,
        qbo: Any,
        ledger: Ledger,
        lines: DocLines,
        *,
        run_id: str | None,
        clock: Callable[[], datetime],
        before_overwrite: Callable[[Sequence[Mapping[str, Any]]], None] = lambda held: None,
    ) -> None:
        self.qbo = qbo
        self.ledger = ledger
        self.lines = lines
        self.run_id = run_id
        self.clock = clock
        # QBO's version of a PO our write is about to move past: compared with our snapshot
        self.before_overwrite = before_overwrite
        self.touched: dict[str, int] = {}  # QBO PO Id -> Luminous PO id, linked this pass
        self.reclose: dict[str, int] = {}  # reopened for a bill, to be closed again
        self.reopened: set[str] = set()  # QBO PO Ids this pass reopened (compared then)
        self.reads = 0

    def of(self, desired: DesiredBill, vendor_id: str) -> dict[int, POLinkRef]:
        """line number -> the QBO PO line it links to; refused when QBO could not link it."""
        links: dict[int, POLinkRef] = {}
        for number, link in desired.links():
            po = self.ledger.entry(link.po_id, PO)
            line = self.lines.of(PO, link.po_id).get(f"item:{link.po_line_id}")
            if po is None or po.qbo_id is None or line is None:
                raise errors.Retryable(
                    f"line {number}: PO line {link.po_line_id} is not in QBO (any more)",
                    code="po_not_in_qbo",
                )
            po_vendor = self.lines.vendor_of(PO, link.po_id)
            if po_vendor is not None and po_vendor != vendor_id:
                raise errors.Parked(
                    f"the bill's vendor (QBO vendor {vendor_id}) is not PO {po.number}'s "
                    f"(QBO vendor {po_vendor}): QBO links a bill only to its vendor's POs; "
                    "correct the vendor in Luminous",
                    code="vendor_differs",
                )
            links[number] = POLinkRef(po.qbo_id, line, link.po_id, po.number)
        return links

    def reopen_closed(self, links: Mapping[int, POLinkRef], bill_number: str) -> None:
        """QBO links bills only to open POs: a linked PO known to be closed in QBO (the sync
        closed it when Luminous completed it, or its bills covered it) is reopened first. One
        the sync closed is closed again once the bill phase is over (`refresh`)."""
        for ref in {r.txn_id: r for r in links.values()}.values():
            po = self.ledger.entry(ref.po_doc_id, PO)
            fact = self.lines.fact(PO, ref.po_doc_id) or {}
            ours = po is not None and po.lifecycle is Lifecycle.CLOSED
            if not ours and fact.get("qbo_status") != "Closed":
                continue
            self.reads += 1
            held = self.qbo.read("PurchaseOrder", ref.txn_id).entity
            if held.get("POStatus") == "Closed":
                self.before_overwrite([held])
                self.reopened.add(ref.txn_id)
                body = {"Id": ref.txn_id, "SyncToken": held["SyncToken"], "sparse": True}
                rid = request_ids.derive_request_id("reopen", ref.txn_id, str(held["SyncToken"]))
                held = self.qbo.update(
                    "PurchaseOrder", body | {"POStatus": "Open"}, request_id=rid
                ).entity
                self.ledger.note(
                    (PO, ref.po_doc_id),
                    "reopened_for_bill",
                    f"reopened in QBO to link bill {bill_number} (QBO links only to open POs)",
                    run_id=self.run_id,
                    qbo_id=ref.txn_id,
                    sync_token=str(held.get("SyncToken")),
                )
            self.lines.note_status(PO, ref.po_doc_id, held.get("POStatus"), at=self.clock())
            if ours:
                self.reclose[ref.txn_id] = ref.po_doc_id

    def tell_pos(
        self,
        kind: DocKind,
        number: str,
        entity: Mapping[str, Any],
        links: Mapping[int, POLinkRef],
        missing: list[str],
        *,
        note: bool,
    ) -> None:
        """Remember the POs linked (for `refresh`); a new bill goes in each PO's history."""
        by_po: dict[int, list[POLinkRef]] = {}
        for ref in links.values():
            by_po.setdefault(ref.po_doc_id, []).append(ref)
        for po_doc_id, refs in by_po.items():
            self.touched[refs[0].txn_id] = po_doc_id
            if not note:
                continue
            lines = ", ".join(r.line.qbo_line_id for r in refs)
            failed = " (some links missing)" if missing else ""
            self.ledger.note(
                (PO, po_doc_id),
                run_id=self.run_id,
                action="billed",
                message=f"{kind.label} {number}: QBO bill {entity.get('Id')} links PO "
                f"line(s) {lines}{failed}",
                qbo_id=refs[0].txn_id,
            )

    def refresh(self) -> list[tuple[int, str | None, str | None, dict[str, Any]]]:
        """(Luminous PO id, POStatus, SyncToken, the PO as QBO holds it) of every PO a bill
        linked to in this pass: whether QBO closed it, its token now (a bill moved it), and
        the whole PO (a drift check compares it with our snapshot before the ledger takes the
        token). A few reads for many. A PO reopened for a bill that then failed is among
        them: it is closed again too."""
        pos = {**self.reclose, **self.touched}
        ids = sorted(pos, key=lambda i: (len(i), i))
        found: list[tuple[int, str | None, str | None, dict[str, Any]]] = []
        for chunk in q.in_chunks(ids, max_values=30):
            self.reads += 1
            statement = q.select("PurchaseOrder", [q.in_("Id", chunk)])
            for row in self.qbo.query(statement):
                po_doc_id = pos.get(str(row.get("Id")))
                if po_doc_id is not None:
                    found.append((*self._closed_again(po_doc_id, row), dict(row)))
        self.touched.clear()
        self.reclose.clear()
        return found

    def _closed_again(self, po_doc_id: int, row: Mapping[str, Any]) -> tuple[int, Any, Any]:
        """A PO reopened for a bill that the sync had closed (Luminous completed it) and that
        its bills did not close: closed again, as Luminous says."""
        status, token = row.get("POStatus"), row.get("SyncToken")
        if status != "Open" or str(row.get("Id")) not in self.reclose:
            return po_doc_id, status, token
        body = {"Id": row["Id"], "SyncToken": token, "sparse": True, "POStatus": "Closed"}
        rid = request_ids.derive_request_id("reclose", str(row["Id"]), str(token))
        held = self.qbo.update("PurchaseOrder", body, request_id=rid).entity
        self.ledger.note(
            (PO, po_doc_id),
            "closed_again",
            "closed again in QBO after its bills were linked (completed in Luminous)",
            run_id=self.run_id,
            qbo_id=str(row["Id"]),
        )
        return po_doc_id, held.get("POStatus"), held.get("SyncToken")
