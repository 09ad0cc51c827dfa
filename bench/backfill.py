"""Backfill benchmark: N Luminous POs into an empty QBO company, then an idle pass.

Both emulators run as subprocesses (`python -m reconciler sandbox qbo|luminous`), so the CPU
time and memory measured here are the daemon's alone: the pass runs in this process with the
real wiring (state file, OAuth token store, QBO client with its client-side limiter).

    .venv/bin/python bench/backfill.py --pos 1000 --latency 0.15 --limits real
    .venv/bin/python bench/backfill.py --pos 10000 --latency 0 --limits off

What it measures, for the backfill and for the idle pass (one with a drift check due: the
daemon's pass every `sync.drift_check_interval`; the first check after the backfill, which
reads back what the backfill wrote, is measured apart as `first_drift_check_*`):

- reads and writes apart, as QBO meters them (`request_log`): GET and query calls are reads,
  any other POST a write, a /batch one write request; reads per PO and requests per PO;
- from the QBO emulator's request log (`admitted_at`): the most requests admitted in any 1 s
  and any 60 s window, the most /batch requests in any 60 s, 429s on both sides, and a
  timeline of what went when (reference look-ups and creates, DocNumber look-ups, PO creates);
- the shortest wall time QBO's limits permit for the *work* (`qbo_bound`: the look-ups and
  creates a cold backfill of these POs, vendors and items needs, under every limit at once and
  the dependencies; S and P are the vendors and items the backfill had to create, counted in
  QBO; `--group-size` and `--account-queries` set the rest of the work), which limit binds,
  and `bound_ratio` = that bound / the measured wall time;
  next to it, `mix_bound_s`: what the limits permit for the request mix the client actually
  sent (a poor mix makes that one look close, which is why the ratio uses the work's bound);
- peak RSS in MiB, with MALLOC_ARENA_MAX as the systemd units and the image set it (the bench
  re-executes itself with it; `--malloc-arena-max ""` for glibc's default of 8 per core)
  (KiB / 1024, as `ru_maxrss` counts): each run's own peak, from the start of
  its passes to their end (`peak_rss_backfill_mb` for the backfill, `peak_rss_mb` the highest
  of all runs); the bench's fetch of the emulator's request log afterwards is not in it.
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
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import qbo_bound  # (bench/ siblings: a script's own directory is on sys.path)
import request_log
import requests

from reconciler import logs
from reconciler.app import wiring
from reconciler.config.loader import SyncSettings, demo_settings
from reconciler.qbo.auth import Tokens
from reconciler.qbo.client import QBOClient
from reconciler.qbo.limiter import RealmLimiter
from reconciler.sync.engine import PassReport, RequestCounter, run_pass

QBO_REQUESTS_PER_MINUTE = 500
QBO_BATCHES_PER_MINUTE = 40
QBO_CONCURRENCY = 10
LUMINOUS_TOKEN = "bench-token"
MAX_BACKFILL_PASSES = 5
# just past the default sync.drift_check_interval, which the bench's settings keep
DRIFT_CHECK_INTERVAL = SyncSettings().drift_check_interval + timedelta(seconds=1)


class Meter(RequestCounter):
    """Counts what the QBO client sends (every attempt): reads, writes, batches, 429s."""

    def __init__(self) -> None:
        super().__init__()
        self.batches = 0

    @property
    def write_requests(self) -> int:
        return self.writes

    def __call__(self, info: dict[str, Any]) -> None:
        super().__call__(info)  # reads and writes as Intuit meters them (`report.metered_kind`)
        if str(info.get("entity") or "") == "batch":
            self.batches += 1


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
        "--approval-field",  # approved POs: the sync pushes only what Luminous shows approved
        "approval_status",
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


def admin(emu: Emulators, method: str, route: str, body: Any = None, **params: Any) -> Any:
    url = f"{emu.qbo['base_url']}/__admin/{route}"
    answer = requests.request(method, url, params=params, json=body, timeout=30)
    answer.raise_for_status()
    return answer.json()


def build_deps(
    emu: Emulators,
    args: argparse.Namespace,
    workdir: Path,
    meter: Meter,
    log: Any,
    ahead: timedelta = timedelta(0),
):
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
    # `ahead`: this machine's clock moved on (a drift check comes due after its interval)
    deps = wiring.build_deps(
        settings, log=log, counter=meter, clock=lambda: wiring.utc_now() + ahead
    )
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
        wiring.session(QBO_CONCURRENCY, for_url=settings.qbo.base_url),
        settings.qbo.base_url,
        settings.qbo.realm_id,
        wiring.token_source(settings),
        limiter=limiter,
        on_request=meter,
    )
    return deps, limiter


def qbo_log(emu: Emulators) -> list[dict[str, Any]]:
    return admin(emu, "GET", "requests")["requests"]


def luminous_requests(emu: Emulators) -> int:
    """How many requests the Luminous emulator has answered (its admin routes aside)."""
    parts = urllib.parse.urlsplit(emu.luminous_url)
    url = f"{parts.scheme}://{parts.netloc}/__admin/requests"
    answer = requests.get(url, timeout=30)
    answer.raise_for_status()
    return sum(1 for r in answer.json()["requests"] if "__admin" not in r["path"])


def object_count(emu: Emulators, entity: str) -> int:
    return len(admin(emu, "GET", f"objects/{entity}")[entity])


def bound_figures(
    args: argparse.Namespace, vendors: int, items: int, wall: float, sent: dict[str, Any]
) -> dict[str, Any]:
    """The shortest wall time QBO's limits permit for the work (`qbo_bound`), and the ratio."""
    limits = (
        qbo_bound.Limits() if args.limits == "real" else qbo_bound.Limits(None, None, None, None)
    )
    work = qbo_bound.Work.cold_backfill(
        args.pos,
        vendors,
        items,
        account_queries=args.account_queries,
        group_size=args.group_size,
        item_listing=True,  # the company starts with a handful of items: a count, one page
    )
    schedule = qbo_bound.min_makespan(work, args.latency, limits)
    binding = qbo_bound.binding_limits(work, args.latency, limits)
    mix = qbo_bound.mix_lower_bound(sent["admitted"], sent["batches"], args.latency, limits)
    return {
        "bound_work": {
            **dataclasses.asdict(work),
            "docnumber_lookups": work.docnumber_lookups,
            "reads": work.reads,
            "writes": work.writes,
        },
        "bound_s": round(schedule.makespan_s, 2),
        "bound_lower_s": round(qbo_bound.lower_bound(work, args.latency, limits), 2),
        "bound_ratio": round(schedule.makespan_s / wall, 3) if wall else None,
        "bound_binding": binding["binding"],
        "bound_without_s": {k: round(v, 2) for k, v in binding["makespan_without_s"].items()},
        "bound_schedule": {
            "requests": schedule.requests,
            "reads": schedule.reads,
            "batches": schedule.batches,
            "single_writes": schedule.single_writes,
            "refs_answered_s": round(schedule.refs_answered_s, 2),
        },
        "mix_bound_s": round(mix, 2),
        "mix_ratio": round(mix / wall, 3) if wall else None,
    }


