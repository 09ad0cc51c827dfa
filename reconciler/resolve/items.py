"""Items by SKU, then by name (as Luminous matches): cache, then QBO, then create (type and
accounts from configuration)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from reconciler import errors
from reconciler.documents.references import item_payload
from reconciler.documents.values import item_key
from reconciler.model import DesiredItem
from reconciler.qbo import query as q
from reconciler.qbo.query import in_chunks
from reconciler.resolve.accounts import AccountResolver
from reconciler.resolve.common import (
    QueryClient,
    entity_of,
    iter_all,
    ref_request_id,
    unqueryable_candidates,
)
from reconciler.resolve.listing import TableListing
from reconciler.state import ReferenceMaps, name_key


@dataclass(frozen=True)
class ItemPolicy:
    on_missing: str = "create"  # create | account_line
    on_inactive: str = "reactivate"  # reactivate | fail


class ItemResolver:
    """Item id by SKU, then by name; created when missing (type and accounts configured)."""

    def __init__(
        self,
        client: QueryClient,
        maps: ReferenceMaps,
        accounts: AccountResolver,
        *,
        realm_id: str,
        policy: ItemPolicy,
        account_names: dict[str, str | None],
        inv_start_date: date | None = None,
        on_event: Callable[..., None] | None = None,
    ) -> None:
        self._client = client
        self._maps = maps
        self._accounts = accounts
        self._realm = realm_id
        self._policy = policy
        self._account_names = account_names  # role ("expense", "income", "asset") -> name
        self._inv_start_date = inv_start_date
        self._all: list[dict[str, Any]] | None = None
        self._listing = TableListing(client, "Item", ("Name", "Sku", "Active"))
        self._absent: set[str] = set()  # item keys `prefetch` found under neither SKU nor name
        self._on_event = on_event or (lambda *a, **k: None)

    def resolve(self, item: DesiredItem) -> str | None:
        """The item's QBO id, or None when policy says such lines become account lines."""
        key = item_key(item)
        cached = self._maps.item_id(key)
        if cached is not None:
            return cached
        found = self.fetch(item)
        if found is None:
            return None
        self.remember(item, found)
        return found["Id"]

    def fetch(self, item: DesiredItem) -> dict[str, Any] | None:
        """QBO's item (by SKU, then name; reactivated or created by policy), or None when
        policy makes such lines account lines. Only QBO calls and cache reads (accounts must be
        warm), so several may run at once in worker threads."""
        key = item_key(item)
        if key in self._absent:  # prefetch asked a moment ago; a create's 6240 looks again
            self._absent.discard(key)
            found = None
        else:
            found = self._find(item)
        if found is None:
            if self._policy.on_missing != "create":
                return None
            return self._create(item)
        if not found.get("Active", True):
            return self._reactivate(found)
        return found

    def remember(self, item: DesiredItem, found: dict[str, Any]) -> None:
        self._maps.remember_item(item_key(item), found["Id"], found.get("Name", item.name))

    def warm_accounts(self) -> None:
        """Resolve the configured item accounts now (cache writes), before threads create."""
        for name in self._account_names.values():
            if name:
                self._accounts.id_for(name)

    def prefetch(self, items: Iterable[DesiredItem]) -> int:
        """Fill the cache for many items with `IN (...)` queries, by SKU and then by name (the
        order `resolve` uses); returns the queries sent. Inactive or missing items are left to
        `resolve` (reactivation and creation policies)."""
        pending: dict[str, DesiredItem] = {}
        for item in items:
            key = item_key(item)
            if key not in pending and self._maps.item_id(key) is None:
                pending[key] = item
        sent, reads_before = 0, self._listing.reads
        needed = sum(len(in_chunks(_values(pending, f)[0].values())) for f in ("Sku", "Name"))
        listed = self._listing.rows_for(needed) if needed else None
        for field in ("Sku", "Name"):
            values, wanted = _values(pending, field)
            for chunk in in_chunks(values.values()):
                if listed is not None:
                    found = self._listing.matching(listed, field, chunk)
                else:
                    found = self._client.query(
                        q.select("Item", [q.in_(field, chunk), q.in_("Active", (True, False))])
                    )
                    sent += 1
                first: dict[str, dict[str, Any]] = {}
                for candidate in found:
                    first.setdefault(name_key(candidate.get(field) or ""), candidate)
                for value in chunk:
                    match = first.get(name_key(value))
                    for key in wanted.get(name_key(value), []):
                        if match is None or key not in pending:
                            continue
                        if match.get("Active", True):
                            self._maps.remember_item(key, match["Id"], match.get("Name", ""))
                        # found (active or not): no name look-up for it; resolve settles the rest
                        del pending[key]
        asked = {
            key
            for key, item in pending.items()
            if all(q.is_queryable(v) for v in (item.sku, item.name) if v)
        }
        self._absent.update(asked)
        return sent + self._listing.reads - reads_before

    def _lookup(self, field: str, value: str) -> dict[str, Any] | None:
        try:
            statement = q.select("Item", [q.eq(field, value), q.in_("Active", (True, False))])
        except q.UnqueryableValue:
            rows = unqueryable_candidates(self._client, "Item", field, value)
            if rows is not None:
                found = [i for i in rows if name_key(i.get(field) or "") == name_key(value)]
                return found[0] if found else None
            if self._all is None:
                self._all = list(iter_all(self._client, "Item", [q.in_("Active", (True, False))]))
            matches = [i for i in self._all if name_key(i.get(field) or "") == name_key(value)]
            return matches[0] if matches else None
        for candidate in self._client.query(statement):
            if name_key(candidate.get(field) or "") == name_key(value):
                return candidate
        return None

    def _find(self, item: DesiredItem) -> dict[str, Any] | None:
        if item.sku:
            by_sku = self._lookup("Sku", item.sku)
            if by_sku is not None:
                return by_sku
        return self._lookup("Name", item.name)

    def _reactivate(self, found: dict[str, Any]) -> dict[str, Any]:
        if self._policy.on_inactive != "reactivate":
            raise errors.Parked(
                f"item {found.get('Name')!r} is inactive in QBO (policy: fail)",
                code="item_inactive",
            )
        body = {
            "Id": found["Id"],
            "SyncToken": found["SyncToken"],
            "Active": True,
            "Name": found.get("Name"),
        }
        result = self._client.update(
            "Item",
            body,
            request_id=ref_request_id(
                self._realm, "item", found.get("Name", ""), f"activate{found['SyncToken']}"
            ),
        )
        return entity_of(result)

    def missing(self, item: DesiredItem) -> bool:
        """`prefetch` just found it under neither SKU nor name, and policy creates it."""
        return self._policy.on_missing == "create" and item_key(item) in self._absent

    def create_request(self, item: DesiredItem) -> tuple[dict[str, Any], str]:
        """The body and requestid of this item's create (accounts must be warm)."""
        ids = {
            f"{role}_account_id": self._accounts.id_for(name)
            for role, name in self._account_names.items()
            if name
        }
        body = item_payload(item, **ids, inv_start_date=self._inv_start_date)
        return body, ref_request_id(self._realm, "item", item_key(item))

    def created(self, item: DesiredItem, created: dict[str, Any]) -> None:
        self._absent.discard(item_key(item))
        self._on_event("item_created", qbo_id=created["Id"], name=created.get("Name"))
        self.remember(item, created)

    def _create(self, item: DesiredItem) -> dict[str, Any]:
        body, request_id = self.create_request(item)
        try:
            result = self._client.create("Item", body, request_id=request_id)
        except errors.DuplicateNameFault:
            # The name exists (perhaps inactive, perhaps without our SKU): use that item.
            again = self._lookup("Name", body.get("Name", item.name))
            if again is None:
                raise
            return again if again.get("Active", True) else self._reactivate(again)
        created = entity_of(result)
        self._on_event("item_created", qbo_id=created["Id"], name=created.get("Name"))
        return created


def _values(
    pending: dict[str, DesiredItem], field: str
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The distinct queryable values of `field` ("Sku" or "Name") the pending items have, and
    for each (by name key) the item keys asking for it."""
    values: dict[str, str] = {}
    wanted: dict[str, list[str]] = {}
    for key, item in pending.items():
        value = item.sku if field == "Sku" else item.name
        if value and q.is_queryable(value):
            values.setdefault(name_key(value), value)
            wanted.setdefault(name_key(value), []).append(key)
    return values, wanted
