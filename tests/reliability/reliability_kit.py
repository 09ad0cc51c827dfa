"""Shared pieces of the reliability suite (crash, faults, bad input, identity, security).

- Both emulators run in the test process (threads); the daemon under test is either a
  subprocess (`python -m reconciler run --once`, configured purely by RECONCILER_* variables, as
  tests/integration/test_service.py does) or, for speed, `run_pass` in process
  (`InProcessDaemon`), on the world's fake clock (`World.clock`): its sleeps move the clock
  instead of waiting, and the QBO emulator's rate windows read the same clock.
- Every secret the suite hands out is a sentinel (`SENTINEL-7f3a-...`); every subprocess output
  and every token the emulator issued is recorded here (`CAPTURED`), and tests/reliability's
  conftest scans what each test recorded when it ends.
- `scaled(bounded, long)`: the bounded size runs in every `pytest`; RECONCILER_LONG_TESTS=1
  runs the long variant (more seeds, more examples). Nothing is skipped either way.
- `check_invariants`: every Luminous PO that must be in QBO is there exactly once with its
  latest content, no vendor or item name twice, the checkpoint covers every PO, and
  `PRAGMA integrity_check` says ok.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from support import Clock, EventLog

from reconciler.documents.values import clean_text
from reconciler.model import SyncStatus
from reconciler.sandbox.luminous.server import LuminousEmulator
from reconciler.sandbox.qbo.server import QBOEmulator
from reconciler.state import StateStore, name_key

SENTINEL = "SENTINEL-7f3a"
LUMINOUS_TOKEN = f"{SENTINEL}-luminous-api-token"
CLIENT_SECRET = f"{SENTINEL}-qbo-client-secret"
LONG = os.environ.get("RECONCILER_LONG_TESTS", "").strip().lower() in ("1", "true", "yes")
REPO = Path(__file__).resolve().parents[2]
CENT = Decimal("0.01")


def scaled(bounded: int, long: int) -> int:
    """The bounded size by default, the long one under RECONCILER_LONG_TESTS=1."""
    return long if LONG else bounded


# --- what the suite saw ------------------------------------------------------------------


class Capture:
    """All subprocess output and issued tokens of the session, for the sentinel scan."""

    def __init__(self) -> None:
        self.outputs: list[tuple[str, str]] = []
        self.issued_secrets: set[str] = set()
        self.lock = threading.Lock()

    def output(self, label: str, text: str | None) -> None:
        if text:
            with self.lock:
                self.outputs.append((label, text))

    def secret(self, *values: str | None) -> None:
        with self.lock:
            self.issued_secrets.update(v for v in values if v)

    def tokens_from(self, token_file: Path) -> None:
        try:
            data = json.loads(token_file.read_text())
        except (OSError, ValueError):
            return
        self.secret(data.get("access_token"), data.get("refresh_token"))

    def leaks(self, *, since: int = 0) -> list[tuple[str, str]]:
        """(label, the secret's first 20 characters) for every secret found in the outputs
        recorded from `since` on: the sentinels and every token the emulator issued."""
        with self.lock:
            secrets = {LUMINOUS_TOKEN, CLIENT_SECRET, SENTINEL} | self.issued_secrets
            outputs = self.outputs[since:]
        return [
            (label, secret[:20])
            for label, text in outputs
            for secret in secrets
            if secret and secret in text
        ]


CAPTURED = Capture()


@pytest.fixture(autouse=True)
def no_secret_in_recorded_output() -> Iterator[None]:
    """Ends every test of a folder whose conftest imports it: no secret the suite handed out
    (the sentinels) or the emulator issued may appear in what the test recorded. Per test, so
    it holds whichever worker of `pytest -n` ran the test and in whatever order."""
    start = len(CAPTURED.outputs)
    yield
    leaks = CAPTURED.leaks(since=start)
    assert leaks == [], f"secrets in recorded output: {leaks}"


# --- Luminous data ------------------------------------------------------------------------


class Stamps:
    """Strictly increasing `updated_at` values safely in the past (settle lag is 0 anyway)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.last = start or datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
        self.max_seen = self.last

    def next(self) -> datetime:
        self.last += timedelta(seconds=1)
        self.max_seen = max(self.max_seen, self.last)
        return self.last


class Source:
    """Suppliers, products and POs written into a Luminous emulator with past stamps."""

    def __init__(self, lum: LuminousEmulator) -> None:
        self.lum = lum
        self.stamps = Stamps()
        self.suppliers: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.deleted_numbers: set[str] = set()

    def supplier(self, name: str) -> dict[str, Any]:
        if name not in self.suppliers:
            self.suppliers[name] = self.lum.add_supplier(name)
        return self.suppliers[name]

    def product(self, name: str, sku: str | None = None) -> dict[str, Any]:
        if name not in self.products:
            self.products[name] = self.lum.add_product(name, sku)
        return self.products[name]

    def po(
        self,
        supplier: str = "Nutricost",
        product: str = "Whey Protein 5lb",
        qty: str = "10",
        price: str = "42.50",
        **fields: Any,
    ) -> dict[str, Any]:
        sup = self.supplier(supplier)
        prod = self.product(product, f"SKU-{len(self.products) + 1}")
        record = {
            "supplier_id": sup["id"],
            "order_status": "active",
            "approval_status": "approved",
            "items": [{"product_id": prod["id"], "quantity": qty, "unit_price": price}],
            **fields,
        }
        return self.lum.create_po(record, updated_at=self.stamps.next())

    def edit(self, po_id: int, **changes: Any) -> dict[str, Any]:
        return self.lum.edit_po(po_id, changes, updated_at=self.stamps.next())

    def set_qty(self, po_id: int, qty: str, product: str = "Whey Protein 5lb") -> dict[str, Any]:
        prod = self.product(product)
        current = self.lum.get_po(po_id) or {}
        price = (current.get("items") or [{}])[0].get("unit_price", "1.00")
        items = [{"product_id": prod["id"], "quantity": qty, "unit_price": price}]
        return self.edit(po_id, items=items)

    def bill(self, po: dict[str, Any], qty: str, number: str, **fields: Any) -> dict[str, Any]:
        """A posted Luminous bill for `qty` of the PO's first line."""
        line = self.lum.get_po(po["id"])["items"][0]  # type: ignore[index]
        item = {
            "purchase_order_id": po["id"],
            "purchase_order_item_id": line["id"],
            "quantity": qty,
        }
        record = {"bill_number": number, "status": "posted", "items": [item], **fields}
        return self.lum.bills.create(record, updated_at=self.stamps.next())

    def edit_bill(self, bill_id: int, **changes: Any) -> dict[str, Any]:
        return self.lum.bills.edit(bill_id, changes, updated_at=self.stamps.next())

    def delete(self, po_id: int) -> None:
        po = self.lum.get_po(po_id)
        if po is not None:
            self.deleted_numbers.update(po.get("order_numbers") or [])
        self.lum.delete_po(po_id)


# --- emulators and the subprocess daemon --------------------------------------------------


@dataclass
class World:
    qbo: QBOEmulator
    lum: LuminousEmulator
    workdir: Path
    source: Source
    clock: Clock  # the in-process passes' fake time; the QBO emulator's windows read it too
    env: dict[str, str] = field(default_factory=dict)

    @property
    def state_path(self) -> Path:
        return self.workdir / "state.sqlite"

    @property
    def token_path(self) -> Path:
        return self.workdir / "secrets" / "tokens.json"


@contextmanager
def world(
    workdir: Path,
    *,
    requestid_replay: bool = True,
    qbo_options: dict | None = None,
    lum_options: dict | None = None,
) -> Iterator[World]:
    """Both emulators up for a whole scenario (restarts of the daemon included). The QBO
    emulator's rate windows run on `World.clock`: real time for a child process (nothing moves
    the clock then), the fake time of the in-process passes."""
    clock = Clock()
    options = {"limits_clock": clock.monotonic, **(qbo_options or {})}
    qbo = QBOEmulator(
        client_secret=CLIENT_SECRET, requestid_replay=requestid_replay, **options
    ).start(port=0)
    lum = LuminousEmulator(token=LUMINOUS_TOKEN, **(lum_options or {})).start(port=0)
    try:
        qbo.seed_default()
        w = World(qbo, lum, workdir, Source(lum), clock)
        w.env = daemon_env(w)
        yield w
    finally:
        CAPTURED.tokens_from(workdir / "secrets" / "tokens.json")
        lum.stop()
        qbo.stop()


def daemon_env(w: World, **extra: str) -> dict[str, str]:
    """The daemon's whole configuration, as RECONCILER_* variables (no file)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    env.update(
        {
            "RECONCILER_LUMINOUS__BASE_URL": w.lum.base_url,
            "RECONCILER_LUMINOUS__API_TOKEN": LUMINOUS_TOKEN,
            "RECONCILER_LUMINOUS__SETTLE_LAG": "0",
            "RECONCILER_LUMINOUS__TIMEOUT": "5s",
            "RECONCILER_LUMINOUS__PER_PAGE": "2",  # many pages: crashes between them
            "RECONCILER_QBO__ENVIRONMENT": w.qbo.discovery_url,
            "RECONCILER_QBO__BASE_URL": w.qbo.api_base,
            "RECONCILER_QBO__REALM_ID": w.qbo.realm_id,
            "RECONCILER_QBO__CLIENT_ID": w.qbo.client_id,
            "RECONCILER_QBO__CLIENT_SECRET": CLIENT_SECRET,
            "RECONCILER_QBO__TOKEN_STORE": str(w.token_path),
            "RECONCILER_QBO__TIMEOUT": "5s",
            # the emulator's windows clear within a second: no need for Intuit's 60 s here
            "RECONCILER_QBO__THROTTLE_WAIT": "1s",
            "RECONCILER_STATE__PATH": str(w.state_path),
            "RECONCILER_ACCOUNTS__AP": "Accounts Payable (A/P)",
            "RECONCILER_SYNC__BACKOFF_BASE": "0.05",
            "RECONCILER_SYNC__BACKOFF_CAP": "0.2",
            "RECONCILER_LOGGING__LEVEL": "DEBUG",
        }
    )
    env.update(extra)
    return env


def connect(w: World) -> None:
    """What `reconciler auth connect` stores, without the browser."""
    from reconciler.app.demo import connect as demo_connect
    from reconciler.config.loader import load_settings

    tokens = demo_connect(w.qbo, load_settings(None, w.env))
    CAPTURED.secret(tokens.access_token, tokens.refresh_token)


def run_once(
    env: dict[str, str], *, crash_at: str | None = None, label: str = "run --once", timeout=90
) -> subprocess.CompletedProcess[str]:
    """`python -m reconciler run --once` as a child process; its output goes to CAPTURED."""
    child_env = dict(env)
    if crash_at:
        child_env["RECONCILER_CRASH_AT"] = crash_at
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", "run", "--once"],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
    CAPTURED.output(f"{label} stdout", proc.stdout)
    CAPTURED.output(f"{label} stderr", proc.stderr)
    return proc


SIGKILLED = -9
# The crash points of a token refresh, in order; each is SIGKILLed in
# production/test_refresh_matrix.py (and `token_issued` in crash/test_crash_points.py too).
TOKEN_POINTS = ("token_refresh_start", "token_issued", "token_saving")


def settle(env: dict[str, str], *, max_runs: int = 6, label: str = "settle") -> list[int]:
    """Restart the daemon (no crash armed) until a pass exits 0; the exit codes seen."""
    codes = []
    for _ in range(max_runs):
        proc = run_once(env, label=label)
        codes.append(proc.returncode)
        if proc.returncode == 0:
            return codes
        assert proc.returncode in (1,), f"unexpected exit {proc.returncode}: {proc.stderr[-2000:]}"
    raise AssertionError(f"the passes did not settle in {max_runs} runs: {codes}")


# --- invariants ---------------------------------------------------------------------------


def expected_total(po: dict[str, Any]) -> Decimal:
    total = Decimal("0")
    for item in po.get("items") or []:
        amount = Decimal(str(item["quantity"])) * Decimal(str(item["unit_price"]))
        total += amount.quantize(CENT, rounding=ROUND_HALF_UP)
    return total


def _clean_note(text: str | None) -> str | None:
    """The PrivateNote a source note becomes (mapping's documented text rule)."""
    return clean_text(text)


@dataclass
class Verdict:
    """What check_invariants found, for reports and asserts."""

    in_qbo: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    def ok(self) -> bool:
        return not self.problems


def check_invariants(
    qbo: QBOEmulator,
    lum: LuminousEmulator,
    state_path: Path,
    *,
    deleted_numbers: set[str] = frozenset(),  # type: ignore[assignment]
    max_stamp: datetime | None = None,
) -> Verdict:
    """Nothing lost, nothing doubled, latest content, unique names, checkpoint, integrity."""
    v = Verdict()
    qbo_pos = qbo.objects("PurchaseOrder")
    by_number: dict[str, list[dict[str, Any]]] = {}
    for p in qbo_pos:
        by_number.setdefault(p.get("DocNumber") or "", []).append(p)
    store = StateStore.open(state_path)
    try:
        if not store.integrity_ok():
            v.problems.append("PRAGMA integrity_check is not ok")
        newest: tuple[datetime, int] | None = None
        for po_id in lum.po_ids():
            po = lum.get_po(po_id)
            assert po is not None
            stamp = po["updated_at"]
            if isinstance(stamp, str):
                stamp = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            newest = max(newest, (stamp, po_id)) if newest else (stamp, po_id)
            number = (po.get("order_numbers") or [""])[0]
            found = by_number.get(number, [])
            entry = store.ledger.entry(po_id)
            active = po.get("order_status") == "active"
            if len(found) > 1:
                v.problems.append(f"PO {number} is {len(found)} times in QBO")
                continue
            if not found:
                if active:
                    v.problems.append(f"PO {number} (active) is missing in QBO")
                elif entry is None or entry.status is not SyncStatus.SKIPPED:
                    status = po["order_status"]
                    v.problems.append(f"PO {number} ({status}) neither in QBO nor skipped")
                else:
                    v.skipped += 1
                continue
            v.in_qbo += 1
            qpo = found[0]
            want_status = "Open" if active else "Closed"
            if qpo.get("POStatus") != want_status:
                v.problems.append(f"PO {number}: POStatus {qpo.get('POStatus')} != {want_status}")
            # an update clears a note with "" (QBO keeps it as an empty string)
            if (qpo.get("PrivateNote") or None) != _clean_note(po.get("private_note")):
                v.problems.append(
                    f"PO {number}: PrivateNote {qpo.get('PrivateNote')!r} != "
                    f"{po.get('private_note')!r}"
                )
            if Decimal(str(qpo.get("TotalAmt"))) != expected_total(po):
                v.problems.append(
                    f"PO {number}: TotalAmt {qpo.get('TotalAmt')} != {expected_total(po)}"
                )
            if entry is None or entry.status is not SyncStatus.SYNCED or entry.qbo_id != qpo["Id"]:
                v.problems.append(f"PO {number}: ledger {entry} does not point at QBO {qpo['Id']}")
        for number in deleted_numbers:
            if len(by_number.get(number, [])) > 1:
                v.problems.append(f"deleted PO {number} is {len(by_number[number])} times in QBO")
        checkpoint = store.ledger.checkpoint()
        if newest is not None and (checkpoint is None or checkpoint.key() < newest):
            v.problems.append(f"checkpoint {checkpoint} is behind the newest PO {newest}")
        if checkpoint is not None and max_stamp is not None and checkpoint.updated_at > max_stamp:
            v.problems.append(f"checkpoint {checkpoint} is past every stamp ever written")
    finally:
        store.close()
    vendors = Counter(name_key(x["DisplayName"]) for x in qbo.objects("Vendor"))
    items = Counter(name_key(x["Name"]) for x in qbo.objects("Item"))
    v.problems += [f"vendor {n!r} exists {c} times" for n, c in vendors.items() if c > 1]
    v.problems += [f"item {n!r} exists {c} times" for n, c in items.items() if c > 1]
    return v


def check_bill_invariants(qbo: QBOEmulator, lum: LuminousEmulator, state_path: Path) -> Verdict:
    """Every posted Luminous bill once in QBO (by number and vendor), with its latest total, each
    line linked to its PO's line, its ledger row synced and pointing at it; no other bill."""
    from reconciler.model import DocKind

    v = Verdict()
    bills = qbo.objects("Bill")
    store = StateStore.open(state_path)
    try:
        if not store.integrity_ok():
            v.problems.append("PRAGMA integrity_check is not ok")
        wanted = 0
        for raw in [lum.bills.get(i) for i in sorted(lum.bills.records)]:
            if raw["status"] in ("draft", "on_hold", "void"):
                continue
            wanted += 1
            found = [b for b in bills if b.get("DocNumber") == raw["bill_number"]]
            entry = store.ledger.entry(raw["id"], DocKind.BILL)
            if len(found) != 1:
                v.problems.append(f"bill {raw['bill_number']} is {len(found)} times in QBO")
                continue
            v.in_qbo += 1
            qbill = found[0]
            if Decimal(str(qbill["TotalAmt"])) != Decimal(str(raw["total"])):
                v.problems.append(
                    f"bill {raw['bill_number']}: {qbill['TotalAmt']} != {raw['total']}"
                )
            unlinked = [x for x in qbill["Line"] if not x.get("LinkedTxn")]
            if unlinked:
                v.problems.append(f"bill {raw['bill_number']}: {len(unlinked)} line(s) unlinked")
            if (
                entry is None
                or entry.status is not SyncStatus.SYNCED
                or entry.qbo_id != qbill["Id"]
            ):
                v.problems.append(
                    f"bill {raw['bill_number']}: ledger {entry} is not QBO {qbill['Id']}"
                )
        if len(bills) != wanted:
            v.problems.append(f"{len(bills)} bills in QBO for {wanted} posted in Luminous")
    finally:
        store.close()
    return v


def assert_bill_invariants(w: World) -> Verdict:
    verdict = check_bill_invariants(w.qbo, w.lum, w.state_path)
    assert verdict.ok(), "\n".join(verdict.problems)
    return verdict


def assert_invariants(w: World) -> Verdict:
    verdict = check_invariants(
        w.qbo,
        w.lum,
        w.state_path,
        deleted_numbers=w.source.deleted_numbers,
        max_stamp=w.source.stamps.max_seen,
    )
    assert verdict.ok(), "\n".join(verdict.problems)
    return verdict


# --- in-process crashes (the crash matrix, the model) --------------------------------------


class SimulatedCrash(BaseException):
    """The process died here (not an Exception: nothing may catch it on the way out)."""


def crash_modules() -> tuple[Any, ...]:
    """Every module of the package that imports crash_point (found in the source)."""
    import importlib

    from reconciler import crashpoints

    package = Path(crashpoints.__file__).parent
    names = sorted(
        ".".join(("reconciler", *path.relative_to(package).with_suffix("").parts)).removesuffix(
            ".__init__"
        )
        for path in package.rglob("*.py")
        if "from reconciler.crashpoints import crash_point" in path.read_text()
    )
    return tuple(importlib.import_module(name) for name in names)


@contextmanager
def crash_armed(point: str | None, hit: int, on_crash) -> Iterator[dict[str, Any]]:
    """Replace every module's `crash_point` by one that dies at the `hit`-th `point`: it calls
    `on_crash` (the power cut: close the state file) and raises SimulatedCrash. Yields
    {"n": times the point was reached, "fired": whether it died}."""
    seen = {"n": 0, "fired": False}

    def fake(name: str) -> None:
        if name != point:
            return
        seen["n"] += 1
        if seen["n"] == hit:
            seen["fired"] = True
            on_crash()
            raise SimulatedCrash(name)

    originals = {m: m.crash_point for m in crash_modules() if hasattr(m, "crash_point")}
    for module in originals:
        module.crash_point = fake
    try:
        yield seen
    finally:
        for module, original in originals.items():
            module.crash_point = original


# --- in-process passes (crash matrix, faults, bad input) ----------------------------------


def in_process_deps(settings, *, log, clock: Clock, store, qbo_timeout, sleep=None):
    """`wiring.build_deps` on the fake `clock`, with a QBO client that backs off in
    milliseconds, not seconds, and counts its requests; returns (deps, counter). `sleep` (the
    clients' back-off; the clock's by default) is a hook that must move the clock itself."""
    from reconciler.app import wiring
    from reconciler.qbo.client import QBOClient
    from reconciler.qbo.limiter import RealmLimiter
    from reconciler.sync.engine import RequestCounter

    sleep = sleep or clock.sleep
    tokens = wiring.token_source(settings, clock=clock)
    counter = RequestCounter()
    deps = wiring.build_deps(
        settings,
        log=log,
        clock=clock,
        store=store,
        tokens=tokens,
        sleep=sleep,
        monotonic=clock.monotonic,
    )
    deps.qbo = QBOClient(
        wiring.session(for_url=settings.qbo.base_url),
        settings.qbo.base_url,
        settings.qbo.realm_id,
        tokens,
        timeout=qbo_timeout,
        # as the daemon has: QBO's limits, kept on our side (on the fake clock)
        limiter=RealmLimiter(clock=clock.monotonic, sleep=clock.sleep),
        sleep=sleep,
        monotonic=clock.monotonic,
        backoff_base=0.02,
        backoff_cap=0.1,
        throttle_wait=0.2,
        on_request=counter,
    )
    return deps, counter


class InProcessDaemon:
    """`run_pass` with the wiring's pieces, but clients with short back-off, on the world's fake
    clock; `sleep` (a hook that records, then moves `w.clock`) replaces the clock's own."""

    def __init__(
        self,
        w: World,
        *,
        env: dict[str, str] | None = None,
        qbo_timeout: tuple[float, float] = (5.0, 5.0),
        lum_timeout: float = 5.0,
        sleep=None,
    ) -> None:
        from reconciler.config.loader import load_settings

        self.w = w
        self.settings = load_settings(None, env or w.env)
        self.clock = w.clock
        self.log = EventLog()
        self.qbo_timeout = qbo_timeout
        self.lum_timeout = lum_timeout
        self.sleep = sleep or w.clock.sleep
        self.reports: list[Any] = []
        self.aborted: list[str] = []
        self.crashes: list[str] = []

    def run(self, *, full_sweep: bool = False, crash_at: str | None = None):
        """One pass: its report, or None when Luminous stopped it or it crashed. `crash_at`
        ("point" or "point:N") arms an in-process crash: at the N-th time the pass reaches the
        point the state file is closed under it (a power cut) and the pass dies there; a
        point never reached fails the test."""
        from reconciler import errors
        from reconciler.sync.engine import run_pass

        point, _, nth = (crash_at or "").partition(":")
        store = StateStore.open(self.w.state_path, clock=self.clock)
        deps, counter = self._deps(store)
        # The "power cut" closes the database under the store's own lock: closing a sqlite3
        # connection while a worker thread is inside a statement on it crashes CPython.
        with crash_armed(point or None, int(nth or 1), store.close) as seen:
            try:
                report = run_pass(deps, full_sweep=full_sweep, counter=counter)
            except (SimulatedCrash, sqlite3.ProgrammingError):
                assert seen["fired"], "a closed database without a crash"
                report = None
            except errors.Retryable as exc:  # Luminous unavailable: the whole pass waits
                self.aborted.append(str(exc))
                report = None
            finally:
                store.close()
                CAPTURED.output("in-process events", "\n".join(self.log.lines))
                self.log.lines.clear()
        if point:
            assert seen["fired"], f"{crash_at} was not reached ({seen['n']} times)"
            self.crashes.append(crash_at)
            return None
        if report is not None:
            self.reports.append(report)
        return report

    def _deps(self, store: StateStore):
        from reconciler.app import wiring
        from reconciler.luminous.client import LuminousClient

        deps, counter = in_process_deps(
            self.settings,
            log=self.log,
            clock=self.clock,
            store=store,
            qbo_timeout=self.qbo_timeout,
            sleep=self.sleep,
        )
        deps.luminous = LuminousClient(
            wiring.session(for_url=self.settings.luminous.base_url),
            self.settings.luminous.base_url,
            LUMINOUS_TOKEN,
            per_page=self.settings.luminous.per_page,
            timeout=self.lum_timeout,
            sleep=self.sleep,
            backoff_base=0.02,
            backoff_cap=0.1,
        )
        return deps, counter

    def settle(self, *, max_passes: int = 8) -> int:
        """Passes (clock moved 2 h each time) until one ends clean; how many it took."""
        for n in range(1, max_passes + 1):
            report = self.run()
            clean = report is not None and report.exit_code() == 0
            if clean and self._nothing_pending():
                return n
            self.clock.advance(hours=2)
        raise AssertionError(f"not settled after {max_passes} passes")

    def _nothing_pending(self) -> bool:
        store = StateStore.open(self.w.state_path)
        try:
            counts = store.ledger.status_counts()
        finally:
            store.close()
        return not counts.get("pending") and not counts.get("retrying")
