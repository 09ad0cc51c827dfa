"""The QBO ids a desired document refers to: vendor, items, accounts (cache, QBO, create),
classes, location and tax codes (cache, QBO; never created: `named`).

`References` is what a document writer asks: `prefetch` fills the caches for many documents
at once (a few `IN (...)` queries, the missing ones created 30 to a group by `bulk`, the odd
ones one by one concurrently), `for_document` gives the
ids one document needs, `forget` drops them when QBO says one vanished. The rules for each kind of
reference are in `vendors`, `items` and `accounts`.

Names QBO's query lexer cannot take (see `reconciler.qbo.query`) are not given up on: the
resolver asks with `LIKE 'prefix%'` on the part before the first such character and compares
full names itself; with no usable prefix it lists the entity once per pass and matches in
memory. Either way the result lands in the map, so it happens once per name.

A prefetch may run on the pipeline's prefetch thread while the engine is still reading (see
`pipeline`); one lock makes a resolve wait for a prefetch in progress, so no name is looked up
or created twice by two threads at once.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from typing import Any, Protocol

from reconciler import errors
from reconciler.config.loader import Settings
from reconciler.documents.references import ResolvedRefs
from reconciler.documents.tax_inclusive import INCLUSIVE
from reconciler.documents.values import item_key
from reconciler.model import DesiredItem, DesiredVendor, LineKind
from reconciler.qbo.wire import MAX_BATCH_ITEMS
from reconciler.resolve import bulk
from reconciler.resolve.accounts import AccountResolver
from reconciler.resolve.common import ref_request_id
from reconciler.resolve.items import ItemPolicy, ItemResolver
from reconciler.resolve.named import CodedNames, CodedRefs
from reconciler.resolve.tax_rates import TaxRateTable
from reconciler.resolve.vendors import VendorPolicy, VendorResolver
from reconciler.state import ReferenceMaps, name_key

__all__ = [
    "AccountResolver",
    "ItemPolicy",
    "ItemResolver",
    "References",
    "VendorPolicy",
    "VendorResolver",
    "ref_request_id",
]


class ReferringLine(Protocol):
    """What the resolver reads of one line: its item or account, class and tax code."""

    @property
    def kind(self) -> LineKind: ...
    @property
    def item(self) -> DesiredItem | None: ...
    @property
    def account(self) -> str | None: ...
    @property
    def class_name(self) -> str | None: ...
    @property
    def tax_code(self) -> str | None: ...


class ReferringDocument(Protocol):
    """What the resolver reads of a document: a desired PO, or a bill's `BillReferences`."""

    @property
    def source_id(self) -> int: ...
    @property
    def vendor(self) -> DesiredVendor: ...
    @property
    def lines(self) -> Sequence[ReferringLine]: ...
    @property
    def ap_account(self) -> str | None: ...
    @property
    def location(self) -> str | None: ...
    @property
    def tax_calculation(self) -> str | None:
        """GlobalTaxCalculation: a TaxInclusive document's lines go out net (`tax_rates`)."""
        ...


