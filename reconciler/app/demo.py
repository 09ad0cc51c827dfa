"""`reconciler demo`: both emulators on 127.0.0.1 with sample data, one pass, the result.

The embedded default that works on a fresh machine with no accounts: it builds the very same
pieces `reconciler run --once` builds (through `wiring`), only pointed at the emulators.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from reconciler.app import status_table, wiring
from reconciler.config.loader import Settings, demo_settings
from reconciler.model import DocKind, SyncStatus
from reconciler.qbo.auth import Tokens
from reconciler.sandbox.luminous.server import LuminousEmulator
from reconciler.sandbox.qbo.server import QBOEmulator
from reconciler.sync.engine import PassReport, RequestCounter, run_pass

DEMO_LUMINOUS_TOKEN = "lum-demo-token"  # noqa: S105 (the emulator's demo credential)
# The demo's Luminous account shows approval in `approval_status` (a variant: the reference's
# PO has no approval field, and with `sync.require_approval` a PO without one is not pushed).
DEMO_LUMINOUS_OPTIONS: dict[str, Any] = {"approval_field": "approval_status"}


@dataclass
class Sandbox:
    """Two running emulators and settings that point at them."""

    qbo: QBOEmulator
    luminous: LuminousEmulator
    settings: Settings
    workdir: Path


@contextmanager
def sandbox(
    workdir: Path,
    *,
    seed: bool = True,
    qbo_options: dict[str, Any] | None = None,
    luminous_options: dict[str, Any] | None = None,
    settings_hook: Callable[[Settings], Settings] | None = None,
) -> Iterator[Sandbox]:
    """Start both emulators, connect a token store to the QBO one, yield settings for them."""
    qbo = QBOEmulator(**(qbo_options or {})).start(port=0)
    options = {**DEMO_LUMINOUS_OPTIONS, **(luminous_options or {})}
    lum = LuminousEmulator(token=DEMO_LUMINOUS_TOKEN, **options).start(port=0)
    try:
        if seed:
            qbo.seed_default()
            lum.seed_default()
        settings = demo_settings(
            lum.base_url,
            DEMO_LUMINOUS_TOKEN,
            qbo.api_base,
            qbo.realm_id,
            qbo.discovery_url,
            str(workdir / "state.sqlite"),
            str(workdir / "tokens.json"),
            client_id=qbo.client_id,
            client_secret=qbo.client_secret,
        )
        if settings_hook is not None:
            settings = settings_hook(settings)
        connect(qbo, settings)
        yield Sandbox(qbo, lum, settings, workdir)
    finally:
        lum.stop()
        qbo.stop()


def connect(qbo: QBOEmulator, settings: Settings) -> Tokens:
    """What `reconciler auth connect` would store, without the browser."""
    tokens = Tokens.from_grant(qbo.issue_tokens(), now=datetime.now(UTC), realm_id=qbo.realm_id)
    wiring.token_store(settings).save(tokens)
    return tokens


def run_demo(*, out: TextIO, log: Any, keep_running: bool = False, wait: Callable[[], None]) -> int:
    with (
        tempfile.TemporaryDirectory(prefix="reconciler-demo-") as tmp,
        sandbox(Path(tmp), settings_hook=with_bills) as sb,
    ):
        print(f"Luminous emulator: {sb.luminous.base_url}", file=out)
        print(f"QBO emulator:      {sb.qbo.api_base}/{sb.qbo.realm_id}", file=out)
        report = one_pass(sb, log=log)
        print_result(sb, report, out)
        if keep_running:
            print(
                "\nEmulators keep running; press Ctrl-C to stop. Look at the POs with:\n"
                f"  curl -s {sb.qbo.base_url}/__admin/objects/PurchaseOrder",
                file=out,
            )
            wait()
        return report.exit_code() if report.fatal else 0


def with_bills(settings: Settings) -> Settings:
    """The demo shows a PO, its bill, and the PO closed in QBO: `[bills] from = "bills"`."""
    return dataclasses.replace(settings, bills=dataclasses.replace(settings.bills, from_="bills"))


def one_pass(sb: Sandbox, *, log: Any, full_sweep: bool = False) -> PassReport:
    counter = RequestCounter()
    deps = wiring.build_deps(sb.settings, log=log, counter=counter)
    try:
        return run_pass(deps, full_sweep=full_sweep, counter=counter)
    finally:
        deps.store.close()


def _closed_by_its_bill(sb: Sandbox, store: Any) -> Any:
    """A PO that QBO closed because its bill covers it: the demo tells its story."""
    for entry in store.ledger.entries(kind=DocKind.PURCHASE_ORDER):
        actions = {h.action for h in store.ledger.history(entry.doc_id)}
        if {"billed", "closed_in_qbo"} <= actions:
            return entry
    return None


def print_result(sb: Sandbox, report: PassReport, out: TextIO) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items()) if v)
    print(f"\nPass {report.run_id}: {counts}; {report.qbo_requests} QBO requests", file=out)
    if report.fatal:
        print(f"Stopped: {report.fatal}", file=out)
    store = wiring.open_store(sb.settings)
    try:
        entries = store.ledger.entries()
        print("\n" + status_table.table(entries), file=out)
        failed = next(
            (
                e
                for e in entries
                if e.status is SyncStatus.FAILED and e.kind is DocKind.PURCHASE_ORDER
            ),
            None,
        )
        if failed is not None:
            print(f"\n$ reconciler status {failed.number}", file=out)
            history = store.ledger.history(failed.doc_id, failed.kind)
            print(status_table.po_detail(failed, history), file=out)
        billed = _closed_by_its_bill(sb, store)
        if billed is not None:
            print(f"\n$ reconciler status {billed.number}", file=out)
            print(status_table.po_detail(billed, store.ledger.history(billed.doc_id)), file=out)
    finally:
        store.close()
    pos = sb.qbo.objects("PurchaseOrder")
    print(f"\nPurchase orders now in the emulated QBO company {sb.qbo.realm_id}:", file=out)
    for po in sorted(pos, key=lambda p: int(p["Id"])):
        print(
            f"  Id {po['Id']:>3}  DocNumber {po.get('DocNumber', '-'):<12} "
            f"{po.get('POStatus', '-'):<6}  vendor {po['VendorRef'].get('name', '?')!s:<28} "
            f"total {po.get('TotalAmt')}",
            file=out,
        )
    bills = sb.qbo.objects("Bill")
    print("\nBills now in the emulated QBO company, linked to PO lines:", file=out)
    numbers = {po["Id"]: po.get("DocNumber", "-") for po in pos}
    for bill in sorted(bills, key=lambda b: int(b["Id"])):
        linked = sorted(
            {
                numbers.get(x["TxnId"], "?")
                for x in bill.get("LinkedTxn") or []
                if x["TxnType"] == "PurchaseOrder"
            }
        )
        print(
            f"  Id {bill['Id']:>3}  DocNumber {bill.get('DocNumber', '-'):<14} "
            f"total {bill.get('TotalAmt')!s:<8} balance {bill.get('Balance')!s:<8} "
            f"PO {', '.join(linked) or '(none)'}",
            file=out,
        )
    print(
        "\nWith a real configuration the same questions are `reconciler status` and "
        "`reconciler status <PO or bill number>`; the demo's state lived in a temporary "
        "directory.",
        file=out,
    )
