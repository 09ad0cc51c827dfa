"""Status page and `reconciler status` benchmark: what a view costs at 1,000, 10,000 and
100,000 documents (issue 33's targets, at 100,000: a view ≤ 50 ms median and ≤ 150 ms p95;
`/healthz` ≤ 100 ms while 20 views run at once; a CSV export of every row ≤ 5 s with flat
memory; `status --code X` and `status --csv` ≤ 1 s).

    .venv/bin/python bench/status_page.py                      # 1k, 10k and 100k
    .venv/bin/python bench/status_page.py --sizes 1000 --repeat 10

Each size's state file is made once by `scripts/seed_ledger.py` (kept in `--workdir`). The page
is served by a child process (the health server with the status page over that file, as the
daemon serves it), so the clients here do not share its interpreter; a view's time is the
wall time of one GET on 127.0.0.1, first byte to last (the server's time plus a loopback
round trip). The CLI is timed as a user runs it: a new process, start to exit.

It runs on older trees too (the views and commands they lack are reported as "n/a"): the
"before" figures in docs/status-page.md come from this script on main.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CONCURRENT = 20
PROBE_EVERY = 0.05  # seconds between /healthz probes under load
TOKEN = "bench-retry-token-0123456789"


def has_queries() -> bool:
    """The tree measured has the SQL query module (issue 33) or not (main before it)."""
    try:
        import reconciler.state.queries  # noqa: F401
    except ImportError:
        return False
    return True


def a_document(state: Path) -> str:
    """The page of a PO in the middle of the ledger (one that exists)."""
    import sqlite3

    conn = sqlite3.connect(state)
    try:
        row = conn.execute(
            "select doc_id from ledger where kind = 'po' order by doc_id limit 1 offset"
            " (select count(*) / 3 from ledger where kind = 'po')"
        ).fetchone()
    finally:
        conn.close()
    return f"/status/doc/po/{row[0]}"


def views(size: int, new: bool, doc: str = "/status/doc/po/1") -> list[tuple[str, str]]:
    """(name, path): the views measured; the new filters only where the tree has them."""
    common = [
        ("overview", "/status"),
        ("status=failed", "/status?status=failed"),
        ("text search", "/status?q=duplicate"),
        ("last page", "/status?page=99999"),
        ("document", doc),
    ]
    if not new:
        return [*common, ("vendor (exact)", "/status?vendor=Acme-+West+Division")]
    return [
        *common,
        ("vendor search", "/status?vendor=acme+west"),
        ("code", "/status?code=po_not_pushed"),
        ("kind+status+code", "/status?kind=bill&status=failed&code=po_not_pushed"),
        ("not in QBO", "/status?in_qbo=no"),
        ("date range", "/status?by=recorded&from=2024-01-01&until=2024-03-31"),
        ("sort by vendor", "/status?sort=vendor&dir=asc"),
        ("sort by code, page 40", "/status?sort=code&dir=desc&page=40"),
        ("200 a page, page 3", "/status?size=200&page=3"),
        ("updated, not in QBO, sorted", "/status?by=updated&from=2025-06-01&in_qbo=no&sort=number"),
    ]


# --- the server child ---------------------------------------------------------------------------


def serve(state: str, port_file: str) -> None:
    """The health server with the status page over `state`, as the daemon builds it."""
    from datetime import timedelta

    from reconciler.config.settings import Secret
    from reconciler.state import StateStore
    from reconciler.web.health import HealthState, serve_health
    from reconciler.web.routes import StatusPage

    store = StateStore.open(state)
    health = HealthState(timedelta(minutes=1))
    if has_queries():
        page = StatusPage(store, retry_token=Secret(TOKEN), health=health)
    else:
        page = StatusPage(store.ledger, retry_token=Secret(TOKEN))
    server = serve_health(health, port=0, status_page=page)
    Path(port_file).write_text(str(server.port))
    threading.Event().wait()


class Child:
    """The server process: started, its port read, its memory watched, stopped."""

    def __init__(self, state: Path, workdir: Path) -> None:
        port_file = workdir / "port"
        port_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(state), str(port_file)]
        )
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the status page server did not start")
            time.sleep(0.05)
        self.port = int(port_file.read_text())

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def get(port: int, path: str) -> tuple[int, int, float]:
    """(status, bytes, seconds) of one GET, first byte sent to last received."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path)
    response = conn.getresponse()
    size = 0
    while chunk := response.read(65536):
        size += len(chunk)
    conn.close()
    return response.status, size, time.perf_counter() - started


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "n": len(ordered),
    }


# --- the measurements ---------------------------------------------------------------------------


def time_views(port: int, wanted: list[tuple[str, str]], repeat: int, budget: float) -> dict:
    """Each view `repeat` times, one at a time (fewer when one view takes over `budget` s)."""
    found = {}
    for name, path in wanted:
        status, _, first = get(port, path)  # warm: the page cache, the first plan
        if status != 200:
            found[name] = {"status": status}
            continue
        times, spent = [], first
        while len(times) < repeat and (spent < budget or len(times) < 3):
            times.append(get(port, path)[2])
            spent += times[-1]
        found[name] = summary(times)
    return found


