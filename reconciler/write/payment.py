"""How a QBO BillPayment is written for a Luminous bill payment.

- The body (`documents.payment.body`): the bill's QBO vendor (as the bill's answer showed it;
  else the vendor resolved by name, the bill's too), the bank or card account resolved by name,
  one line linked to the QBO Bill the sync wrote.
- Creates go in batches, looked up first by DocNumber (`L-P<id>`: one number per payment).
- A void in Luminous is QBO's void (`operation=update&include=void`), sent alone after one
  read (a void resumed after a crash may have landed: QBO refuses a second); a payment gone
  from Luminous is deleted (or voided, `[payments] on_delete`). QBO gives the bill's balance
  back either way.
- Every answer is read back (`confirmed`): a payment that landed without its bill's link is
  recorded failed with the reason, never synced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from reconciler.documents import actions
from reconciler.documents.payment import body as bodies
from reconciler.documents.payment.model import DesiredPayment
from reconciler.model import DesiredVendor, DocKind, LedgerEntry, LineKind
from reconciler.write.writer import Answer, DocumentWriter, Write


@dataclass(frozen=True)
class AccountLine:
    """A line as the resolver reads it that names only an account (the payment's bank)."""

    account: str
    kind: LineKind = LineKind.ACCOUNT
    item: None = None
    class_name: None = None
    tax_code: None = None


@dataclass(frozen=True)
class AccountReferences:
    """What the resolver reads of a document (`resolve.ReferringDocument`): its vendor, the
    lines that need an item or an account, its AP account; no location of its own."""

    source_id: int
    vendor: DesiredVendor
    lines: tuple[Any, ...]  # resolve.ReferringLine: AccountLine, a bill's DesiredBillLine
    ap_account: str | None
    location: None = None
    tax_calculation: str | None = None  # TaxInclusive: the body needs the codes' rates


class PaymentWriter(DocumentWriter):
    """QBO BillPayments of Luminous bill payments."""

    entity: ClassVar[str] = "BillPayment"

    def refs_view(self, desired: DesiredPayment) -> AccountReferences:
        lines = (AccountLine(desired.account),)
        return AccountReferences(desired.source_id, desired.vendor, lines, desired.ap_account)

    def payload(self, desired: DesiredPayment) -> dict[str, Any]:
        refs = self.refs.for_document(self.refs_view(desired))
        vendor = self.lines.vendor_of(DocKind.BILL, desired.bill_id) or refs.vendor_id
        return bodies.payment_payload(desired, refs, vendor)

    def batchable(self, write: Write) -> bool:
        """A void goes alone: QBO's void is a request of its own, not a /batch item."""
        return not isinstance(write.action, actions.Close) and super().batchable(write)

    def confirmed(self, write: Write, entity: Mapping[str, Any] | None) -> str | None:
        desired = write.desired
        if isinstance(write.action, actions.Delete | actions.Close) or not entity:
            return None
        if desired is None or desired.bill_qbo_id in bodies.linked(entity, "Bill"):
            return None
        return (
            f"QBO BillPayment {entity.get('Id')} was written but does not pay QBO bill "
            f"{desired.bill_qbo_id}; fix it in QBO, then `reconciler retry`"
        )

    def send_change(
        self, write: Write, begun: LedgerEntry, payload: dict[str, Any] | None, request_id: str
    ) -> Answer:
        """An edit, a void or a delete; for a create never confirmed, of what it left, if any."""
        target: Mapping[str, Any] | None = None
        if begun.qbo_id is not None:
            target = {"Id": begun.qbo_id, "SyncToken": begun.sync_token}
        elif write.desired is not None and payload is not None:
            target = self.landed_create(write.desired, begun, payload)
        if target is None:
            return None, None  # gone while its create was unconfirmed, and none landed
        qbo_id, token = str(target["Id"]), str(target["SyncToken"])
        if isinstance(write.action, actions.Delete):
            return self._delete(qbo_id, token, request_id)
        if isinstance(write.action, actions.Close):  # read first: a resumed void may be done
            held = self.read(qbo_id)
            if bodies.is_void(held):
                return held, None
            result = self.qbo.void(
                self.entity, qbo_id, str(held["SyncToken"]), request_id=request_id
            )
            return result.entity, result.intuit_tid
        assert payload is not None
        at = replace(begun, qbo_id=qbo_id, sync_token=token)
        return self._update(at, self.change_body(write, payload), request_id)
