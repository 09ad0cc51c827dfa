"""How a QBO VendorCredit is written, with its applications to bills.

- The body (`documents.credit.body`): vendor, items and accounts through the same resolver as
  a bill's lines. Creates without applications go in batches, looked up first by number among
  the vendor's credits (`per_vendor`: supplier numbers repeat across suppliers).
- An edit, a void or a delete reads the credit first (one read: its SyncToken moves as QBO
  applies it).
- Applications: after the credit's own write, QBO decides which of its applications exist. The
  sync's BillPayments for this credit are those QBO lists in the credit's LinkedTxn, or finds
  under the applications' numbers (prefix "A" id); one is created for each application in force
  that QBO does not hold (a requestid derived from the credit's), one no longer in force (a
  reversal in Luminous) is deleted, and the credit is read again (its Balance and SyncToken
  moved). A BillPayment someone made in QBO is never touched. An application QBO refuses (more
  than the bill's balance) leaves the credit written but recorded failed, with QBO's reason.
- A cancellation undoes the sync's applications first, then voids or deletes the credit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from reconciler import errors
from reconciler.documents import actions
from reconciler.documents.bill import body as bill_bodies
from reconciler.documents.credit import body as bodies
from reconciler.documents.credit.model import DesiredApplication, DesiredCredit
from reconciler.documents.payment.body import linked
from reconciler.documents.request_ids import derive_request_id
from reconciler.model import DocKind, LedgerEntry
from reconciler.qbo import query as q
from reconciler.write.lookup import number_key
from reconciler.write.payment import AccountLine, AccountReferences
from reconciler.write.writer import Answer, DocumentWriter, Write

if TYPE_CHECKING:
    from reconciler.resolve import References
    from reconciler.state import DocLines, Ledger
    from reconciler.state.scratch import PassScratch

PAYMENT = "BillPayment"


class VendorCreditWriter(DocumentWriter):
    """QBO VendorCredits of Luminous vendor credits, and the BillPayments that apply them."""

    entity: ClassVar[str] = "VendorCredit"
    per_vendor: ClassVar[bool] = True
    batches_changes: ClassVar[bool] = False  # an edit reads the credit first

    def __init__(
        self,
        qbo: Any,
        ledger: Ledger,
        refs: References,
        lines: DocLines,
        *,
        prefix: str,
        first_connection: bool = False,
        scratch: PassScratch | None = None,
    ) -> None:
        super().__init__(
            qbo,
            ledger,
            refs,
            lines,
            kind=DocKind.VENDOR_CREDIT,
            first_connection=first_connection,
            scratch=scratch,
        )
        self._ours = bodies.our_application_number(prefix)
        self._wanted: dict[int, tuple[tuple[DesiredApplication, ...], str | None]] = {}
        self._applying: set[tuple[str, str]] = set()  # (number key, vendor) with applications
        self._problems: dict[int, str] = {}

    def refs_view(self, desired: DesiredCredit) -> AccountReferences:
        extra = (AccountLine(desired.application_account),) if desired.application_account else ()
        lines = (*desired.lines, *(extra if desired.applications else ()))
        view = AccountReferences(desired.source_id, desired.vendor, lines, desired.ap_account)
        return replace(view, tax_calculation=desired.tax_calculation)

    def payload(self, desired: DesiredCredit) -> dict[str, Any]:
        refs = self.refs.for_document(self.refs_view(desired))
        account = refs.account_ids.get(desired.application_account or "")
        self._wanted[desired.source_id] = (desired.applications, account)
        if desired.applications:
            self._applying.add((number_key(desired.doc_number), refs.vendor_id))
        return bodies.credit_payload(desired, refs)

    def batchable(self, write: Write) -> bool:
        """A credit with applications goes alone: they are written once it exists."""
        applied = write.desired is not None and bool(write.desired.applications)
        return not applied and super().batchable(write)

    def differs(self, payload: Mapping[str, Any], entity: Mapping[str, Any]) -> bool:
        """A credit found in QBO with applications to settle is taken through `send`."""
        key = (number_key(str(payload.get("DocNumber"))), str(payload["VendorRef"]["value"]))
        return key in self._applying or super().differs(payload, entity)

    def send(
        self, write: Write, begun: LedgerEntry, payload: dict[str, Any] | None, request_id: str
    ) -> Answer:
        entity, tid = super().send(write, begun, payload, request_id)
        if (
            entity
            and write.desired is not None
            and not isinstance(write.action, actions.Delete | actions.Close)
        ):
            entity = self._settle(write.doc_id, dict(entity), request_id)
        return entity, tid

    def send_change(
        self, write: Write, begun: LedgerEntry, payload: dict[str, Any] | None, request_id: str
    ) -> Answer:
        """An edit, void or delete: the credit as QBO holds it now first (one read)."""
        if begun.qbo_id is not None:
            current: dict[str, Any] | None = self.read(begun.qbo_id)
        elif write.desired is not None and payload is not None:
            current = self.landed_create(write.desired, begun, payload)
        else:
            current = None
        if current is None:
            return None, None
        if isinstance(write.action, actions.Delete | actions.Close):
            current = self._settle(write.doc_id, current, request_id, undo=True)
        at = replace(begun, qbo_id=str(current["Id"]), sync_token=str(current["SyncToken"]))
        if isinstance(write.action, actions.Delete):
            return self._delete(str(current["Id"]), str(current["SyncToken"]), request_id)
        if isinstance(write.action, actions.Close):
            if bill_bodies.is_void(current):
                return current, None
            return self._update(at, bill_bodies.void_payload(current), request_id)
        assert payload is not None
        return self._update(at, self.change_body(write, payload), request_id)

    def confirmed(self, write: Write, entity: Mapping[str, Any] | None) -> str | None:
        if write.is_create and write.desired is not None and entity:
            self.lookup.remember(write.desired.doc_number, str(entity.get("Id")))
        super().confirmed(write, entity)
        return self._problems.pop(write.doc_id, None)

    # --- applications -------------------------------------------------------------------

    def _settle(
        self, doc_id: int, credit: dict[str, Any], request_id: str, *, undo: bool = False
    ) -> dict[str, Any]:
        """Make QBO's applications of `credit` the wanted ones; the credit as it is then."""
        wanted, account = self._wanted.pop(doc_id, ((), None))
        wanted = () if undo else wanted
        held = self._held(credit, wanted)
        by_number = {number_key(a.doc_number): a for a in wanted}
        problems: list[str] = []
        changed = False
        for key, row in held.items():
            if key not in by_number or not bodies.same_application(by_number[key], row):
                qbo_id, token = str(row["Id"]), str(row["SyncToken"])
                rid = derive_request_id(request_id, "unapply", qbo_id, token)
                self.qbo.delete(PAYMENT, qbo_id, token, request_id=rid)
                changed = True
        for key, application in by_number.items():
            if key in held and bodies.same_application(application, held[key]):
                continue
            problem = self._apply(application, credit, account, request_id)
            changed = changed or problem is None
            if problem:
                problems.append(problem)
        if problems:
            self._problems[doc_id] = (
                f"QBO VendorCredit {credit.get('Id')} was written, but {'; '.join(problems)}; "
                "fix it, then `reconciler retry`"
            )
        return self.read(str(credit["Id"])) if changed else credit

    def _apply(
        self,
        application: DesiredApplication,
        credit: Mapping[str, Any],
        account: str | None,
        request_id: str,
    ) -> str | None:
        """One application as a BillPayment; the reason when it could not be made."""
        where = f"application {application.application_id} to QBO bill {application.bill_qbo_id}"
        if account is None:
            return f"{where} needs [vendor_credits] application_account"
        note = f"Luminous vendor credit applied to bill {application.bill_id}"
        body = bodies.application_payload(application, credit, account, note)
        rid = derive_request_id(
            request_id, "apply", str(application.application_id), str(application.amount)
        )
        try:
            self.qbo.create(PAYMENT, body, request_id=rid, resend_unclear=False)
        except (errors.Parked, errors.BadInput) as exc:
            return f"{where} was refused: {exc}"
        return None

    def _held(
        self, credit: Mapping[str, Any], wanted: Sequence[DesiredApplication]
    ) -> dict[str, dict[str, Any]]:
        """number key -> the sync's BillPayment applying this credit, as QBO holds it."""
        rows: list[dict[str, Any]] = []
        if wanted:
            numbers = [a.doc_number for a in wanted]
            rows += self.qbo.query(q.select(PAYMENT, [q.in_("DocNumber", numbers)]))
        known = {str(row.get("Id")) for row in rows}
        others = [i for i in bodies.applied_payments(credit) if i not in known]
        for chunk in q.in_chunks(others, max_values=30):
            rows += self.qbo.query(q.select(PAYMENT, [q.in_("Id", chunk)]))
        credit_id = str(credit["Id"])
        return {
            number_key(str(row.get("DocNumber"))): row
            for row in rows
            if self._ours.match(str(row.get("DocNumber") or ""))
            and credit_id in linked(row, "VendorCredit")
        }
