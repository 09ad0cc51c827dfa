"""Vendor, item and account references: cache, then QBO (inactive included), then create.

Vendors are found by exact display name. QBO keeps one name list for vendors, customers and
employees, so a create can fail with 6240 even though no *vendor* has the name; that is
settled by the configured policy (`suffix`: use "Name (Supplier)", recorded in the vendor map;
`fail`: park the PO with the reason), never by repeating the same create.

Names QBO's query lexer cannot take (see `reconciler.qbo.query`) are not given up on: the
resolver asks with `LIKE 'prefix%'` on the part before the first such character and compares
full names itself; with no usable prefix it lists the entity once per pass and matches in
memory. Either way the result lands in the SQLite map, so it happens once per name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from reconciler import errors
from reconciler.batching import in_chunks
from reconciler.crashpoints import crash_point
from reconciler.mapping import (
    item_key,
    item_payload,
    vendor_display_name_with_suffix,
    vendor_payload,
)
from reconciler.model import DesiredItem, DesiredVendor
from reconciler.qbo import query as q
from reconciler.state import StateStore, name_key


class QueryClient(Protocol):
    def query(self, statement: str) -> list[dict[str, Any]]: ...
    def create(self, entity: str, body: dict[str, Any], *, request_id: str) -> Any: ...
    def update(
        self, entity: str, body: dict[str, Any], *, request_id: str, sparse: bool = True
    ) -> Any: ...


def ref_request_id(realm_id: str, kind: str, name: str, operation: str = "create") -> str:
    """Deterministic requestid for reference writes: the same name never creates twice."""
    digest = hashlib.sha256(f"{realm_id}|{kind}|{name_key(name)}|{operation}".encode()).hexdigest()
    return f"{kind[0]}{digest[:35]}"


def _entity_of(result: Any) -> dict[str, Any]:
    return result.entity if hasattr(result, "entity") else result


def _unqueryable_candidates(
    client: QueryClient, entity: str, field: str, value: str
) -> list[dict[str, Any]] | None:
    """Rows that may match `value` via a LIKE prefix; None when only a full listing will do."""
    pattern = q.queryable_prefix_pattern(value)
    if pattern is None:
        return None
    rows = client.query(q.select(entity, [q.like(field, pattern), q.in_("Active", (True, False))]))
    return None if len(rows) >= q.MAX_RESULTS_LIMIT else rows


def _iter_all(client: QueryClient, entity: str, where: list[q.Cond]) -> Iterator[dict[str, Any]]:
    start = 1
    while True:
        page = client.query(q.select(entity, where, order_by="Id", start=start))
        yield from page
        if len(page) < q.MAX_RESULTS_LIMIT:
            return
        start += q.MAX_RESULTS_LIMIT


@dataclass(frozen=True)
class VendorPolicy:
    on_collision: str = "suffix"  # suffix | fail
    suffix: str = " (Supplier)"
    on_inactive: str = "reactivate"  # reactivate | fail


class VendorResolver:
    """Vendor id for a desired vendor; creates it when QBO has none by that name."""

    def __init__(
        self,
        client: QueryClient,
        store: StateStore,
        *,
        realm_id: str,
        policy: VendorPolicy = VendorPolicy(),
        on_event: Callable[..., None] | None = None,
    ) -> None:
        self._client = client
        self._store = store
        self._realm = realm_id
        self._policy = policy
        self._by_name_all: dict[str, dict[str, Any]] | None = None
        self._absent: set[str] = set()  # name keys `prefetch` just found missing in QBO
        self._on_event = on_event or (lambda *a, **k: None)

    def resolve(self, vendor: DesiredVendor) -> str:
        cached = self._store.vendor_id(vendor.display_name)
        if cached is not None:
            return cached
        qbo_vendor = self.fetch(vendor)
        self.remember(vendor, qbo_vendor)
        return qbo_vendor["Id"]

    def fetch(self, vendor: DesiredVendor) -> dict[str, Any]:
        """QBO's vendor for this name: found (made active by policy) or created. Only QBO
        calls, no cache write, so several may run at once in worker threads."""
        key = name_key(vendor.display_name)
        if key in self._absent:  # prefetch asked a moment ago; a create's 6240 looks again
            self._absent.discard(key)
            qbo_vendor = None
        else:
            qbo_vendor = self._find(vendor.display_name)
        if qbo_vendor is None:
            return self._create(vendor)
        return self._ensure_active(qbo_vendor)

    def remember(self, vendor: DesiredVendor, qbo_vendor: dict[str, Any]) -> None:
        self._store.remember_vendor(
            vendor.display_name, qbo_vendor["Id"], qbo_vendor["DisplayName"]
        )

    def prefetch(self, names: Iterable[str]) -> int:
        """Fill the cache for many names with `IN (...)` queries; returns the queries sent.

        Only active vendors are remembered: an inactive one (or a name QBO's lexer cannot
        take, or one that is missing) is left to `resolve`, which applies the policies."""
        wanted: dict[str, str] = {}
        for name in names:
            key = name_key(name)
            if key not in wanted and q.is_queryable(name) and self._store.vendor_id(name) is None:
                wanted[key] = name
        sent = 0
        for chunk in in_chunks(wanted.values()):
            found = self._client.query(
                q.select("Vendor", [q.in_("DisplayName", chunk), q.in_("Active", (True, False))])
            )
            sent += 1
            by_key: dict[str, dict[str, Any]] = {}
            for v in found:
                by_key.setdefault(name_key(v.get("DisplayName", "")), v)
            for name in chunk:
                v = by_key.get(name_key(name))
                if v is None:
                    self._absent.add(name_key(name))
                elif v.get("Active", True):
                    self._store.remember_vendor(name, v["Id"], v["DisplayName"])
        return sent

    def _find(self, display_name: str) -> dict[str, Any] | None:
        try:
            statement = q.select(
                "Vendor", [q.eq("DisplayName", display_name), q.in_("Active", (True, False))]
            )
        except q.UnqueryableValue:
            rows = _unqueryable_candidates(self._client, "Vendor", "DisplayName", display_name)
            if rows is None:
                return self._scan(display_name)
            return next(
                (v for v in rows if name_key(v.get("DisplayName", "")) == name_key(display_name)),
                None,
            )
        for v in self._client.query(statement):
            if name_key(v.get("DisplayName", "")) == name_key(display_name):
                return v
        return None

    def _scan(self, display_name: str) -> dict[str, Any] | None:
        if self._by_name_all is None:
            self._by_name_all = {
                name_key(v.get("DisplayName", "")): v
                for v in _iter_all(self._client, "Vendor", [q.in_("Active", (True, False))])
            }
        return self._by_name_all.get(name_key(display_name))

    def _ensure_active(self, qbo_vendor: dict[str, Any]) -> dict[str, Any]:
        if qbo_vendor.get("Active", True):
            return qbo_vendor
        if self._policy.on_inactive != "reactivate":
            raise errors.Parked(
                f"vendor {qbo_vendor['DisplayName']!r} is inactive in QBO "
                "(policy: fail); make it active or change sync.inactive_vendor",
                code="vendor_inactive",
            )
        body = {"Id": qbo_vendor["Id"], "SyncToken": qbo_vendor["SyncToken"], "Active": True}
        result = self._client.update(
            "Vendor",
            body,
            request_id=ref_request_id(
                self._realm, "vendor", qbo_vendor["DisplayName"], f"activate{body['SyncToken']}"
            ),
        )
        self._on_event("vendor_reactivated", qbo_id=qbo_vendor["Id"])
        return _entity_of(result)

    def _create(self, vendor: DesiredVendor) -> dict[str, Any]:
        try:
            return self._create_named(vendor, vendor.display_name)
        except errors.DuplicateNameFault as exc:
            # Someone may have created the vendor in between: look once more before the policy.
            again = self._find(vendor.display_name)
            if again is not None:
                return self._ensure_active(again)
            if self._policy.on_collision != "suffix":
                raise errors.QBOParkedFault(
                    f"supplier name {vendor.display_name!r} is already used by a QBO customer "
                    "or employee (policy: fail); rename one of them or set "
                    "sync.vendor_name_collision = 'suffix'",
                    code=exc.code,
                    detail=exc.detail,
                    intuit_tid=exc.intuit_tid,
                ) from exc
        alternative = vendor_display_name_with_suffix(vendor.display_name, self._policy.suffix)
        existing = self._find(alternative)
        if existing is not None:
            found = self._ensure_active(existing)
        else:
            try:
                found = self._create_named(vendor, alternative)
            except errors.DuplicateNameFault as exc:
                raise errors.QBOParkedFault(
                    f"supplier names {vendor.display_name!r} and {alternative!r} are both "
                    "taken by customers or employees in QBO; rename one of them",
                    code=exc.code,
                    detail=exc.detail,
                    intuit_tid=exc.intuit_tid,
                ) from exc
        self._on_event(
            "vendor_name_collision", source_name=vendor.display_name, used=found["DisplayName"]
        )
        return found

    def _create_named(self, vendor: DesiredVendor, display_name: str) -> dict[str, Any]:
        body = vendor_payload(vendor)
        body["DisplayName"] = display_name
        result = self._client.create(
            "Vendor", body, request_id=ref_request_id(self._realm, "vendor", display_name)
        )
        created = _entity_of(result)
        crash_point("vendor_created")
        self._on_event("vendor_created", qbo_id=created["Id"], name=display_name)
        return created


@dataclass(frozen=True)
class ItemPolicy:
    on_missing: str = "create"  # create | account_line
    on_inactive: str = "reactivate"  # reactivate | fail


class ItemResolver:
    """Item id by SKU, then by name; created when missing (type and accounts configured)."""

    def __init__(
        self,
        client: QueryClient,
        store: StateStore,
        accounts: AccountResolver,
        *,
        realm_id: str,
        policy: ItemPolicy,
        account_names: dict[str, str | None],
        inv_start_date: date | None = None,
        on_event: Callable[..., None] | None = None,
    ) -> None:
        self._client = client
        self._store = store
        self._accounts = accounts
        self._realm = realm_id
        self._policy = policy
        self._account_names = account_names  # role ("expense", "income", "asset") -> name
        self._inv_start_date = inv_start_date
        self._all: list[dict[str, Any]] | None = None
        self._absent: set[str] = set()  # item keys `prefetch` found under neither SKU nor name
        self._on_event = on_event or (lambda *a, **k: None)

    def resolve(self, item: DesiredItem) -> str | None:
        """The item's QBO id, or None when policy says such lines become account lines."""
        key = item_key(item)
        cached = self._store.item_id(key)
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
        self._store.remember_item(item_key(item), found["Id"], found.get("Name", item.name))

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
            if key not in pending and self._store.item_id(key) is None:
                pending[key] = item
        sent = 0
        for field in ("Sku", "Name"):
            wanted: dict[str, list[str]] = {}  # name_key(value) -> item keys asking for it
            values: dict[str, str] = {}
            for key, item in pending.items():
                value = item.sku if field == "Sku" else item.name
                if not value or not q.is_queryable(value):
                    continue
                vkey = name_key(value)
                wanted.setdefault(vkey, []).append(key)
                values.setdefault(vkey, value)
            for chunk in in_chunks(values.values()):
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
                            self._store.remember_item(key, match["Id"], match.get("Name", ""))
                        # found (active or not): no name look-up for it; resolve settles the rest
                        del pending[key]
        asked = {
            key
            for key, item in pending.items()
            if all(q.is_queryable(v) for v in (item.sku, item.name) if v)
        }
        self._absent.update(asked)
        return sent

    def _lookup(self, field: str, value: str) -> dict[str, Any] | None:
        try:
            statement = q.select("Item", [q.eq(field, value), q.in_("Active", (True, False))])
        except q.UnqueryableValue:
            rows = _unqueryable_candidates(self._client, "Item", field, value)
            if rows is not None:
                found = [i for i in rows if name_key(i.get(field) or "") == name_key(value)]
                return found[0] if found else None
            if self._all is None:
                self._all = list(_iter_all(self._client, "Item", [q.in_("Active", (True, False))]))
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
        return _entity_of(result)

    def _create(self, item: DesiredItem) -> dict[str, Any]:
        ids = {
            f"{role}_account_id": self._accounts.id_for(name)
            for role, name in self._account_names.items()
            if name
        }
        body = item_payload(item, **ids, inv_start_date=self._inv_start_date)
        try:
            result = self._client.create(
                "Item", body, request_id=ref_request_id(self._realm, "item", item_key(item))
            )
        except errors.DuplicateNameFault:
            # The name exists (perhaps inactive, perhaps without our SKU): use that item.
            again = self._lookup("Name", body.get("Name", item.name))
            if again is None:
                raise
            return again if again.get("Active", True) else self._reactivate(again)
        created = _entity_of(result)
        self._on_event("item_created", qbo_id=created["Id"], name=created.get("Name"))
        return created


class AccountResolver:
    """Account ids by name (as configured), cached in SQLite like vendors and items; a missing
    account is a configuration problem, not a per-PO one."""

    def __init__(self, client: QueryClient, store: StateStore) -> None:
        self._client = client
        self._store = store

    def id_for(self, name: str) -> str:
        cache_key = "account:" + name_key(name)
        cached = self._store.get_meta(cache_key)
        if cached is not None:
            return cached
        key = name_key(name)
        matches = [
            a
            for a in self._client.query(q.select("Account", [q.eq("Name", name)]))
            if key in (name_key(a.get("Name", "")), name_key(a.get("FullyQualifiedName", "")))
        ]
        if not matches:
            raise errors.ConfigError(
                [f"account {name!r} (from [accounts]) does not exist in QBO or is inactive"]
            )
        self._store.set_meta(cache_key, matches[0]["Id"])
        return matches[0]["Id"]

    def forget_all(self) -> None:
        self._store.delete_meta_prefix("account:")
