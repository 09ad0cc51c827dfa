"""Payments benchmark: a backlog of Luminous bill payments for bills already in QBO.

N open POs are generated, each received and billed in full (the Luminous emulator's
`bill_share=1`), and synced with `[bills] from = "bills"` (payments off): the bills are in QBO.
Then each bill is paid once in Luminous (check, bank transfer or credit card in turn),
`[payments] from = "luminous"` is turned on, and the backlog of N payments goes to QBO.

Printed (JSON): for the payments, QBO requests, reads and writes per payment, the /batch
requests, the wall time; the shortest wall time QBO's limits permit for that work
(`qbo_bound`: N BillPayment creates and one DocNumber look-up per group of 30; the vendors and
accounts are known once the bills are in) and `bound_ratio` = that bound / the measured
wall time; whether every payment is in QBO once, linked to its bill, every bill's Balance 0;
and what an idle pass afterwards costs.

    .venv/bin/python bench/payments.py --payments 1000
    .venv/bin/python bench/payments.py --payments 1000 --latency 0.05

Both emulators run in this process (the figures are request counts and the wall time). Between
the bills and the payments the bench waits `--cool-down` seconds (default 61) so QBO's windows
(40 batches and 500 requests a minute) start empty, as they would for a backlog of payments
made over days; `--cool-down 0` measures the payments right after the bills instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import qbo_bound  # (bench/ siblings: a script's own directory is on sys.path)
from backfill import Meter
from bills import connect, figures, run_until_settled, settings_for

from reconciler import logs
from reconciler.config.loader import Settings
from reconciler.sandbox.luminous.server import LuminousEmulator
from reconciler.sandbox.qbo.server import QBOEmulator

TOKEN = "bench-token"
KINDS = ("check", "bank_transfer", "credit_card")
ACCOUNTS = (("check", "Checking"), ("bank_transfer", "Checking"), ("credit_card", "Visa"))


def with_payments(settings: Settings) -> Settings:
    payments = dataclasses.replace(settings.payments, from_="luminous", accounts=ACCOUNTS)
    return dataclasses.replace(settings, payments=payments)


def pay_every_bill(lum: LuminousEmulator) -> int:
    """One payment in full per posted bill, the payment types in turn."""
    count = 0
    for n, bill_id in enumerate(sorted(lum.bills.records)):
        due = lum.bills.get(bill_id)["total_due"]
        if Decimal(str(due)) <= 0:
            continue
        lum.payments.pay(bill_id, {"paid_amount": str(due), "payment_type": KINDS[n % 3]})
        count += 1
    return count


def bound(n: int, latency: float, wall: float, account_queries: int) -> dict[str, Any]:
    """The shortest wall time QBO's limits permit for N payment creates (`qbo_bound`)."""
    work = qbo_bound.Work(ref_lookups=account_queries, ref_creates=0, po_creates=n)
    schedule = qbo_bound.min_makespan(work, latency)
    return {
        "bound_work": {
            "creates": n,
            "docnumber_lookups": work.docnumber_lookups,
            "account_lookups": account_queries,
        },
        "bound_s": round(schedule.makespan_s, 2),
        "bound_lower_s": round(qbo_bound.lower_bound(work, latency), 2),
        "bound_ratio": round(schedule.makespan_s / wall, 3) if wall else None,
        "bound_binding": qbo_bound.binding_limits(work, latency)["binding"],
    }


def outcome(qbo: QBOEmulator) -> dict[str, Any]:
    payments = qbo.objects("BillPayment")
    bills = {b["Id"]: b for b in qbo.objects("Bill")}
    linked = [p["Line"][0]["LinkedTxn"][0]["TxnId"] for p in payments if p.get("Line")]
    return {
        "payments_in_qbo": len(payments),
        "doc_numbers_unique": len({p.get("DocNumber") for p in payments}) == len(payments),
        "each_linked_to_a_bill": all(b in bills for b in linked) and len(linked) == len(payments),
        "bills_paid_in_full": sum(Decimal(str(b["Balance"])) == 0 for b in bills.values()),
        "bills_in_qbo": len(bills),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=1000)
    parser.add_argument("--suppliers", type=int, default=50)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--cool-down", type=float, default=61.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logs.configure(level="WARNING", json_output=True)
    qbo = QBOEmulator(latency=args.latency).start(port=0)
    lum = LuminousEmulator(token=TOKEN, latency=args.latency).start(port=0)
    try:
        qbo.seed_default()
        qbo.seed(
            "Account",
            {"Name": "Visa", "AccountType": "Credit Card", "AccountSubType": "CreditCard"},
        )
        lum.generate(
            args.payments,
            args.suppliers,
            args.products,
            seed=args.seed,
            open_only=True,
            bill_share=1.0,
        )
        with tempfile.TemporaryDirectory(prefix="bench-payments-") as tmp:
            bills_on = settings_for(qbo, lum, Path(tmp), "bills")
            connect(qbo, bills_on)
            result: dict[str, Any] = {"args": vars(args), "at": datetime.now(UTC).isoformat()}
            setup = Meter()
            result["bills_first"] = figures(
                setup, args.payments, *run_until_settled(bills_on, setup)
            )
            n = pay_every_bill(lum)
            time.sleep(args.cool_down)
            on, meter = with_payments(bills_on), Meter()
            passes, wall = run_until_settled(on, meter)
            result["payments"] = {**figures(meter, n, passes, wall), "count": n}
            # the accounts are known once the bills are in (the bound counts no reads for them)
            result["payments"].update(bound(n, args.latency, wall, 0))
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
