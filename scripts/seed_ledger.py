"""Fill a state file with N documents of realistic variety, for the status page's benchmark and
its browser test at scale (a development tool: it is not an operator's command).

    .venv/bin/python scripts/seed_ledger.py /tmp/state.sqlite --documents 100000

What a brand with a few years of purchasing holds: POs, bills and bills from receipts; most
synced, some skipped (drafts, awaiting approval), failed with the codes the sync records
(`po_not_pushed` the most common, as in issue 33's 10,514-document try), retrying, a few
pending; ~400 vendors, spelling variants and a hostile name among them; five years of dates.
Every row goes through `Ledger.record` (and `Ledger.begin` for the ones sent), so the rows,
their history and their redaction are the sync's own. Seeded from `--seed`: the same file
every time.

Why a script and not a CLI command: it writes a state file no pass produced, which an
operator must never do to a real one; and 100,000 documents through real passes against the
emulators would take hours, where this takes seconds.
"""

from __future__ import annotations

import argparse
import inspect
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from reconciler.documents.outcomes import Record
from reconciler.model import DocKind, Drift, LedgerEntry, Lifecycle, Outcome, SyncStatus
from reconciler.state import StateStore

PO, BILL, RECEIPT = DocKind.PURCHASE_ORDER, DocKind.BILL, DocKind.RECEIPT
START = datetime(2022, 1, 3, 8, 0, tzinfo=UTC)
END = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
CHUNK = 2000
HOSTILE_VENDOR = '<script>alert("v")</script> & Sons'

# (weight, status, code, message); the code None: no error (synced, skipped)
OUTCOMES = (
    (740, SyncStatus.SYNCED, None, None),
    (120, SyncStatus.SKIPPED, None, "awaiting approval in Luminous"),
    (30, SyncStatus.SKIPPED, None, "draft in Luminous: not pushed"),
    (
        40,
        SyncStatus.FAILED,
        "po_not_pushed",
        "its PO {po} will not be pushed (awaiting approval in Luminous); set [bills] "
        'unpushed_po = "unlinked" to post it unlinked',
    ),
    (
        8,
        SyncStatus.FAILED,
        "6240",
        "Duplicate Name Exists Error: The name supplied already exists. : Another customer, "
        "vendor or employee is already using this name",
    ),
    (
        6,
        SyncStatus.FAILED,
        "6000",
        "A business validation error has occurred while processing your request: "
        "Transaction has been billed and cannot be modified",
    ),
    (5, SyncStatus.FAILED, "vendor_inactive", "vendor {vendor!r} is inactive in QBO"),
    (4, SyncStatus.FAILED, "item_inactive", "item 'Widget 12mm' is inactive in QBO"),
    (4, SyncStatus.FAILED, "invalid_source_record", "line 3 has no quantity"),
    (3, SyncStatus.FAILED, "link_missing", "QBO dropped the link of line 2 to {po}"),
    (2, SyncStatus.FAILED, "bill_paid", "the bill is paid in QBO: it is never edited"),
    (12, SyncStatus.RETRYING, "po_not_in_qbo", "waits for its PO {po} to be in QBO"),
    (8, SyncStatus.RETRYING, "429", "QBO throttled the request"),
    (6, SyncStatus.RETRYING, "503", "QBO unavailable"),
    (2, SyncStatus.RETRYING, "no_answer", "no answer from QBO within 60 s"),
    (5, SyncStatus.PENDING, None, None),
)
KINDS = ((70, PO), (25, BILL), (5, RECEIPT))
ROOTS = (
    "Acme",
    "Bolt & Nut",
    "Côté Fournitures",
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark Industrial",
    "Wayne Supply",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Oscorp",
    "Wonka",
    "Gringotts",
    "Monarch",
    "Duff",
    "Sirius",
    "Zorg",
    "Nakatomi",
    "Massive Dynamic",
    "Aperture",
    "Black Mesa",
    "Yoyodyne",
    "Blue Sun",
    "Weyland",
)
SUFFIXES = (
    "Supplies",
    "Co.",
    "Ltd",
    "Inc.",
    "GmbH",
    "Packaging",
    "Textiles",
    "Wholesale",
    "Trading",
    "Imports",
    "Labels",
    "Components",
    "Logistics",
    "Print",
)


