"""Backfill benchmark: N Luminous POs into an empty QBO company, then an idle pass.

Both emulators run as subprocesses (`python -m reconciler sandbox qbo|luminous`), so the CPU
time and memory measured here are the daemon's alone: the pass runs in this process with the
real wiring (state file, OAuth token store, QBO client with its client-side limiter).

    .venv/bin/python bench/backfill.py --pos 1000 --latency 0.15 --limits real
    .venv/bin/python bench/backfill.py --pos 10000 --latency 0 --limits off

What QBO's limits permit for the request mix actually sent is computed two ways:

- sustained: max(batches / 40, requests / 500) minutes, the rate a long backfill can keep;
- sliding window: QBO counts requests in any 60 s window, so the first window's quota can be
  spent at once; the last of R requests cannot start before floor((R - 1) / 500) minutes (and
  the last of B batches before floor((B - 1) / 40) minutes), and with 10 in flight the
  requests' own time in flight divided by 10 is a bound too. The largest of these is the
  shortest wall time QBO would allow; `ratio` is that over the measured wall time.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from reconciler import logs, wiring
from reconciler.config import demo_settings
from reconciler.engine import PassReport, RequestCounter, run_pass
from reconciler.qbo.auth import Tokens
from reconciler.qbo.client import QBOClient
from reconciler.qbo.limiter import RealmLimiter

QBO_REQUESTS_PER_MINUTE = 500
QBO_BATCHES_PER_MINUTE = 40
QBO_CONCURRENCY = 10
LUMINOUS_TOKEN = "bench-token"
MAX_BACKFILL_PASSES = 5


class Meter(RequestCounter):
    """Counts what the QBO client sends: requests, batches, 429s, time in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.batches = 0
        self.in_flight_s = 0.0

    def __call__(self, info: dict[str, Any]) -> None:
        super().__call__(info)
        if info.get("entity") == "batch":
            self.batches += 1
        self.in_flight_s += float(info.get("duration_s") or 0.0)


@dataclasses.dataclass
class Emulators:
    qbo: dict[str, Any]
    luminous_url: str


@contextlib.contextmanager
def emulators(args: argparse.Namespace) -> Iterator[Emulators]:
    py = [sys.executable, "-m", "reconciler", "sandbox"]
    qbo_cmd = [*py, "qbo", "--port", "0", "--latency", str(args.latency)]
    if args.limits == "off":
        qbo_cmd.append("--no-limits")
    lum_cmd = [
        *py,
        "luminous",
        "--port",
        "0",
        "--token",
        LUMINOUS_TOKEN,
        "--no-sample-data",
        "--open-only",
        "--generate",
        str(args.pos),
        "--suppliers",
        str(args.suppliers),
        "--products",
        str(args.products),
        "--seed",
        str(args.seed),
        "--latency",
        str(args.luminous_latency if args.luminous_latency is not None else args.latency),
    ]
    procs: list[subprocess.Popen[str]] = []
    try:
        qbo = subprocess.Popen(qbo_cmd, stdout=subprocess.PIPE, text=True)
        procs.append(qbo)
        lum = subprocess.Popen(lum_cmd, stdout=subprocess.PIPE, text=True)
        procs.append(lum)
        assert qbo.stdout is not None and lum.stdout is not None
        qbo_info = json.loads(qbo.stdout.readline())
        lum_url = lum.stdout.readline().split(":", 1)[1].strip()
        lum.stdout.readline()  # the token line
        yield Emulators(qbo_info, lum_url)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def admin(emu: Emulators, method: str, route: str, **params: Any) -> Any:
    url = f"{emu.qbo['base_url']}/__admin/{route}"
    answer = requests.request(method, url, params=params, timeout=30)
    answer.raise_for_status()
    return answer.json()


def build_deps(emu: Emulators, args: argparse.Namespace, workdir: Path, meter: Meter, log: Any):
    settings = demo_settings(
        emu.luminous_url,
        LUMINOUS_TOKEN,
        f"{emu.qbo['base_url']}/v3/company",
        emu.qbo["realm_id"],
        emu.qbo["discovery_url"],
        str(workdir / "state.sqlite"),
        str(workdir / "tokens.json"),
        client_id=emu.qbo["client_id"],
        client_secret=emu.qbo["client_secret"],
    )
    if not (workdir / "tokens.json").exists():
        grant = admin(emu, "POST", "tokens")
        now = datetime.now(UTC)
        tokens = Tokens.from_grant(grant, now=now, realm_id=emu.qbo["realm_id"])
        wiring.token_store(settings).save(tokens)
    deps = wiring.build_deps(settings, log=log, counter=meter)
    limiter = (
        RealmLimiter(
            requests_per_minute=QBO_REQUESTS_PER_MINUTE,
            batches_per_minute=QBO_BATCHES_PER_MINUTE,
            max_concurrent=QBO_CONCURRENCY,
        )
        if args.limits == "real"
        else None
    )
    deps.qbo = QBOClient(
        wiring.session(QBO_CONCURRENCY),
        settings.qbo.base_url,
        settings.qbo.realm_id,
        wiring.token_source(settings),
        limiter=limiter,
        on_request=meter,
    )
    return deps, limiter