def under_load(port: int, wanted: list[tuple[str, str]], seconds: float) -> dict:
    """`CONCURRENT` clients viewing the pages in turn while `/healthz` is timed."""
    stop = threading.Event()
    view_times: list[float] = []
    probes: list[float] = []

    def viewer(offset: int) -> None:
        n = offset
        while not stop.is_set():
            view_times.append(get(port, wanted[n % len(wanted)][1])[2])
            n += 1

    def prober() -> None:
        while not stop.is_set():
            probes.append(get(port, "/healthz")[2])
            time.sleep(PROBE_EVERY)

    threads = [threading.Thread(target=viewer, args=(n,)) for n in range(CONCURRENT)]
    threads.append(threading.Thread(target=prober))
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=300)
    return {"views": summary(view_times), "healthz": summary(probes)}


def export(child: Child, new: bool) -> dict[str, Any]:
    """Every row as CSV; the server's resident memory sampled while it streams."""
    if not new:
        return {"n/a": "no export on this tree"}
    before = child.rss_kib()
    peak = [before]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], child.rss_kib())
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", child.port, timeout=120)
        conn.request("GET", "/status/export.csv")
        response = conn.getresponse()
        lines = size = 0
        while chunk := response.read(65536):
            size += len(chunk)
            lines += chunk.count(b"\n")
        elapsed = time.perf_counter() - started
        conn.close()
    finally:
        done.set()
        watcher.join()
    return {
        "seconds": round(elapsed, 2),
        "rows": lines - 1,
        "mib": round(size / 2**20, 1),
        "server_rss_before_mib": round(before / 1024, 1),
        "server_rss_peak_mib": round(peak[0] / 1024, 1),
    }


def cli(state: Path, new: bool, repeat: int) -> dict[str, Any]:
    """`reconciler status` as a user runs it (a new process each time), output to a pipe."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    env["RECONCILER_STATE__PATH"] = str(state)
    commands = {"--failed (table)": ["--failed"], "--json": ["--json"]}
    if new:
        commands = {
            "--code po_not_pushed": ["--code", "po_not_pushed"],
            "--csv": ["--csv"],
            "--code po_not_pushed --json": ["--code", "po_not_pushed", "--json"],
            **commands,
        }
    found = {}
    for name, args in commands.items():
        times, size = [], 0
        for _ in range(repeat):
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "reconciler", "status", *args],
                env=env,
                capture_output=True,
                check=False,
            )
            times.append(time.perf_counter() - started)
            size = len(done.stdout)
            if done.returncode not in (0, 1):
                raise RuntimeError(done.stderr.decode()[-2000:])
        found[name] = {**summary(times), "output_mib": round(size / 2**20, 2)}
    return found


def state_file(workdir: Path, size: int) -> Path:
    """The seeded file for this size, made once (a seeded file is the same every time)."""
    path = workdir / f"ledger-{size}.sqlite"
    if not path.exists():
        sys.path.insert(0, str(REPO / "scripts"))
        from seed_ledger import seed

        seed(path, size).close()
    return path


def measure(size: int, args: argparse.Namespace, new: bool) -> dict[str, Any]:
    state = state_file(args.workdir, size)
    child = Child(state, args.workdir)
    try:
        wanted = views(size, new, a_document(state))
        result: dict[str, Any] = {"documents": size, "tree": "issue 33" if new else "before"}
        result["views"] = time_views(child.port, wanted, args.repeat, args.budget)
        result["concurrent"] = under_load(child.port, wanted, args.load_seconds)
        result["export"] = export(child, new)
    finally:
        child.stop()
    result["cli"] = cli(state, new, args.cli_repeat)
    return result


def table(results: list[dict[str, Any]]) -> str:
    lines = []
    for r in results:
        lines.append(f"\n== {r['documents']:,} documents ({r['tree']}) ==")
        for name, t in r["views"].items():
            median, p95 = t.get("median_ms"), t.get("p95_ms")
            lines.append(f"  view {name:<30} median {median} ms  p95 {p95} ms")
        c = r["concurrent"]
        lines.append(
            f"  {CONCURRENT} at once: views median {c['views']['median_ms']} ms p95 "
            f"{c['views']['p95_ms']} ms; /healthz median {c['healthz']['median_ms']} ms "
            f"p95 {c['healthz']['p95_ms']} ms max {c['healthz']['max_ms']} ms"
        )
        lines.append(f"  export: {r['export']}")
        for name, t in r["cli"].items():
            size = t["output_mib"]
            lines.append(f"  cli status {name:<28} median {t['median_ms']} ms ({size} MiB)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=30, help="GETs per view")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per view at most")
    parser.add_argument("--load-seconds", type=float, default=8.0)
    parser.add_argument("--cli-repeat", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/reconciler-bench-status"))
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--serve", nargs=2, metavar=("STATE", "PORT_FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(*args.serve)
        return 0
    args.workdir.mkdir(parents=True, exist_ok=True)
    new = has_queries()
    results = []
    for size in args.sizes:
        results.append(measure(size, args, new))
        print(table(results[-1:]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
