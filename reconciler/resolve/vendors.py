"""Vendors by exact display name: cache, then QBO (inactive included), then create.

QBO keeps one name list for vendors, customers and employees, so a create can fail with 6240
even though no *vendor* has the name; that is settled by the configured policy (`suffix`: use
"Name (Supplier)", recorded in the vendor map; `fail`: park the PO with the reason), never by
repeating the same create.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from reconciler import errors
from reconciler.crashpoints import crash_point
from reconciler.documents.references import vendor_payload
from reconciler.documents.values import vendor_display_name_with_suffix
from reconciler.model import DesiredVendor
from reconciler.qbo import query as q
from reconciler.qbo.query import in_chunks
from reconciler.resolve.common import (
    QueryClient,
    entity_of,
    iter_all,
    ref_request_id,
    unqueryable_candidates,
)
from reconciler.state import ReferenceMaps, name_key


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
        maps: ReferenceMaps,
        *,
        realm_id: str,
        policy: VendorPolicy = VendorPolicy(),
        on_event: Callable[..., None] | None = None,
    ) -> None:
        self._client = client
        self._maps = maps
        self._realm = realm_id
        self._policy = policy
        self._by_name_all: dict[str, dict[str, Any]] | None = None
        self._absent: set[str] = set()  # name keys `prefetch` just found missing in QBO
        self._currencies: dict[str, str | None] = {}  # vendor Id -> its CurrencyRef, this pass
        self._on_event = on_event or (lambda *a, **k: None)

    def resolve(self, vendor: DesiredVendor) -> str:
        cached = self._maps.vendor_id(vendor.display_name)
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

    def currency_of(self, vendor_id: str) -> str | None:
        """The vendor's currency in QBO (its CurrencyRef), read once a pass: for a document
        that takes its vendor's currency (`sync.missing_currency = "vendor"`). A vendor's
        currency cannot change once it has transactions."""
        if vendor_id not in self._currencies:
            rows = self._client.query(q.select("Vendor", [q.eq("Id", vendor_id)]))
            ref = rows[0].get("CurrencyRef") if rows else None
            value = ref.get("value") if isinstance(ref, dict) else None
            self._currencies[vendor_id] = value if isinstance(value, str) and value else None
        return self._currencies[vendor_id]

    def remember(self, vendor: DesiredVendor, qbo_vendor: dict[str, Any]) -> None:
        self._maps.remember_vendor(vendor.display_name, qbo_vendor["Id"], qbo_vendor["DisplayName"])

    def prefetch(self, names: Iterable[str]) -> int:
        """Fill the cache for many names with `IN (...)` queries; returns the queries sent.

        Only active vendors are remembered: an inactive one (or a name QBO's lexer cannot
        take, or one that is missing) is left to `resolve`, which applies the policies."""
        wanted: dict[str, str] = {}
        for name in names:
            key = name_key(name)
            if key not in wanted and q.is_queryable(name) and self._maps.vendor_id(name) is None:
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
                    self._maps.remember_vendor(name, v["Id"], v["DisplayName"])
        return sent

    def _find(self, display_name: str) -> dict[str, Any] | None:
        try:
            statement = q.select(
                "Vendor", [q.eq("DisplayName", display_name), q.in_("Active", (True, False))]
            )
        except q.UnqueryableValue:
            rows = unqueryable_candidates(self._client, "Vendor", "DisplayName", display_name)
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
                for v in iter_all(self._client, "Vendor", [q.in_("Active", (True, False))])
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
        return entity_of(result)

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

    def missing(self, vendor: DesiredVendor) -> bool:
        """`prefetch` just found no vendor by this name: a create is due (`bulk`)."""
        return name_key(vendor.display_name) in self._absent

    def create_request(self, vendor: DesiredVendor) -> tuple[dict[str, Any], str]:
        """The body and requestid of this vendor's create, as `_create_named` sends it."""
        body = vendor_payload(vendor)
        body["DisplayName"] = vendor.display_name
        return body, ref_request_id(self._realm, "vendor", vendor.display_name)

    def created(self, vendor: DesiredVendor, created: dict[str, Any]) -> None:
        """A create answered (alone or in a group): cached, announced."""
        self._absent.discard(name_key(vendor.display_name))
        crash_point("vendor_created")
        self._on_event("vendor_created", qbo_id=created["Id"], name=created.get("DisplayName"))
        self.remember(vendor, created)

    def _create_named(self, vendor: DesiredVendor, display_name: str) -> dict[str, Any]:
        body = vendor_payload(vendor)
        body["DisplayName"] = display_name
        result = self._client.create(
            "Vendor", body, request_id=ref_request_id(self._realm, "vendor", display_name)
        )
        created = entity_of(result)
        crash_point("vendor_created")
        self._on_event("vendor_created", qbo_id=created["Id"], name=display_name)
        return created
