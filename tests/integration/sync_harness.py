"""Both emulators, a real SQLite file and real intuit-oauth, driven one pass at a time.

Tests build their own Luminous data (the QBO company gets its default seed: accounts,
a few vendors, customers and items) and run passes on one fake clock (`support.Clock`): the
pass's dates, its rate limiter and back-off, and the QBO emulator's rate windows all read it,
and a sleep moves it instead of waiting.

The Luminous emulator is the less forgiving kind by default (`STRICT`): `id[gt]` (not a
documented filter of the PO list) and a timestamp not in a documented form are answered 422,
as a strict real server may (luminous-api.md, "Transport"); a test may ask for another.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from support import Clock

from reconciler.app import wiring
from reconciler.app.demo import Sandbox, sandbox
from reconciler.config.loader import Settings
from reconciler.sync.engine import PassReport, RequestCounter, run_pass

STRICT: dict[str, Any] = {"id_filter": "refuse", "timestamp_filters": "strict"}


class Harness:
    def __init__(self, sb: Sandbox, clock: Clock | None = None) -> None:
        self.sb = sb
        self.qbo = sb.qbo
        self.lum = sb.luminous
        self.settings = sb.settings
        self.clock = clock or Clock()
        self._stamp = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
        self.suppliers: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}

    # --- Luminous data ------------------------------------------------------------------

    def next_stamp(self) -> datetime:
        """Strictly increasing updated_at values, safely behind the settle lag."""
        self._stamp += timedelta(seconds=1)
        return self._stamp

    def supplier(self, name: str, **fields: Any) -> dict[str, Any]:
        if name not in self.suppliers:
            self.suppliers[name] = self.lum.add_supplier(name, **fields)
        return self.suppliers[name]

    def product(self, name: str, sku: str | None = None, **fields: Any) -> dict[str, Any]:
        key = f"{name}|{sku}"
        if key not in self.products:
            self.products[key] = self.lum.add_product(name, sku, **fields)
        return self.products[key]

    def po(
        self,
        supplier: str = "Nutricost",
        lines: list[tuple[dict[str, Any], Any, Any]] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        sup = self.supplier(supplier)
        if lines is None:
            lines = [(self.product("Whey Protein 5lb", "NC-WHEY-5"), "10", "42.50")]
        record = {
            "supplier_id": sup["id"],
            "order_status": "active",
            "approval_status": "approved",
            "items": [{"product_id": p["id"], "quantity": q, "unit_price": u} for p, q, u in lines],
        }
        record.update(fields)
        return self.lum.create_po(record, updated_at=self.next_stamp())

    def edit(self, po_id: int, **changes: Any) -> dict[str, Any]:
        return self.lum.edit_po(po_id, changes, updated_at=self.next_stamp())

    # --- passes -------------------------------------------------------------------------

    def run(self, *, full_sweep: bool = False, settings: Settings | None = None) -> PassReport:
        counter = RequestCounter()
        log = structlog.get_logger("test")
        deps = self.deps(settings, log=log, counter=counter)
        try:
            return run_pass(deps, full_sweep=full_sweep, counter=counter)
        finally:
            deps.store.close()

    def deps(self, settings: Settings | None = None, **kw: Any):
        """`wiring.build_deps` on this harness's fake clock (dates, sleeps, the limiter)."""
        return wiring.build_deps(
            settings or self.settings,
            clock=self.clock,
            sleep=self.clock.sleep,
            monotonic=self.clock.monotonic,
            **kw,
        )

    def store(self):
        return wiring.open_store(self.settings, clock=self.clock)

    def entry(self, po_id: int):
        store = self.store()
        try:
            return store.ledger.entry(po_id)
        finally:
            store.close()

    def qbo_po(self, po_id: int) -> dict[str, Any]:
        entry = self.entry(po_id)
        assert entry is not None and entry.qbo_id, f"PO {po_id} not in the ledger with a QBO id"
        found = self.qbo.get("PurchaseOrder", entry.qbo_id)
        assert found is not None
        return found

    def qbo_pos_by_doc_number(self, doc_number: str) -> list[dict[str, Any]]:
        return [p for p in self.qbo.objects("PurchaseOrder") if p.get("DocNumber") == doc_number]

    def with_sync(self, **changes: Any) -> Settings:
        return dataclasses.replace(
            self.settings, sync=dataclasses.replace(self.settings.sync, **changes)
        )


@contextmanager
def harness(
    tmp_path: Path,
    *,
    qbo_options: dict[str, Any] | None = None,
    settings_hook: Callable[[Settings], Settings] | None = None,
    luminous_options: dict[str, Any] | None = None,
) -> Iterator[Harness]:
    def hook(settings: Settings) -> Settings:
        # The emulator's windows clear within a second: no need for Intuit's 60 s wait here.
        quick = dataclasses.replace(
            settings, qbo=dataclasses.replace(settings.qbo, throttle_wait=timedelta(seconds=1))
        )
        return settings_hook(quick) if settings_hook is not None else quick

    clock = Clock()
    options = STRICT if luminous_options is None else luminous_options
    with sandbox(
        tmp_path,
        seed=False,
        qbo_options={"limits_clock": clock.monotonic, **(qbo_options or {})},
        luminous_options=options,
        settings_hook=hook,
    ) as sb:
        sb.qbo.seed_default()
        yield Harness(sb, clock)
