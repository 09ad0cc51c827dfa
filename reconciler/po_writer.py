"""Makes one QBO PurchaseOrder what a planned action says, and reports what QBO answered.

References first (vendor, items, accounts: cache, then QBO, then create), then the body
(`mapping.po_payload`), then the write. A create that may already have landed (an earlier
attempt without a confirmed answer) is looked up by DocNumber and adopted rather than sent
again; an update meets a stale SyncToken by re-reading it. No ledger writes here: the engine
records whatever this returns or raises, so the order "requestid in the ledger, then the
request" stays in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from typing import Any

from reconciler import errors, mapping, plan
from reconciler.config import Settings
from reconciler.mapping import item_key
from reconciler.model import DesiredPO, LedgerEntry, LineKind
from reconciler.qbo import query as q
from reconciler.resolve import (
    AccountResolver,
    ItemPolicy,
    ItemResolver,
    VendorPolicy,
    VendorResolver,
)
from reconciler.state import StateStore, name_key

STALE_RETRIES = 3


class POWriter:
    """The QBO side of one pass: resolvers (their caches live for the pass) and the writes."""

    def __init__(
        self,
        qbo: Any,
        store: StateStore,
        settings: Settings,
        *,
        today: date,
        on_event: Callable[..., None],
    ) -> None:
        self.qbo = qbo
        self.store = store
        self.settings = settings
        self.rules = settings.mapping_rules()
        self._event = on_event
        sync = settings.sync
        realm = settings.qbo.realm_id
        self.accounts = AccountResolver(qbo, store)
        self.vendors = VendorResolver(
            qbo,
            store,
            realm_id=realm,
            policy=VendorPolicy(
                on_collision=sync.vendor_name_collision,
                suffix=sync.vendor_name_suffix,
                on_inactive=sync.inactive_vendor,
            ),
            on_event=on_event,
        )
        self.items = ItemResolver(
            qbo,
            store,
            self.accounts,
            realm_id=realm,
            policy=ItemPolicy(on_missing=sync.missing_item, on_inactive=sync.inactive_vendor),
            account_names=settings.item_account_names(),
            # An Inventory item starts tracking today: nothing is on hand before its first PO.
            inv_start_date=today,
            on_event=on_event,
        )

    def forget_refs(self, desired: DesiredPO) -> None:
        self.store.forget_vendor(desired.vendor.display_name)
        for line in desired.lines:
            if line.item is not None:
                self.store.forget_item(item_key(line.item))
        self.accounts.forget_all()
        self._event("references_forgotten", po_id=desired.source_id)

    def payload(self, desired: DesiredPO) -> dict[str, Any]:
        vendor_id = self.vendors.resolve(desired.vendor)
        item_ids: dict[str, str] = {}
        missing_item_account_id = None
        for line in desired.lines:
            if line.kind is LineKind.ITEM and line.item is not None:
                item_id = self.items.resolve(line.item)
                if item_id is not None:
                    item_ids[item_key(line.item)] = item_id
                elif missing_item_account_id is None:  # policy: such lines go to an account
                    missing_item_account_id = self.accounts.id_for(self.settings.accounts.expense)
        names = {line.account for line in desired.lines if line.account}
        account_ids = {name: self.accounts.id_for(name) for name in names}
        refs = mapping.ResolvedRefs(
            vendor_id=vendor_id,
            item_ids=item_ids,
            account_ids=account_ids,
            ap_account_id=self.accounts.id_for(desired.ap_account) if desired.ap_account else None,
            custom_field_ids=self.settings.custom_field_ids(),
            missing_item_account_id=missing_item_account_id,
        )
        payload = mapping.po_payload(desired, refs)
        # A note emptied in Luminous must be emptied in QBO too: a sparse update leaves out
        # fields it does not name, so name them, empty.
        for field_name in mapping.emptied_text_fields(desired, self.rules):
            payload.setdefault(field_name, "")
        return payload

    def send(
        self,
        action: plan.Action,
        pending: LedgerEntry,
        desired: DesiredPO | None,
        payload: dict[str, Any] | None,
        rid: str,
    ) -> tuple[dict[str, Any] | None, str | None]:
        qbo = self.qbo
        if isinstance(action, plan.CreatePO):
            assert payload is not None
            if action.look_first and desired is not None:
                existing = self.landed_create(desired, pending, payload)
                if existing is not None:
                    return self.adopt(existing, pending, payload, rid)
            try:
                result = qbo.create("PurchaseOrder", payload, request_id=rid, resend_unclear=False)
            except (errors.UnclearOutcome, errors.QBORetryableFault) as exc:
                if isinstance(exc, errors.ThrottledFault) or desired is None:
                    raise
                # The create may have landed: look before sending it again (QBO's requestid
                # replay would cover it too, for as long as QBO remembers the id).
                existing = self.landed_create(desired, pending, payload)
                if existing is not None:
                    return self.adopt(existing, pending, payload, rid)
                result = qbo.create("PurchaseOrder", payload, request_id=rid)
            return result.entity, result.intuit_tid
        if isinstance(action, plan.DeletePO) and pending.qbo_id is None:
            # Cancelled while its create was unconfirmed: delete what landed, if anything did.
            existing = (
                self.landed_create(desired, pending, payload)
                if desired is not None and payload is not None
                else None
            )
            if existing is None:
                return None, None
            result = qbo.delete(
                "PurchaseOrder", existing["Id"], existing["SyncToken"], request_id=rid
            )
            return result.entity, result.intuit_tid
        if isinstance(action, plan.DeletePO):
            result = qbo.delete("PurchaseOrder", pending.qbo_id, pending.sync_token, request_id=rid)
            return result.entity, result.intuit_tid
        body = payload if payload is not None else {}
        if isinstance(action, plan.ClosePO):
            body = {**body, "POStatus": "Closed"}
        return self.update(pending, body, rid)

    def update(
        self, pending: LedgerEntry, body: dict[str, Any], request_id: str
    ) -> tuple[dict[str, Any] | None, str | None]:
        qbo = self.qbo
        sync_token = pending.sync_token
        for attempt in range(STALE_RETRIES + 1):
            full = {**body, "Id": pending.qbo_id, "SyncToken": sync_token, "sparse": True}
            rid = (
                request_id
                if attempt == 0
                else plan.derive_request_id(request_id, "stale", sync_token)
            )
            try:
                result = qbo.update("PurchaseOrder", full, request_id=rid)
                return result.entity, result.intuit_tid
            except errors.StaleObjectFault:
                if attempt == STALE_RETRIES:
                    raise
                current = qbo.read("PurchaseOrder", pending.qbo_id).entity
                sync_token = current["SyncToken"]
        raise AssertionError("unreachable")

    def landed_create(
        self, desired: DesiredPO, pending: LedgerEntry, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The QBO PO an earlier, unconfirmed create of this PO left behind, if any. A match
        owned by another Luminous PO, or of another vendor, is never ours: 6140."""
        if not desired.doc_number:
            return None
        existing = self.find_by_doc_number(desired.doc_number)
        if existing is None:
            return None
        owner = self.store.po_id_for_qbo_id(existing["Id"])
        if owner is not None and owner != pending.po_id:
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

    def adopt(
        self, existing: dict[str, Any], pending: LedgerEntry, payload: dict[str, Any], rid: str
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The earlier create did land: take that document and bring it up to date."""
        pending = replace(pending, qbo_id=existing["Id"], sync_token=existing["SyncToken"])
        return self.update(pending, payload, plan.derive_request_id(rid, "adopt"))

    def find_by_doc_number(self, doc_number: str) -> dict[str, Any] | None:
        try:
            statement = q.select("PurchaseOrder", [q.eq("DocNumber", doc_number)])
        except q.UnqueryableValue:
            return None
        found = self.qbo.query(statement)
        return found[0] if found else None

    def prefetch(self, desired: list[DesiredPO]) -> None:
        """Vendors and items not yet in the maps: looked up with a few `IN (...)` queries, and
        the missing ones found or created concurrently (QBO calls in worker threads, up to the
        realm's concurrency; the maps are written here, on the pass thread, in a fixed order).
        A reference that fails here is left alone: the PO's own resolve meets the failure
        again and records it for that PO."""
        store = self.store
        items = {
            item_key(line.item): line.item
            for d in desired
            for line in d.lines
            if line.kind is LineKind.ITEM and line.item is not None
        }
        named = {name_key(d.vendor.display_name): d.vendor for d in desired}
        try:
            self.vendors.prefetch(v.display_name for v in named.values())
            self.items.prefetch(items.values())
        except (errors.Retryable, errors.Parked):
            return  # (a 429 storm here used to abort the whole pass)
        vendors = {k: v for k, v in named.items() if store.vendor_id(v.display_name) is None}
        missing = {k: i for k, i in items.items() if store.item_id(k) is None}
        if len(vendors) + len(missing) < 2:
            return  # nothing to overlap: the POs' own resolve does it
        if missing:
            self.items.warm_accounts()
        workers = max(1, min(self.settings.qbo.max_concurrent, len(vendors) + len(missing)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="refs") as pool:
            vendor_jobs = [(v, pool.submit(self.vendors.fetch, v)) for v in vendors.values()]
            item_jobs = [(i, pool.submit(self.items.fetch, i)) for i in missing.values()]
            for vendor, job in vendor_jobs:
                if (found := _ref_result(job)) is not None:
                    self.vendors.remember(vendor, found)
            for item, job in item_jobs:
                if (found := _ref_result(job)) is not None:
                    self.items.remember(item, found)


def _ref_result(job: Future[Any]) -> Any:
    """A reference look-up's result; None when it failed for a reason its POs will meet again
    (a Fatal stops the pass)."""
    try:
        return job.result()
    except errors.Fatal:
        raise
    except errors.ReconcilerError:
        return None