def vendors(rng: random.Random, count: int = 400) -> list[str]:
    """Names as Luminous has them: punctuation variants of one division, accents, one hostile."""
    names = {
        f"{rng.choice(ROOTS)} {rng.choice(SUFFIXES)} {n % 37 or ''}".strip()
        for n in range(count * 2)
    }
    found = sorted(names)[: count - 3]
    return [*found, "Acme- West Division", "Acme: West Division", HOSTILE_VENDOR]


def weighted(rng: random.Random, table: tuple[tuple[Any, ...], ...]) -> tuple[Any, ...]:
    total = sum(row[0] for row in table)
    pick = rng.uniform(0, total)
    for row in table:
        pick -= row[0]
        if pick <= 0:
            return row
    return table[-1]


class Clock:
    """The store's clock: whatever instant the seeder sets (rows' recorded_at, history)."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class Planned:
    entry: LedgerEntry
    outcome: Outcome
    when: datetime
    body: dict[str, Any] | None
    tries: int


def plan(rng: random.Random, number: int, names: list[str], total: int) -> Planned:
    """Document `number` of `total`, in time order across the five years."""
    kind = weighted(rng, KINDS)[1]
    _, status, code, template = weighted(rng, OUTCOMES)
    if kind is PO and code in ("po_not_pushed", "po_not_in_qbo", "link_missing", "bill_paid"):
        status, code, template = SyncStatus.SYNCED, None, None
    vendor = rng.choice(names)
    span = (END - START).total_seconds()
    when = START + timedelta(seconds=span * number / total + rng.uniform(0, 3600))
    po_number = f"PO-{10000 + rng.randrange(max(1, number))}"
    doc_number = {PO: f"PO-{10000 + number}", BILL: f"INV-{number}", RECEIPT: f"RR-{number}"}
    message = template.format(po=po_number, vendor=vendor) if template else None
    sent = status is SyncStatus.SYNCED or (code or "").isdigit() or code == "link_missing"
    qbo_id = str(500000 + number) if status is SyncStatus.SYNCED or code == "link_missing" else None
    entry = LedgerEntry(
        doc_id=number,
        status=status,
        number=doc_number[kind],
        qbo_id=qbo_id,
        sync_token=str(rng.randrange(4)) if qbo_id else None,
        content_hash=f"{number:064x}",
        source_updated_at=when - timedelta(minutes=rng.randrange(5, 600)),
        lifecycle=Lifecycle.OPEN if qbo_id else None,
        request_id=f"r-{number:012d}" if sent or status is SyncStatus.PENDING else None,
        request_sent_at=when if sent or status is SyncStatus.PENDING else None,
        attempts={SyncStatus.FAILED: 3, SyncStatus.RETRYING: rng.randrange(1, 4)}.get(status, 0),
        last_error_code=code,
        last_error_message=message,
        next_retry_at=when + timedelta(minutes=15) if status is SyncStatus.RETRYING else None,
        kind=kind,
        vendor=vendor,
        adopted=qbo_id is not None and rng.random() < 0.05,
    )
    action = "skip" if status is SyncStatus.SKIPPED else "create"
    outcome = Outcome(
        number,
        status,
        action,
        number=entry.number,
        qbo_id=qbo_id,
        error_code=code,
        message=message,
        kind=kind,
        extra=(
            ("request_id", entry.request_id or ""),
            ("intuit_tid", f"1-{number:08x}-tid" if sent else ""),
        ),
    )
    body = _body(rng, entry, po_number) if sent else None
    tries = 2 if status is SyncStatus.FAILED and (code or "").isdigit() else 0
    return Planned(entry, outcome, when, body, tries)


def _body(rng: random.Random, entry: LedgerEntry, po_number: str) -> dict[str, Any]:
    """A body shaped like the sync's (`documents/po/body`): what the document page shows."""
    lines = []
    for n in range(1, rng.randrange(2, 9)):
        qty, price = Decimal(rng.randrange(1, 200)), Decimal(rng.randrange(100, 50000)) / 100
        detail: dict[str, Any] = {
            "ItemRef": {"value": str(rng.randrange(1, 900)), "name": f"SKU-{rng.randrange(9999)}"},
            "Qty": qty,
            "UnitPrice": price,
        }
        line: dict[str, Any] = {
            "LineNum": n,
            "Amount": qty * price,
            "DetailType": "ItemBasedExpenseLineDetail",
            "ItemBasedExpenseLineDetail": detail,
        }
        if entry.kind is not PO:
            line["LinkedTxn"] = [
                {
                    "TxnId": str(rng.randrange(500000, 560000)),
                    "TxnType": "PurchaseOrder",
                    "TxnLineId": str(n),
                }
            ]
            line["Description"] = f"received against {po_number}"
        lines.append(line)
    return {
        "DocNumber": entry.number,
        "TxnDate": (entry.source_updated_at or START).date().isoformat(),
        "VendorRef": {"value": str(rng.randrange(1, 400)), "name": entry.vendor},
        "CurrencyRef": {"value": "USD"},
        "Line": lines,
    }