def where_time_went(timeline: dict[str, dict[str, Any]], latency: float) -> dict[str, Any]:
    """The backfill's phases from the request log: references, then POs (seconds after start)."""

    def phase(kinds: list[str]) -> dict[str, Any] | None:
        rows = [timeline[k] for k in kinds if k in timeline]
        if not rows:
            return None
        first = min(r["first_s"] for r in rows)
        last = max(r["last_s"] for r in rows)
        return {
            "requests": sum(r["count"] for r in rows),
            "first_s": first,
            "last_answered_s": round(last + latency, 2),
            "span_s": round(last + latency - first, 2),
        }

    refs = ("Vendor", "Item", "Account")
    batches = [k for k in timeline if k.startswith("batch")]
    ref_batches = [k for k in batches if "PurchaseOrder" not in k]
    return {
        "reference_lookups": phase([f"query {e}" for e in refs]),
        "reference_creates": phase([f"create/update {e.lower()}" for e in refs] + ref_batches),
        "po_index_reads": phase(["count PurchaseOrder", "query PurchaseOrder"]),
        "docnumber_lookups": phase(["query PurchaseOrder by DocNumber"]),
        "po_creates": phase(
            [k for k in batches if k not in ref_batches] + ["create/update purchaseorder"]
        ),
    }


