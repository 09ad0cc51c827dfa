"""`reconciler demo`: both emulators on 127.0.0.1 with sample data, one pass, the result.

The embedded default that works on a fresh machine with no accounts: it builds the very same
pieces `reconciler run --once` builds (through `wiring`), only pointed at the emulators.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from secrets import token_urlsafe as secrets_token
from typing import Any, TextIO

from reconciler import logs
from reconciler.app import status_table, wiring
from reconciler.app.service import start_health, status_page
from reconciler.config.loader import Settings, demo_settings, load_settings
from reconciler.model import DocKind, SyncStatus
from reconciler.qbo.auth import Tokens
from reconciler.sandbox.luminous.server import LuminousEmulator
from reconciler.sandbox.qbo.server import QBOEmulator
from reconciler.sync.engine import PassReport, RequestCounter, run_pass
from reconciler.web.health import HealthState

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


def run_demo(
    *,
    out: TextIO,
    log: Any,
    keep_running: bool = False,
    wait: Callable[[], None],
    directory: Path | None = None,
    verbose: bool = False,
) -> int:
    """One pass against both emulators, its result, and (`keep_running`) a sandbox to explore:
    its configuration in `directory`, its status page served, the lines to paste printed. The
    log goes to `demo.log` there, or to the terminal with `verbose`."""
    with (
        _workdir(directory, keep=keep_running) as workdir,
        _logging(workdir, verbose),
        sandbox(workdir, settings_hook=with_bills) as sb,
    ):
        config = write_config(sb, workdir)
        settings = load_settings(str(config), {})
        sb = dataclasses.replace(sb, settings=settings)
        report = one_pass(sb, log=log)
        print_result(sb, report, out)
        if keep_running:
            _explore(sb, config, report, out=out, log=log, wait=wait)
        return report.exit_code() if report.fatal else 0


@contextmanager
def _workdir(directory: Path | None, *, keep: bool) -> Iterator[Path]:
    """The demo's directory: the one given (kept), a new one (kept with `keep`), else a
    temporary one."""
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        yield directory
    elif keep:
        yield Path(tempfile.mkdtemp(prefix="reconciler-demo-"))
    else:
        with tempfile.TemporaryDirectory(prefix="reconciler-demo-") as tmp:
            yield Path(tmp)


@contextmanager
def _logging(workdir: Path, verbose: bool) -> Iterator[None]:
    if verbose:
        logs.configure(level="INFO", json_output=False)
        yield
        return
    with (workdir / "demo.log").open("a") as stream:
        logs.configure(level="INFO", json_output=True, stream=stream)
        try:
            yield
        finally:
            logs.configure(level="INFO", json_output=False)


def write_config(sb: Sandbox, workdir: Path) -> Path:
    """The demo's settings as a configuration file a user can point the CLI at: the emulators'
    addresses, the state and token store here, the secrets in files beside it (0600)."""
    s = sb.settings
    secrets = {
        "luminous_api_token": DEMO_LUMINOUS_TOKEN,
        "qbo_client_secret": s.qbo.client_secret.reveal() if s.qbo.client_secret else "",
        "status_page_retry_token": secrets_token(),
    }
    for name, value in secrets.items():
        path = workdir / name
        path.touch(mode=0o600)
        path.write_text(value + "\n")
    sections = {
        "luminous": {
            "base_url": s.luminous.base_url,
            "settle_lag": "0s",
            "api_token_file": str(workdir / "luminous_api_token"),
        },
        "qbo": {
            "environment": s.qbo.environment,
            "base_url": s.qbo.base_url,
            "realm_id": s.qbo.realm_id,
            "client_id": s.qbo.client_id,
            "client_secret_file": str(workdir / "qbo_client_secret"),
            "redirect_uri": s.qbo.redirect_uri,
            "token_store": s.qbo.token_store,
        },
        "state": {"path": s.state.path},
        "accounts": {"ap": s.accounts.ap},
        "bills": {"from": "bills"},
        "daemon": {"health_port": _free_port()},
        "status_page": {"retry_token_file": str(workdir / "status_page_retry_token")},
        "logging": {"format": "console"},
    }
    text = ["# `reconciler demo`'s sandbox: both emulators on 127.0.0.1, while the demo runs."]
    for section, values in sections.items():
        text.append(f"\n[{section}]")
        text += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    config = workdir / "reconciler.toml"
    config.write_text("\n".join(text) + "\n")
    return config


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _explore(
    sb: Sandbox,
    config: Path,
    report: PassReport,
    *,
    out: TextIO,
    log: Any,
    wait: Callable[[], None],
) -> None:
    """Serve the status page over the demo's state until stopped, and say how to look."""
    settings = sb.settings
    store = wiring.open_store(settings)
    health = HealthState(settings.poll_interval)
    health.record_pass(report)
    server = start_health(settings, health, status_page(settings, store, log))
    token = settings.status_page.retry_token
    url = f"http://127.0.0.1:{settings.daemon.health_port}"
    lines = [
        "",
        "The sandbox keeps running (Ctrl-C stops it). In another terminal:",
        "",
        f"  export RECONCILER_CONFIG={config}",
        "  reconciler status                    # every document, its status and why",
        "  reconciler status PO-00012           # one document's story",
        "  reconciler run --once --dry-run      # what the next pass would do",
        "  reconciler run --once                # the next pass",
        "",
        f"  status page:  {url}/status   (retry token: {token.reveal() if token else '-'})",
        f"  metrics:      {url}/metrics",
        f"  QBO's POs:    {sb.qbo.base_url}/__admin/objects/PurchaseOrder",
        "",
        f"Its configuration, state and log are in {config.parent}.",
    ]
    print("\n".join(lines), file=out, flush=True)
    try:
        wait()
    finally:
        server.shutdown()
        store.close()


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
        failed = (
            e for e in entries if e.status is SyncStatus.FAILED and e.kind is DocKind.PURCHASE_ORDER
        )
        for shown in (next(failed, None), _closed_by_its_bill(sb, store)):
            if shown is not None:  # as `reconciler status <number>` shows it
                print(f"\n$ reconciler status {shown.number}", file=out)
                history = store.ledger.history(shown.doc_id, shown.kind)
                print(status_table.document_detail(shown, history), file=out)
    finally:
        store.close()
    _print_qbo_company(sb, out)


def _print_qbo_company(sb: Sandbox, out: TextIO) -> None:
    """The POs and bills the emulated QBO company now holds, each bill with its POs."""
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
        "`reconciler status <PO or bill number>`; `reconciler demo --keep-running` keeps this "
        "sandbox up to ask them.",
        file=out,
    )