def permitted_wall_s(requests_sent: int, batches: int, in_flight_s: float) -> dict[str, float]:
    """The shortest wall time QBO's limits allow for this request mix (see the docstring)."""
    sustained = 60.0 * max(
        batches / QBO_BATCHES_PER_MINUTE, requests_sent / QBO_REQUESTS_PER_MINUTE
    )
    window = 60.0 * max(
        (max(requests_sent, 1) - 1) // QBO_REQUESTS_PER_MINUTE,
        (max(batches, 1) - 1) // QBO_BATCHES_PER_MINUTE if batches else 0,
    )
    concurrency = in_flight_s / QBO_CONCURRENCY
    return {
        "sustained_s": sustained,
        "sliding_window_s": max(window, concurrency),
        "concurrency_s": concurrency,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    log_stream = open(args.log_file, "w")  # noqa: SIM115 (closed in finally)
    logs.configure(level="info", json_output=True, stream=log_stream)
    log = logs.get_logger("bench")
    try:
        with tempfile.TemporaryDirectory(prefix="reconciler-bench-") as tmp, emulators(args) as emu:
            workdir = Path(tmp)
            result: dict[str, Any] = {
                "pos": args.pos,
                "suppliers": args.suppliers,
                "products": args.products,
                "latency_s": args.latency,
                "limits": args.limits,
            }
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            if args.tracemalloc:
                tracemalloc.start()
            meter = Meter()
            deps, limiter = build_deps(emu, args, workdir, meter, log)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            reports: list[PassReport] = []
            try:
                for _ in range(MAX_BACKFILL_PASSES):
                    reports.append(run_pass(deps, counter=meter))
                    counts = deps.store.ledger.status_counts()
                    if not counts.get("pending") and not counts.get("retrying"):
                        break
                wall = time.perf_counter() - wall0
                cpu = time.process_time() - cpu0
                status = deps.store.ledger.status_counts()
            finally:
                deps.store.close()
            backfill = {
                "requests": meter.requests,
                "batches": meter.batches,
                "in_flight_s": meter.in_flight_s,
                "throttled": meter.throttled,
            }
            idle_meter = Meter()
            idle_deps, _ = build_deps(emu, args, workdir, idle_meter, log)
            idle_cpu0, idle_wall0 = time.process_time(), time.perf_counter()
            try:
                idle = run_pass(idle_deps, counter=idle_meter)
            finally:
                idle_deps.store.close()
            idle_wall = time.perf_counter() - idle_wall0
            idle_cpu = time.process_time() - idle_cpu0
            peak_py = tracemalloc.get_traced_memory()[1] if args.tracemalloc else None
            rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            server = {
                "requests": admin(emu, "GET", "count")["count"],
                "throttled_429": admin(emu, "GET", "count", status=429)["count"],
                "purchase_orders": len(admin(emu, "GET", "objects/PurchaseOrder")["PurchaseOrder"]),
            }
            synced = status.get("synced", 0)
            bound = permitted_wall_s(backfill["requests"], backfill["batches"], meter.in_flight_s)
            result.update(
                passes=len(reports),
                synced=synced,
                ledger=status,
                wall_s=round(wall, 2),
                pos_per_min=round(synced / wall * 60, 1) if wall else None,
                qbo_requests=backfill["requests"],
                qbo_batches=backfill["batches"],
                qbo_single_requests=backfill["requests"] - backfill["batches"],
                qbo_requests_per_po=round(backfill["requests"] / synced, 3) if synced else None,
                throttled_429_client=backfill["throttled"],
                throttled_429_server=server["throttled_429"],
                limiter_waited_s=round(limiter.waited_s, 1) if limiter else 0.0,
                cpu_s=round(cpu, 2),
                cpu_ms_per_po=round(cpu / synced * 1000, 3) if synced else None,
                peak_rss_mb=round(rss_peak / 1024, 1),
                rss_before_mb=round(rss_before / 1024, 1),
                tracemalloc_peak_mb=round(peak_py / 2**20, 1) if peak_py is not None else None,
                idle_qbo_requests=idle_meter.requests,
                idle_wall_s=round(idle_wall, 2),
                idle_cpu_s=round(idle_cpu, 2),
                idle_counts=dict(idle.counts),
                qbo_purchase_orders=server["purchase_orders"],
                qbo_requests_server=server["requests"],
                permitted_sustained_s=round(bound["sustained_s"], 1),
                permitted_sliding_window_s=round(bound["sliding_window_s"], 1),
                ratio_sustained=round(bound["sustained_s"] / wall, 3) if wall else None,
                ratio_sliding_window=round(bound["sliding_window_s"] / wall, 3) if wall else None,
            )
            return result
    finally:
        log_stream.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pos", type=int, default=1000)
    parser.add_argument("--suppliers", type=int, default=50)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.15, help="QBO seconds per request")
    parser.add_argument(
        "--luminous-latency", type=float, default=None, help="Luminous (default: --latency)"
    )
    parser.add_argument("--limits", choices=("real", "off"), default="real")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace Python allocations (slower)"
    )
    parser.add_argument("--log-file", default=os.devnull, help="the daemon's JSON log lines")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of text")
    args = parser.parse_args(argv)
    # a stopped benchmark still stops its emulators (the `finally` in `emulators`)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    result = run(args)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