@dataclasses.dataclass
class Measured:
    """One measured run of passes: the client's counts, the ledger, times, the request log."""

    meter: Meter
    limiter: RealmLimiter | None
    reports: list[PassReport]
    status: dict[str, int]
    wall: float
    cpu: float
    server: dict[str, Any]  # request_log.summarize of the requests these passes sent
    requests: list[dict[str, Any]]
    started_at: float  # time.monotonic(), the clock of the log's admitted_at
    # this process's peak RSS (KiB) when the passes ended: before the bench fetches and
    # parses the emulator's request log, which is the bench's memory, not the daemon's
    peak_rss_kb: int


def measure(
    emu: Emulators,
    args: argparse.Namespace,
    workdir: Path,
    log: Any,
    *,
    passes: int,
    ahead: timedelta = timedelta(0),
) -> Measured:
    """Passes until nothing is pending or retrying (at most `passes`), with fresh wiring."""
    meter = Meter()
    deps, limiter = build_deps(emu, args, workdir, meter, log, ahead)
    reset_peak_rss()
    log_start, luminous_start = len(qbo_log(emu)), luminous_requests(emu)
    cpu0, wall0, mono0 = time.process_time(), time.perf_counter(), time.monotonic()
    reports: list[PassReport] = []
    try:
        for _ in range(passes):
            reports.append(run_pass(deps, counter=meter))
            counts = deps.store.ledger.status_counts()
            if not counts.get("pending") and not counts.get("retrying"):
                break
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        peak_rss_kb = peak_rss()
        status = deps.store.ledger.status_counts()
    finally:
        deps.store.close()
    entries = qbo_log(emu)[log_start:]
    per_second = request_log.PER_SECOND if args.limits == "real" else None
    server = request_log.summarize(entries, mono0, per_second)
    server["luminous_requests"] = luminous_requests(emu) - luminous_start
    return Measured(meter, limiter, reports, status, wall, cpu, server, entries, mono0, peak_rss_kb)


def reset_peak_rss() -> None:
    """Start this process's peak RSS afresh (Linux: /proc/self/clear_refs), so each measured
    run's peak is its own, not the bench's parsing of an earlier run's request log."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss() -> int:
    """Peak RSS in KiB since `reset_peak_rss` (VmHWM); ru_maxrss where /proc is missing."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def backfill_figures(run: Measured, latency: float) -> dict[str, Any]:
    meter, server, synced = run.meter, run.server, run.status.get("synced", 0)

    def per_po(n: float, scale: int = 1) -> float | None:
        return round(n * scale / synced, 3) if synced else None

    return {
        "passes": len(run.reports),
        "synced": synced,
        "ledger": run.status,
        "wall_s": round(run.wall, 2),
        "pos_per_min": round(synced / run.wall * 60, 1) if run.wall else None,
        "qbo_requests": meter.requests,
        "qbo_reads": meter.reads,
        "qbo_writes": meter.write_requests,
        "qbo_batches": meter.batches,
        "qbo_single_requests": meter.requests - meter.batches,
        "qbo_single_writes": meter.write_requests - meter.batches,
        "qbo_requests_per_po": per_po(meter.requests),
        "qbo_reads_per_po": per_po(meter.reads),
        "qbo_writes_per_po": per_po(meter.write_requests),
        "throttled_429_client": meter.throttled,
        "throttled_429_server": server["throttled_429"],
        "limiter_waited_s": round(run.limiter.waited_s, 1) if run.limiter else 0.0,
        "max_admitted_1s": server["max_admitted_1s"],
        "max_admitted_60s": server["max_admitted_60s"],
        "max_batches_60s": server["max_batches_60s"],
        "admitted_per_s": server["admitted_per_s"],
        "unused_request_slots_s": server["unused_request_slots_s"],
        "first_qbo_request_s": server["first_admitted_s"],
        "last_qbo_request_s": server["last_admitted_s"],
        "cpu_s": round(run.cpu, 2),
        "cpu_ms_per_po": per_po(run.cpu, 1000),
        "qbo_requests_server": server["requests"],
        "qbo_reads_server": server["reads"],
        "qbo_writes_server": server["writes"],
        "qbo_batches_server": server["batches"],
        "phases": where_time_went(server["timeline"], latency),
        "timeline": server["timeline"],
    }


