"""Classes, locations (Department) and tax codes by configured name: cached in the state file
like accounts, looked up together with `IN (...)`, never created.

A class or location is matched on its FullyQualifiedName ("Retail:Online"), or, for a name
without a colon, on its Name when exactly one has it. QBO's answer includes inactive ones
(`Active IN (true, false)`), handled like vendors: made active again by policy (`reactivate`:
in QBO Plus that counts against its 40 classes and locations, and QBO's refusal, 6000, becomes
the document's failure), or the document fails (`fail`). A tax code cannot be made active
through the API (TaxCode is read-only there), and one without purchase rates is refused by
QBO on purchases: both fail the document, with the reason. A name QBO does not know fails the
document too; `reconciler doctor` lists every configured name that QBO does not have.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from reconciler import errors
from reconciler.qbo import query as q
from reconciler.qbo.query import in_chunks
from reconciler.resolve.common import QueryClient, entity_of, iter_all, ref_request_id
from reconciler.state import ReferenceMaps, name_key


@dataclass(frozen=True)
class NamedKind:
    entity: str  # Class | Department | TaxCode
    word: str  # how a person calls one
    section: str  # where it is configured
    cache: str  # the ReferenceMaps kind
    by_path: bool  # matched on FullyQualifiedName
    writable: bool  # can be made active again through the API


CLASS = NamedKind("Class", "class", "[classes]", "class", True, True)
LOCATION = NamedKind("Department", "location", "[locations]", "department", True, True)
TAX_CODE = NamedKind("TaxCode", "tax code", "[tax]", "taxcode", False, False)


def leaf(name: str) -> str:
    """The Name of a "Parent:Child" FullyQualifiedName."""
    return name.rsplit(":", 1)[-1].strip()


class NamedRefResolver:
    """Ids of configured names of one kind."""

    def __init__(
        self,
        client: QueryClient,
        maps: ReferenceMaps,
        kind: NamedKind,
        *,
        realm_id: str,
        on_inactive: str = "fail",
        on_event: Callable[..., None] | None = None,
    ) -> None:
        self._client = client
        self._maps = maps
        self.kind = kind
        self._realm = realm_id
        self._on_inactive = on_inactive
        self._on_event = on_event or (lambda *a, **k: None)
        self._found: dict[str, dict[str, Any] | None] = {}  # this pass's answers, by name key
        self._failed: dict[str, errors.Parked] = {}  # names this pass cannot use, and why
        # QBO answers a repeated requestid with its first answer, a refusal included: an
        # activation QBO refused (Plus's limit) must be a new request in a later pass.
        self._pass_tag = uuid.uuid4().hex[:12]

    # --- looking --------------------------------------------------------------------------

    def find(self, names: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        """QBO's object for each name (inactive ones too), or None: one `IN (...)` query per
        chunk, a full listing for names QBO's query lexer cannot take. No cache, no writes."""
        wanted = {name_key(n): n for n in names if n}
        rows: list[dict[str, Any]] = []
        leaves = sorted({leaf(n) if self.kind.by_path else n for n in wanted.values()})
        queryable = [v for v in leaves if q.is_queryable(v)]
        for chunk in in_chunks(queryable):
            where = [q.in_("Name", chunk), q.in_("Active", (True, False))]
            rows += self._client.query(q.select(self.kind.entity, where))
        if len(queryable) < len(leaves):
            rows += list(iter_all(self._client, self.kind.entity, [q.in_("Active", (True, False))]))
        return {key: self._match(name, rows) for key, name in wanted.items()}

    def _match(self, name: str, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        key = name_key(name)
        if self.kind.by_path:
            exact = [r for r in rows if name_key(r.get("FullyQualifiedName") or "") == key]
            if exact or ":" in name:
                return exact[0] if exact else None
        same = [r for r in rows if name_key(r.get("Name") or "") == key]
        return same[0] if len(same) == 1 else None

    def problem(self, name: str, row: dict[str, Any] | None) -> str | None:
        """Why this object cannot be used as it is (None: it can)."""
        kind = self.kind
        if row is None:
            return f"{kind.word} {name!r} is not in QuickBooks (from {kind.section})"
        if not row.get("Active", True):
            return f"{kind.word} {name!r} is inactive in QuickBooks"
        if kind is TAX_CODE and not (row.get("PurchaseTaxRateList") or {}).get("TaxRateDetail"):
            return f"tax code {name!r} has no purchase rate in QuickBooks (a sales-only code)"
        return None

    # --- resolving ------------------------------------------------------------------------

    def prefetch(self, names: Iterable[str]) -> None:
        """Names neither cached nor looked up this pass, looked up together; usable ones are
        remembered, the others wait for `id_for`, which applies the policies (no second
        look-up this pass)."""
        missing = [
            n
            for n in dict.fromkeys(names)
            if self._maps.named_id(self.kind.cache, n) is None
            and name_key(n) not in self._found
            and name_key(n) not in self._failed
        ]
        if not missing:
            return
        for key, row in self.find(missing).items():
            self._found[key] = row
        for name in missing:
            row = self._found.get(name_key(name))
            if row is not None and self.problem(name, row) is None:
                self._maps.remember_named(self.kind.cache, name, str(row["Id"]))

    def id_for(self, name: str) -> str:
        """The id, or the reason this name cannot be used (Parked: the document fails). A name
        that failed fails again for the rest of the pass without asking QBO again."""
        cached = self._maps.named_id(self.kind.cache, name)
        if cached is not None:
            return cached
        key = name_key(name)
        if key in self._failed:
            raise self._failed[key]
        try:
            return self._usable_id(name, key)
        except errors.Parked as exc:
            self._failed[key] = exc
            raise

    def _usable_id(self, name: str, key: str) -> str:
        row = self._found[key] if key in self._found else self.find([name])[key]
        problem = self.problem(name, row)
        if problem is not None and row is not None and not row.get("Active", True):
            row = self._reactivate(name, row, problem)
            problem = self.problem(name, row)
        if problem is not None or row is None:
            code = f"{self.kind.cache}_unusable"
            raise errors.Parked(f"{problem}: fix it there or change {self.kind.section}", code=code)
        self._maps.remember_named(self.kind.cache, name, str(row["Id"]))
        return str(row["Id"])

    def forget_all(self) -> None:
        self._found.clear()
        self._failed.clear()
        self._maps.forget_named(self.kind.cache)

    def _reactivate(self, name: str, row: dict[str, Any], problem: str) -> dict[str, Any]:
        if not self.kind.writable or self._on_inactive != "reactivate":
            policy = "" if not self.kind.writable else " (policy: fail)"
            raise errors.Parked(
                f"{problem}{policy}: make it active or change {self.kind.section}",
                code=f"{self.kind.cache}_inactive",
            )
        body = {"Id": row["Id"], "SyncToken": row["SyncToken"], "Active": True}
        operation = f"activate{row['SyncToken']}:{self._pass_tag}"
        result = self._client.update(
            self.kind.entity,
            body,
            request_id=ref_request_id(self._realm, self.kind.cache, name, operation),
        )
        self._on_event(f"{self.kind.cache}_reactivated", qbo_id=row["Id"], name=name)
        return entity_of(result)


@dataclass(frozen=True)
class CodedNames:
    """The classes, location and tax codes one or more documents name."""

    classes: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    tax_codes: tuple[str, ...] = ()

    @classmethod
    def of(cls, documents: Iterable[Any]) -> CodedNames:
        """From documents with `lines` (each with `class_name`, `tax_code`) and `location`:
        a `DesiredPO`, or any document shaped like it (a bill)."""
        documents = list(documents)
        lines = [line for d in documents for line in d.lines]
        return cls(
            classes=_distinct(line.class_name for line in lines),
            locations=_distinct(d.location for d in documents),
            tax_codes=_distinct(line.tax_code for line in lines),
        )


class CodedRefs:
    """The class, location and tax code ids documents need, for `References`."""

    def __init__(
        self,
        client: QueryClient,
        maps: ReferenceMaps,
        *,
        realm_id: str,
        classes_on_inactive: str,
        locations_on_inactive: str,
        on_event: Callable[..., None],
    ) -> None:
        def make(kind: NamedKind, on_inactive: str) -> NamedRefResolver:
            return NamedRefResolver(
                client, maps, kind, realm_id=realm_id, on_inactive=on_inactive, on_event=on_event
            )

        self.classes = make(CLASS, classes_on_inactive)
        self.locations = make(LOCATION, locations_on_inactive)
        self.tax_codes = make(TAX_CODE, "fail")

    def prefetch(self, names: CodedNames) -> None:
        """One look-up per kind for every name not cached (a failure here is left to each
        document's own resolve, which meets it again and records it for that document)."""
        for resolver, wanted in self._pairs(names):
            if wanted:
                try:
                    resolver.prefetch(wanted)
                except (errors.Retryable, errors.Parked):
                    continue

    def ids(self, names: CodedNames) -> tuple[dict[str, str], str | None, dict[str, str]]:
        """(class ids by name, the location's id, tax code ids by name) for one document; the
        names not cached yet are looked up together first (one query per kind)."""
        self.prefetch(names)
        classes = {name: self.classes.id_for(name) for name in names.classes}
        location = self.locations.id_for(names.locations[0]) if names.locations else None
        tax_codes = {name: self.tax_codes.id_for(name) for name in names.tax_codes}
        return classes, location, tax_codes

    def forget(self) -> None:
        for resolver in (self.classes, self.locations, self.tax_codes):
            resolver.forget_all()

    def _pairs(self, names: CodedNames) -> list[tuple[NamedRefResolver, tuple[str, ...]]]:
        return [
            (self.classes, names.classes),
            (self.locations, names.locations),
            (self.tax_codes, names.tax_codes),
        ]


def _distinct(values: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))
