"""Bills benchmark: what a backlog of Luminous bills (or receiving reports) costs in QBO.

N open, approved POs are generated and each is received and billed in full (the Luminous
emulator's `bill_share=1`); the POs are synced first, then `[bills] from` is turned on and the
backlog of N bills goes to QBO. Printed (JSON): QBO requests, reads and writes per bill, the
/batch requests, the wall time, whether every bill is linked and every PO closed by QBO, and
what an idle pass afterwards costs. `--together` syncs POs and bills in the same passes (a new
install with bills on from the start) and reports per document.

    .venv/bin/python bench/bills.py --pos 300 --source bills
    .venv/bin/python bench/bills.py --pos 300 --source receipts --limits real --latency 0.05

Both emulators run in this process (the figures are request counts, not CPU).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from backfill import Meter  # (bench/ siblings: a script's own directory is on sys.path)

from reconciler import logs
from reconciler.app import wiring
from reconciler.app.demo import connect
from reconciler.config.loader import Settings, demo_settings
from reconciler.sandbox.luminous.server import LuminousEmulator
from reconciler.sandbox.qbo.server import QBOEmulator
from reconciler.sync.engine import run_pass

TOKEN = "bench-token"
MAX_PASSES = 6
CLIENTS: dict[str, Any] = {}


class Forward:
    """The QBO client's request hook, handed on to the meter of the phase being measured."""

    target: Meter | None = None

    def __call__(self, info: dict[str, Any]) -> None:
        if self.target is not None:
            self.target(info)


FORWARD = Forward()


def settings_for(qbo: QBOEmulator, lum: LuminousEmulator, workdir: Path, source: str) -> Settings:
    s = demo_settings(
        lum.base_url,
        TOKEN,
        qbo.api_base,
        qbo.realm_id,
        qbo.discovery_url,
        str(workdir / "state.sqlite"),
        str(workdir / "tokens.json"),
        client_id=qbo.client_id,
        client_secret=qbo.client_secret,
    )
    s = dataclasses.replace(s, qbo=dataclasses.replace(s.qbo, throttle_wait=timedelta(seconds=1)))
    return dataclasses.replace(s, bills=dataclasses.replace(s.bills, from_=source))


def run_until_settled(
    settings: Settings, meter: Meter, reports: list[dict[str, Any]] | None = None
) -> tuple[int, float]:
    """Passes until one has nothing left pending or retrying; (passes, wall seconds)."""
    log = logs.get_logger("bench")
    start = time.monotonic()
    for n in range(1, MAX_PASSES + 1):
        FORWARD.target = meter
        deps = wiring.build_deps(settings, log=log, counter=FORWARD)  # type: ignore[arg-type]
        # one QBO client for the whole run, as the daemon has: its limiter counts every pass
        deps.qbo = CLIENTS.setdefault("qbo", deps.qbo)
        try:
            report = run_pass(deps, counter=meter)
            counts = deps.store.ledger.status_counts()
        finally:
            deps.store.close()
        if reports is not None:
            reports.append({"counts": dict(report.counts), "ledger": counts})
        if report.fatal or report.crashed:
            raise SystemExit(f"pass stopped: {report.fatal or report.crashed}")
        if not counts.get("pending") and not counts.get("retrying"):
            return n, time.monotonic() - start
    return MAX_PASSES, time.monotonic() - start


def figures(meter: Meter, n: int, passes: int, wall: float) -> dict[str, Any]:
    return {
        "passes": passes,
        "wall_s": round(wall, 2),
        "qbo_requests": meter.requests,
        "qbo_reads": meter.reads,
        "qbo_write_requests": meter.write_requests,
        "batches": meter.batches,
        "requests_per_document": round(meter.requests / n, 3) if n else None,
        "reads_per_document": round(meter.reads / n, 3) if n else None,
    }


def outcome(qbo: QBOEmulator) -> dict[str, Any]:
    bills = qbo.objects("Bill")
    pos = qbo.objects("PurchaseOrder")
    return {
        "bills_in_qbo": len(bills),
        "bills_fully_linked": sum(all(x.get("LinkedTxn") for x in b["Line"]) for b in bills),
        "pos_in_qbo": len(pos),
        "pos_closed_by_their_bills": sum(p.get("POStatus") == "Closed" for p in pos),
        "doc_numbers_unique": len({(b.get("DocNumber"), b["VendorRef"]["value"]) for b in bills})
        == len(bills),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pos", type=int, default=300)
    parser.add_argument("--suppliers", type=int, default=50)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--source", choices=("bills", "receipts"), default="bills")
    parser.add_argument("--limits", choices=("real", "off"), default="real")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--together", action="store_true", help="POs and bills in one backlog")
    args = parser.parse_args(argv)
    logs.configure(level="WARNING", json_output=True)
    limits = (
        {}
        if args.limits == "real"
        else dict.fromkeys(("requests_per_minute", "max_concurrent", "batches_per_minute"))
    )
    qbo = QBOEmulator(latency=args.latency, **limits).start(port=0)
    lum = LuminousEmulator(
        token=TOKEN, latency=args.latency, approval_field="approval_status"
    ).start(port=0)
    try:
        qbo.seed_default()
        lum.generate(
            args.pos, args.suppliers, args.products, seed=args.seed, open_only=True, bill_share=1.0
        )
        with tempfile.TemporaryDirectory(prefix="bench-bills-") as tmp:
            on = settings_for(qbo, lum, Path(tmp), args.source)
            connect(qbo, on)
            result: dict[str, Any] = {"args": vars(args), "at": datetime.now(UTC).isoformat()}
            if not args.together:
                off = dataclasses.replace(on, bills=dataclasses.replace(on.bills, from_="off"))
                po_meter = Meter()
                result["pos_first"] = figures(po_meter, args.pos, *run_until_settled(off, po_meter))
            meter, reports = Meter(), []
            passes, wall = run_until_settled(on, meter, reports)
            documents = args.pos * (2 if args.together else 1)
            key = "bills" if not args.together else "pos_and_bills"
            result[key] = {**figures(meter, documents, passes, wall), "pass_reports": reports}
            idle = Meter()
            run_until_settled(on, idle)
            result["idle_pass_requests"] = idle.requests
            result["outcome"] = outcome(qbo)
        json.dump(result, sys.stdout, indent=2)
        print()
    finally:
        lum.stop()
        qbo.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