def idle_figures(run: Measured) -> dict[str, Any]:
    meter, server = run.meter, run.server
    return {
        "idle_qbo_requests": meter.requests,
        "idle_luminous_requests": server["luminous_requests"],
        "idle_qbo_reads": meter.reads,
        "idle_qbo_writes": meter.write_requests,
        "idle_throttled_429_client": meter.throttled,
        "idle_throttled_429_server": server["throttled_429"],
        "idle_wall_s": round(run.wall, 2),
        "idle_cpu_s": round(run.cpu, 2),
        "idle_counts": dict(run.reports[0].counts),
        "idle_qbo_requests_server": server["requests"],
        "idle_qbo_reads_server": server["reads"],
        "idle_qbo_writes_server": server["writes"],
        "idle_drift_cdc_requests": run.reports[0].counts["drift_cdc_requests"],
    }


def rebuild_figures(run: Measured) -> dict[str, Any]:
    """A pass on an empty ledger against the company the backfill filled: adopted, not made."""
    counts = run.reports[0].counts
    return {
        "rebuild_qbo_reads": run.meter.reads,
        "rebuild_qbo_writes": run.meter.write_requests,
        "rebuild_adopted": counts.get("adopted", 0),
        "rebuild_created": counts.get("created", 0),
        "rebuild_wall_s": round(run.wall, 2),
    }


