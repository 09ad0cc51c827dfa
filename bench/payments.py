"""Payments benchmark: a backlog of Luminous bill payments for bills already in QBO.

Both emulators run as subprocesses (`python -m reconciler sandbox qbo|luminous`, QBO with its
real limits), so their work is not the daemon's. N open POs are generated, each received and
billed in full (`--bill-share 1`), and synced with `[bills] from = "bills"` (payments off): the
bills are in QBO. Then each bill is paid once in Luminous (check, bank transfer or credit card
in turn), the bench waits `--cool-down` seconds (default 61: QBO's windows of 40 batches and
500 requests a minute start empty, as they would for payments made over days), turns
`[payments] from = "luminous"` on and sends the backlog of N payments to QBO.

Printed (JSON): for the payments, QBO requests, reads and writes per payment (as Intuit meters
them), the /batch requests, the wall time; the shortest wall time QBO's limits permit for that
work (`qbo_bound`: N BillPayment creates and one DocNumber look-up per group of 30; the vendors
and accounts are known once the bills are in) and `bound_ratio` = that bound / the measured
wall time; whether every payment is in QBO once, linked to its bill, every bill's Balance 0;
and what an idle pass afterwards costs.

    .venv/bin/python bench/payments.py --payments 1000 --latency 0.15
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import qbo_bound  # (bench/ siblings: a script's own directory is on sys.path)
import request_log
import requests
from backfill import LUMINOUS_TOKEN, Emulators, Meter, admin, build_deps, qbo_log

from reconciler import logs
from reconciler.config.settings import Settings
from reconciler.sync.engine import run_pass

KINDS = ("check", "bank_transfer", "credit_card")
ACCOUNTS = (("check", "Checking"), ("bank_transfer", "Checking"), ("credit_card", "Visa"))
MAX_PASSES = 5


@contextlib.contextmanager
def emulators(args: argparse.Namespace) -> Iterator[Emulators]:
    py = [sys.executable, "-m", "reconciler", "sandbox"]
    qbo_cmd = [*py, "qbo", "--port", "0", "--latency", str(args.latency)]
    lum_cmd = [*py, "luminous", "--port", "0", "--token", LUMINOUS_TOKEN, "--no-sample-data"]
    lum_cmd += ["--open-only", "--bill-share", "1", "--generate", str(args.payments)]
    lum_cmd += ["--suppliers", str(args.suppliers), "--products", str(args.products)]
    lum_cmd += ["--seed", str(args.seed), "--latency", str(args.latency)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for cmd in (qbo_cmd, lum_cmd)]
    try:
        qbo_info = json.loads(procs[0].stdout.readline())  # type: ignore[union-attr]
        lum_url = procs[1].stdout.readline().split(":", 1)[1].strip()  # type: ignore[union-attr]
        yield Emulators(qbo_info, lum_url)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


def bills_on(settings: Settings) -> Settings:
    return dataclasses.replace(settings, bills=dataclasses.replace(settings.bills, from_="bills"))


def payments_on(settings: Settings) -> Settings:
    payments = dataclasses.replace(settings.payments, from_="luminous", accounts=ACCOUNTS)
    return dataclasses.replace(bills_on(settings), payments=payments)


def passes(emu: Emulators, args: argparse.Namespace, workdir: Path, turn_on) -> dict[str, Any]:
    """Passes until nothing is pending or retrying, with fresh wiring; what they cost."""
    meter, log = Meter(), logs.get_logger("bench")
    deps, _ = build_deps(emu, args, workdir, meter, log)
    deps.settings = turn_on(deps.settings)
    logged, started = len(qbo_log(emu)), time.monotonic()  # (the log's admitted_at clock)
    start, done = time.perf_counter(), 0
    try:
        while done < MAX_PASSES:
            done += 1
            report = run_pass(deps, counter=meter)
            counts = deps.store.ledger.status_counts()
            if report.fatal or report.crashed:
                raise SystemExit(f"pass stopped: {report.fatal or report.crashed}")
            if not counts.get("pending") and not counts.get("retrying"):
                break
    finally:
        deps.store.close()
    wall = time.perf_counter() - start
    return {
        "passes": done,
        "wall_s": round(wall, 2),
        **_qbo_span(qbo_log(emu)[logged:], started, args.latency),
        "qbo_requests": meter.requests,
        "qbo_reads": meter.reads,
        "qbo_write_requests": meter.write_requests,
        "batches": meter.batches,
    }


def _qbo_span(entries: list[dict[str, Any]], started: float, latency: float) -> dict[str, Any]:
    """When the pass's BillPayment work reached QBO: its first request (the DocNumber look-up
    or batch) and its last answer, in seconds after the pass began; the rest of the wall time
    is reading Luminous."""
    times = [
        float(e["admitted_at"]) - started
        for e in request_log.api_entries(entries)
        if e.get("admitted_at") is not None
        and ("BillPayment" in request_log.kind(e) or "billpayment" in request_log.kind(e))
    ]
    if not times:
        return {}
    first, last = min(times), max(times) + latency
    summary = request_log.summarize(entries, started)
    return {
        "qbo_first_s": round(first, 2),
        "qbo_last_answer_s": round(last, 2),
        "qbo_span_s": round(last - first, 2),
        "qbo_timeline": summary["timeline"],
    }


def pay_every_bill(emu: Emulators) -> int:
    """One payment in full per posted bill, the payment types in turn (ten at a time)."""
    headers = {"Authorization": f"Bearer {LUMINOUS_TOKEN}"}
    bills, page = [], 1
    while True:
        body = requests.get(
            f"{emu.luminous_url}/bills",
            params={"page": page, "per_page": 100, "sort": "id:asc"},
            headers=headers,
            timeout=30,
        ).json()
        bills += [b for b in body["data"] if Decimal(str(b["total_due"])) > 0]
        if page >= body["meta"]["last_page"]:
            break
        page += 1
    base = emu.luminous_url.split("/external/api/v1")[0] + "/__admin/bills"

    def pay(n_bill: tuple[int, dict[str, Any]]) -> None:
        n, bill = n_bill
        fields = {"paid_amount": str(bill["total_due"]), "payment_type": KINDS[n % 3]}
        answer = requests.post(f"{base}/{bill['id']}/payments", json={"fields": fields}, timeout=30)
        answer.raise_for_status()

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(pay, enumerate(bills)))
    return len(bills)


def bound(n: int, latency: float, wall: float, span: float | None) -> dict[str, Any]:
    """The shortest wall time QBO's limits permit for N payment creates (`qbo_bound`): its
    ratio to the pass's wall time, and to the span of the pass's QBO work."""
    work = qbo_bound.Work(ref_lookups=0, ref_creates=0, po_creates=n)
    schedule = qbo_bound.min_makespan(work, latency)
    return {
        "bound_work": {"creates": n, "docnumber_lookups": work.docnumber_lookups},
        "bound_s": round(schedule.makespan_s, 2),
        "bound_lower_s": round(qbo_bound.lower_bound(work, latency), 2),
        "bound_ratio": round(schedule.makespan_s / wall, 3) if wall else None,
        "bound_ratio_of_qbo_span": round(schedule.makespan_s / span, 3) if span else None,
        "mix_bound_s": None,
        "bound_binding": qbo_bound.binding_limits(work, latency)["binding"],
    }


def outcome(emu: Emulators) -> dict[str, Any]:
    payments = admin(emu, "GET", "objects/BillPayment")["BillPayment"]
    bills = {b["Id"]: b for b in admin(emu, "GET", "objects/Bill")["Bill"]}
    linked = [p["Line"][0]["LinkedTxn"][0]["TxnId"] for p in payments if p.get("Line")]
    return {
        "payments_in_qbo": len(payments),
        "doc_numbers_unique": len({p.get("DocNumber") for p in payments}) == len(payments),
        "each_linked_to_a_bill": len(linked) == len(payments) and all(b in bills for b in linked),
        "bills_paid_in_full": sum(Decimal(str(b["Balance"])) == 0 for b in bills.values()),
        "bills_in_qbo": len(bills),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=1000)
    parser.add_argument("--suppliers", type=int, default=50)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.15, help="QBO seconds per request")
    parser.add_argument("--cool-down", type=float, default=61.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-level", default="WARNING", help="the daemon's log, on stderr")
    args = parser.parse_args(argv)
    args.limits = "real"  # (build_deps: the client's limiter at QBO's limits)
    logs.configure(level=args.log_level, json_output=True)
    with emulators(args) as emu, tempfile.TemporaryDirectory(prefix="bench-payments-") as tmp:
        visa = {"Name": "Visa", "AccountType": "Credit Card", "AccountSubType": "CreditCard"}
        admin(emu, "POST", "seed", {"entity": "Account", "object": visa})
        result: dict[str, Any] = {"args": vars(args), "at": datetime.now(UTC).isoformat()}
        result["pos_and_bills_first"] = passes(emu, args, Path(tmp), bills_on)
        n = pay_every_bill(emu)
        time.sleep(args.cool_down)
        measured = passes(emu, args, Path(tmp), payments_on)
        per = {f"{k}_per_payment": round(measured[k] / n, 3) for k in ("qbo_requests", "qbo_reads")}
        result["payments"] = {
            "count": n,
            **measured,
            **per,
            **bound(n, args.latency, measured["wall_s"], measured.get("qbo_span_s")),
        }
        mix = qbo_bound.mix_lower_bound(measured["qbo_requests"], measured["batches"], args.latency)
        span = measured.get("qbo_span_s")
        result["payments"]["mix_bound_s"] = round(mix, 2)
        result["payments"]["mix_ratio_of_qbo_span"] = round(mix / span, 3) if span else None
        result["idle_pass"] = passes(emu, args, Path(tmp), payments_on)
        result["outcome"] = outcome(emu)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