class References:
    """The resolvers of one pass (their caches live for the pass) and what they answer."""

    def __init__(
        self,
        qbo: Any,
        maps: ReferenceMaps,
        settings: Settings,
        *,
        today: date,
        on_event: Callable[..., None],
    ) -> None:
        self._maps = maps
        self._settings = settings
        self._event = on_event
        self._send_group = getattr(qbo, "send_group", None)
        self._lock = threading.RLock()
        self._expected = 0  # documents in the read under way (`expect`)
        self._groups_sent = 0  # groups of reference creates sent during that read
        sync, realm = settings.sync, settings.qbo.realm_id
        self.accounts = AccountResolver(qbo, maps)
        self.vendors = VendorResolver(
            qbo,
            maps,
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
            maps,
            self.accounts,
            realm_id=realm,
            policy=ItemPolicy(on_missing=sync.missing_item, on_inactive=sync.inactive_vendor),
            account_names=settings.item_account_names(),
            # An Inventory item starts tracking today: nothing is on hand before its first PO.
            inv_start_date=today,
            on_event=on_event,
        )
        self.tax_rates = TaxRateTable(qbo)
        self.coded = CodedRefs(
            qbo,
            maps,
            realm_id=realm,
            classes_on_inactive=settings.classes.on_inactive,
            locations_on_inactive=settings.locations.on_inactive,
            on_event=on_event,
        )

    def expect(self, documents: int) -> None:
        """How many documents the read under way holds (Luminous's estimate; it stands for
        the rest of the pass, until a later read says its own): whether QBO's batch budget
        will bind decides how a part-filled group of creates goes (`bulk`)."""
        self._expected, self._groups_sent = max(0, documents), 0

    def for_document(self, desired: ReferringDocument) -> ResolvedRefs:
        """Every id one document's body needs (found or created now if not cached)."""
        with self._lock:
            return self._for_document(desired)

    def _for_document(self, desired: ReferringDocument) -> ResolvedRefs:
        class_ids, department_id, tax_code_ids = self.coded.ids(CodedNames.of([desired]))
        vendor_id = self.vendors.resolve(desired.vendor)
        item_ids: dict[str, str] = {}
        missing_item_account_id = None
        for line in desired.lines:
            if line.kind is LineKind.ITEM and line.item is not None:
                item_id = self.items.resolve(line.item)
                if item_id is not None:
                    item_ids[item_key(line.item)] = item_id
                elif missing_item_account_id is None:  # policy: such lines go to an account
                    missing_item_account_id = self.accounts.id_for(self._settings.accounts.expense)
        names = {line.account for line in desired.lines if line.account}
        vendor_currency = None
        if getattr(desired, "currency_from", None) == "vendor":  # (a PO without a currency)
            found = self.vendors.currency_of(vendor_id)
            vendor_currency = found or self._settings.qbo.home_currency
        return ResolvedRefs(
            vendor_id=vendor_id,
            item_ids=item_ids,
            account_ids={name: self.accounts.id_for(name) for name in names},
            ap_account_id=self.accounts.id_for(desired.ap_account) if desired.ap_account else None,
            custom_field_ids=self._settings.custom_field_ids(),
            missing_item_account_id=missing_item_account_id,
            class_ids=class_ids,
            department_id=department_id,
            tax_code_ids=tax_code_ids,
            tax_rates=self.tax_rates.rates() if desired.tax_calculation == INCLUSIVE else {},
            vendor_currency=vendor_currency,
        )

    def forget(self, desired: ReferringDocument) -> None:
        """QBO said a cached reference is gone or inactive: the next resolve asks again."""
        with self._lock:
            self._forget(desired)

    def _forget(self, desired: ReferringDocument) -> None:
        self._maps.forget_vendor(desired.vendor.display_name)
        for line in desired.lines:
            if line.item is not None:
                self._maps.forget_item(item_key(line.item))
        self.accounts.forget_all()
        self.coded.forget()
        self._event("references_forgotten", doc_id=desired.source_id)

    def warm(self) -> None:
        """The configured accounts, before any document names them: one `IN (...)` while
        Luminous is first read, when QBO's budget would idle."""
        with self._lock:
            self.accounts.prefetch(n for n in dataclasses.astuple(self._settings.accounts) if n)

    def prefetch(self, desired: Iterable[ReferringDocument]) -> None:
        """Vendors and items not yet in the maps: looked up with a few `IN (...)` queries, and
        the missing ones found or created concurrently (QBO calls in worker threads, up to the
        realm's concurrency; the maps are written here, on the calling thread, in a fixed
        order). A reference that fails here is left alone: the document's own resolve meets
        the failure again and records it for that document."""
        with self._lock:
            self._prefetch(list(desired))

    def _prefetch(self, desired: list[ReferringDocument]) -> None:
        self.coded.prefetch(CodedNames.of(desired))
        items = {
            item_key(line.item): line.item
            for d in desired
            for line in d.lines
            if line.kind is LineKind.ITEM and line.item is not None
        }
        named = {name_key(d.vendor.display_name): d.vendor for d in desired}
        try:
            self.accounts.prefetch(self._account_names(desired))
            self.vendors.prefetch(v.display_name for v in named.values())
            self.items.prefetch(items.values())
        except (errors.Retryable, errors.Parked):
            return  # (a 429 storm here used to abort the whole pass)
        vendors = [v for v in named.values() if self._maps.vendor_id(v.display_name) is None]
        missing = [i for k, i in items.items() if self._maps.item_id(k) is None]
        if len(vendors) + len(missing) < 2:  # one alone: the document's own resolve does it
            return
        vendors, missing = self._create_in_groups(vendors, missing, documents=len(desired))
        if vendors or missing:
            self._fetch_concurrently(vendors, missing)

    def _account_names(self, desired: list[ReferringDocument]) -> set[str]:
        names = {n for n in self._settings.item_account_names().values() if n}
        names.add(self._settings.accounts.expense)
        names.update(line.account for d in desired for line in d.lines if line.account)
        names.update(d.ap_account for d in desired if d.ap_account)
        return names

    def _create_in_groups(
        self, vendors: list[DesiredVendor], items: list[DesiredItem], *, documents: int
    ) -> tuple[list[DesiredVendor], list[DesiredItem]]:
        """The references just found missing, created 30 to a group (`bulk`); returns the
        rest (inactive ones, odd names, duplicates) for the one-by-one path."""
        new_vendors = [v for v in vendors if self.vendors.missing(v)]
        new_items = [i for i in items if self.items.missing(i)]
        if len(new_vendors) + len(new_items) < 2 or self._send_group is None:
            return vendors, items
        if new_items:
            self.items.warm_accounts()
        creates = [
            bulk.RefCreate("Vendor", *self.vendors.create_request(v), v) for v in new_vendors
        ]
        creates += [bulk.RefCreate("Item", *self.items.create_request(i), i) for i in new_items]
        size, documents = MAX_BATCH_ITEMS, max(documents, self._expected)
        groups = -(-len(creates) // size)
        needed = -(-documents // size) + self._groups_sent + groups
        binds = needed > self._settings.qbo.batches_per_minute
        self._groups_sent += groups
        done: set[int] = set()
        for outcome in bulk.create_all(self._send_group, creates, tail_alone=binds):
            subject = outcome.create.subject
            if outcome.entity is not None:
                resolver = self.vendors if outcome.create.entity == "Vendor" else self.items
                resolver.created(subject, outcome.entity)  # type: ignore[arg-type]
                done.add(id(subject))
            elif not outcome.duplicate:
                done.add(id(subject))  # refused: the document's resolve meets it and records it
        return (
            [v for v in vendors if id(v) not in done],
            [i for i in items if id(i) not in done],
        )

    def _fetch_concurrently(self, vendors: list[DesiredVendor], items: list[DesiredItem]) -> None:
        if items:
            self.items.warm_accounts()
        workers = max(1, min(self._settings.qbo.max_concurrent, len(vendors) + len(items)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="refs") as pool:
            vendor_jobs = [(v, pool.submit(self.vendors.fetch, v)) for v in vendors]
            item_jobs = [(i, pool.submit(self.items.fetch, i)) for i in items]
            for vendor, job in vendor_jobs:
                if (found := _ref_result(job)) is not None:
                    self.vendors.remember(vendor, found)
            for item, job in item_jobs:
                if (found := _ref_result(job)) is not None:
                    self.items.remember(item, found)


def _ref_result(job: Future[Any]) -> Any:
    """A reference look-up's result; None when it failed for a reason its documents will meet
    again (a Fatal stops the pass)."""
    try:
        return job.result()
    except errors.Fatal:
        raise
    except errors.ReconcilerError:
        return None