def first_check_figures(run: Measured) -> dict[str, Any]:
    """The first drift check after the backfill: CDC returns every PO the backfill wrote."""
    report = run.reports[0]
    return {
        "first_drift_check_qbo_requests": run.meter.requests,
        "first_drift_check_cdc_requests": report.counts["drift_cdc_requests"],
        "first_drift_check_found": len(report.drift),
        "first_drift_check_wall_s": round(run.wall, 2),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    log_stream = open(args.log_file, "w")  # noqa: SIM115 (closed in finally)
    logs.configure(level="info", json_output=True, stream=log_stream)
    log = logs.get_logger("bench")
    try:
        with tempfile.TemporaryDirectory(prefix="reconciler-bench-") as tmp, emulators(args) as emu:
            workdir = Path(tmp)
            rss_before = peak_rss()
            if args.tracemalloc:
                tracemalloc.start()
            before = {e: object_count(emu, e) for e in ("Vendor", "Item")}
            backfill = measure(emu, args, workdir, log, passes=MAX_BACKFILL_PASSES)
            peak_py_backfill = tracemalloc.get_traced_memory()[1] if args.tracemalloc else None
            if args.dump_log:
                dump = {"started_at": backfill.started_at, "requests": backfill.requests}
                Path(args.dump_log).write_text(json.dumps(dump))
            # time passes for both sides: QBO's clock too (CDC's windows are on it)
            interval = DRIFT_CHECK_INTERVAL
            admin(emu, "POST", "clock", {"advance": interval.total_seconds()})
            first_check = measure(emu, args, workdir, log, passes=1, ahead=interval)
            admin(emu, "POST", "clock", {"advance": interval.total_seconds()})
            idle = measure(emu, args, workdir, log, passes=1, ahead=2 * interval)
            rebuilt = None
            if args.rebuild:  # the state file lost: QBO, not the ledger, says what exists
                (workdir / "state.sqlite").rename(workdir / "state.sqlite.lost")
                rebuilt = measure(emu, args, workdir, log, passes=1, ahead=2 * interval)
            peak_py = tracemalloc.get_traced_memory()[1] if args.tracemalloc else None
            runs = (backfill, first_check, idle, *([rebuilt] if rebuilt is not None else []))
            rss_peak = max(r.peak_rss_kb for r in runs)
            # the work's references: the vendors and items the backfill had to create
            vendors = object_count(emu, "Vendor") - before["Vendor"]
            items = object_count(emu, "Item") - before["Item"]
            return {
                "pos": args.pos,
                "suppliers": args.suppliers,
                "products": args.products,
                "latency_s": args.latency,
                "limits": args.limits,
                "malloc_arena_max": os.environ.get("MALLOC_ARENA_MAX", ""),
                **backfill_figures(backfill, args.latency),
                **bound_figures(args, vendors, items, backfill.wall, backfill.server),
                "peak_rss_mb": round(rss_peak / 1024, 1),
                # MiB (ru_maxrss / 1024), at the end of the passes; before the drift check:
                "peak_rss_backfill_mb": round(backfill.peak_rss_kb / 1024, 1),
                "rss_before_mb": round(rss_before / 1024, 1),
                "tracemalloc_peak_mb": round(peak_py / 2**20, 1) if peak_py is not None else None,
                "tracemalloc_backfill_peak_mb": (
                    round(peak_py_backfill / 2**20, 1) if peak_py_backfill is not None else None
                ),
                **first_check_figures(first_check),
                **idle_figures(idle),
                **(rebuild_figures(rebuilt) if rebuilt is not None else {}),
                "qbo_purchase_orders": object_count(emu, "PurchaseOrder"),
                "qbo_vendors_created": vendors,
                "qbo_items_created": items,
            }
    finally:
        log_stream.close()


MALLOC_ARENA_MAX = "2"  # as systemd/*.service and the Dockerfile set it


def with_malloc_arenas(value: str) -> None:
    """Re-execute with MALLOC_ARENA_MAX as asked: glibc reads it when the process starts."""
    if os.environ.get("MALLOC_ARENA_MAX", "") == value:
        return
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    if value:
        env["MALLOC_ARENA_MAX"] = value
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


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
        "--group-size",
        type=int,
        default=0,
        help="the bound's PO creates per DocNumber look-up (0: none, the default: the company "
        "starts empty, so the first connection's index answers every look-up)",
    )
    parser.add_argument(
        "--account-queries",
        type=int,
        default=6,
        help="the bound's other reads: 3 account look-ups and the first connection's index "
        "(2 counts and 1 page)",
    )
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace Python allocations (slower)"
    )
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="then lose the state file and run once more (a first connection to a full company)",
    )
    parser.add_argument("--log-file", default=os.devnull, help="the daemon's JSON log lines")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of text")
    parser.add_argument(
        "--dump-log", default=None, help="write the backfill's QBO request log here (JSON)"
    )
    parser.add_argument(
        "--malloc-arena-max",
        default=MALLOC_ARENA_MAX,
        help='glibc malloc arenas (default: as the service runs; "" for glibc\'s own)',
    )
    args = parser.parse_args(argv)
    if argv is None:
        with_malloc_arenas(args.malloc_arena_max)
    # a stopped benchmark still stops its emulators (the `finally` in `emulators`)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    result = run(args)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        for key, value in result.items():
            shown = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value
            print(f"{key:28} {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