def seed(path: str | Path, documents: int, *, seed: int = 33, runs: int = 12) -> StateStore:
    """A state file at `path` holding `documents` documents (an open store: close it)."""
    clock = Clock()
    store = StateStore.open(path, clock=clock)
    rng = random.Random(seed)  # noqa: S311 (test data, the same every time)
    names = vendors(rng)
    takes_bodies = "bodies" in inspect.signature(store.ledger.begin).parameters
    for chunk in _chunks(rng, names, documents):
        _write(store, clock, chunk, takes_bodies)
    _runs(store, runs)
    _drift_found(store, rng, documents)
    return store


def _drift_found(store: StateStore, rng: random.Random, documents: int) -> None:
    """What drift checks found on some synced POs (written by `state.snapshots` in a pass)."""
    found = [
        (str(rng.choice((Drift.EDITED, Drift.BILLED, Drift.BILLED, Drift.CLOSED))), n)
        for n in rng.sample(range(1, documents + 1), k=max(1, documents // 50))
    ]
    with store.db.atomic():
        store.db.executemany(
            "update ledger set drift = ? where kind = 'po' and doc_id = ? and qbo_id is not null",
            found,
        )


def _chunks(rng: random.Random, names: list[str], total: int) -> Iterator[list[Planned]]:
    chunk: list[Planned] = []
    for number in range(1, total + 1):
        chunk.append(plan(rng, number, names, total))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _write(store: StateStore, clock: Clock, chunk: list[Planned], takes_bodies: bool) -> None:
    """One chunk: the earlier tries' history, the writes begun, then the outcomes."""
    clock.now = chunk[0].when
    tried = [p for p in chunk if p.tries]
    for attempt in range(1, 3):
        early = [
            Record(
                LedgerEntry(
                    p.entry.doc_id,
                    SyncStatus.RETRYING,
                    p.entry.number,
                    kind=p.entry.kind,
                    vendor=p.entry.vendor,
                    last_error_code="500",
                    attempts=attempt,
                    last_error_message=f"QBO 500 on try {attempt}",
                ),
                Outcome(
                    p.entry.doc_id,
                    SyncStatus.RETRYING,
                    "create",
                    number=p.entry.number,
                    error_code="500",
                    message=f"QBO 500 on try {attempt}",
                    kind=p.entry.kind,
                ),
            )
            for p in tried
        ]
        store.ledger.record(early, run_id=f"seed-{chunk[0].entry.doc_id}-{attempt}")
    sent = [p for p in chunk if p.body is not None]
    if sent:
        extra = {"bodies": [p.body for p in sent]} if takes_bodies else {}
        store.ledger.begin(
            [p.entry for p in sent], run_id="seed", verbs=["create"] * len(sent), **extra
        )
    clock.now = chunk[-1].when
    store.ledger.record([Record(p.entry, p.outcome) for p in chunk], run_id="seed")


def _runs(store: StateStore, count: int) -> None:
    """The last passes, every minute up to the end: the status page's health header."""
    for n in range(count):
        started = END - timedelta(minutes=count - n)
        run_id = started.strftime("%Y%m%dT%H%M%SZ") + f"-seed{n:02d}"
        store.runs.start(run_id, started)
        failed = 1 if n % 4 == 0 else 0
        report = {
            "counts": {"synced": 3, "unchanged": 40, "failed": failed},
            "fatal": None,
            "aborted": None,
            "crashed": None,
        }
        outcome = "failures" if failed else "ok"
        store.runs.finish(run_id, started + timedelta(seconds=20), outcome, report)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="the state file to create (it must not exist)")
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=33)
    args = parser.parse_args(argv)
    if Path(args.path).exists():
        print(f"{args.path} exists: seed a new file", file=sys.stderr)  # noqa: T201
        return 2
    started = time.monotonic()
    store = seed(args.path, args.documents, seed=args.seed)
    counts = store.ledger.status_counts()
    store.close()
    took = time.monotonic() - started
    print(f"{args.documents} documents in {took:.1f} s: {counts}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
