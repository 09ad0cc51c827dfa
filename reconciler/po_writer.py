"""How a QBO PurchaseOrder is written: the `DocumentWriter` the pipeline uses for POs.

The body comes from `qbo.bodies.po_payload` with the ids `resolve.References` found. A create
that may already have landed (an earlier attempt without a confirmed answer) is looked up by
DocNumber and adopted rather than sent again. No ledger writes here and no retries: the
pipeline records whatever this returns or raises, and decides what a fault means.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from reconciler import batching, errors, plan
from reconciler.config import Settings
from reconciler.model import DesiredPO, LedgerEntry, Lifecycle
from reconciler.outcomes import lifecycle_after
from reconciler.pipeline import Write
from reconciler.qbo import bodies
from reconciler.qbo import query as q
from reconciler.resolve import References
from reconciler.state import Ledger

ENTITY = "PurchaseOrder"


class POWriter:
    """PurchaseOrders: bodies, single and batch writes, look-before-create."""

    entity = ENTITY

    def __init__(self, qbo: Any, ledger: Ledger, refs: References, settings: Settings) -> None:
        self.qbo = qbo
        self.ledger = ledger
        self.refs = refs
        self.rules = settings.mapping_rules()
        self.policy = settings.plan_policy()

    # --- bodies -------------------------------------------------------------------------

    def prefetch(self, desired: Sequence[DesiredPO]) -> None:
        self.refs.prefetch(desired)

    def payload(self, desired: DesiredPO) -> dict[str, Any]:
        payload = bodies.po_payload(desired, self.refs.for_po(desired))
        # A note emptied in Luminous must be emptied in QBO too: a sparse update leaves out
        # fields it does not name, so name them, empty.
        for field_name in bodies.emptied_text_fields(desired, self.rules):
            payload.setdefault(field_name, "")
        return payload

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
        return batching.batch_operation(write.action), batching.batch_body(
            write.action, begun, payload
        )

    # --- one write ----------------------------------------------------------------------

    def send(
        self, write: Write, begun: LedgerEntry, payload: dict[str, Any] | None, request_id: str
    ) -> tuple[Mapping[str, Any] | None, str | None]:
        action, desired = write.action, write.desired
        if isinstance(action, plan.Create):
            assert payload is not None and desired is not None
            return self._create(action, desired, begun, payload, request_id)
        if isinstance(action, plan.Delete):
            return self._delete(desired, begun, payload, request_id)
        body = payload if payload is not None else {}
        if isinstance(action, plan.Close):
            body = {**body, "POStatus": "Closed"}
        return self._update(begun, body, request_id)

    def fresh_sync_token(self, begun: LedgerEntry) -> str:
        """5010: someone changed the PO since we last wrote it; QBO's token now."""
        return self.qbo.read(ENTITY, begun.qbo_id).entity["SyncToken"]

    def _create(
        self,
        action: plan.Create,
        desired: DesiredPO,
        begun: LedgerEntry,
        payload: dict[str, Any],
        request_id: str,
    ) -> tuple[Mapping[str, Any] | None, str | None]:
        if action.look_first:
            existing = self.landed_create(desired, begun, payload)
            if existing is not None:
                return self._adopt(existing, begun, payload, request_id)
        try:
            result = self.qbo.create(ENTITY, payload, request_id=request_id, resend_unclear=False)
        except (errors.UnclearOutcome, errors.QBORetryableFault) as exc:
            if isinstance(exc, errors.ThrottledFault):
                raise
            # The create may have landed: look before sending it again (QBO's requestid
            # replay would cover it too, for as long as QBO remembers the id).
            existing = self.landed_create(desired, begun, payload)
            if existing is not None:
                return self._adopt(existing, begun, payload, request_id)
            result = self.qbo.create(ENTITY, payload, request_id=request_id)
        return result.entity, result.intuit_tid

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
        owned by another Luminous PO, or of another vendor, is never ours: 6140."""
        if not desired.doc_number:
            return None
        existing = self.find_by_doc_number(desired.doc_number)
        if existing is None:
            return None
        owner = self.ledger.owner_of(existing["Id"])
        if owner is not None and owner != begun.doc_id:
            raise errors.DuplicateDocNumberFault(
                f"PO number {desired.doc_number!r} is already QBO PurchaseOrder "
                f"{existing['Id']}, synced from Luminous PO {owner}; PO numbers must be unique",
                code="6140",
            )
        if existing.get("VendorRef", {}).get("value") != payload["VendorRef"]["value"]:
            raise errors.DuplicateDocNumberFault(
                f"PO number {desired.doc_number!r} is already QBO PurchaseOrder "
                f"{existing['Id']} for another vendor; PO numbers must be unique",
                code="6140",
            )
        return existing

    def _adopt(
        self, existing: dict[str, Any], begun: LedgerEntry, payload: dict[str, Any], rid: str
    ) -> tuple[Mapping[str, Any] | None, str | None]:
        """The earlier create did land: take that document and bring it up to date."""
        adopted = replace(begun, qbo_id=existing["Id"], sync_token=existing["SyncToken"])
        return self._update(adopted, payload, plan.derive_request_id(rid, "adopt"))

    def find_by_doc_number(self, doc_number: str) -> dict[str, Any] | None:
        try:
            statement = q.select(ENTITY, [q.eq("DocNumber", doc_number)])
        except q.UnqueryableValue:
            return None
        found = self.qbo.query(statement)
        return found[0] if found else None
