"""What the QBO emulator's request log (`GET /__admin/requests`) says a pass did.

Each entry has method, path, query, status and, once a limit admitted it, `admitted_at` (the
emulator's time.monotonic(), the same clock as this process's on one machine) and `app`.

Reads and writes, as QBO meters them: a GET, and any query (GET or POST /query), is a read (a
"CorePlus" call, metered); any other POST is a write. A /batch request is one write request,
whatever it carries (the client sends only creates in batches; QBO's page does not say how a
query inside a batch is metered, and this client sends none). OAuth calls are not API requests
and are counted apart.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

API_PREFIX = "/v3/company/"
PER_SECOND = 10  # QBO's requests a second per company and app
_FROM = re.compile(r"\bfrom\s+(\w+)", re.IGNORECASE)
_COUNT = re.compile(r"^\s*select\s+count\(", re.IGNORECASE)
_BY_DOCNUMBER = re.compile(r"\bDocNumber\s*(=|IN\b)", re.IGNORECASE)


def is_read(method: str, target: str) -> bool:
    """`target`: the path's last part (or the client's entity label, "query" for queries)."""
    return method.upper() == "GET" or target.lower() == "query"


def kind(entry: dict[str, Any]) -> str:
    """What one API request was, for the breakdown: e.g. "query Vendor", "create item", "batch".

    A query's entity comes from its statement (GET); a POST /query's statement is not logged.
    "query PurchaseOrder by DocNumber" is the look-up before creates; "count PurchaseOrder" and
    "query PurchaseOrder" the client's reads of QBO's PO index."""
    last = entry["path"].rstrip("/").rsplit("/", 1)[-1].lower()
    if last == "query":
        statement = (entry.get("query") or {}).get("query", "")
        found = _FROM.search(statement)
        if not found:
            return "query (POST)"
        if _COUNT.search(statement):
            return f"count {found.group(1)}"
        if _BY_DOCNUMBER.search(statement):
            return f"query {found.group(1)} by DocNumber"
        return f"query {found.group(1)}"
    if entry["method"].upper() == "GET":
        return f"read {last}"
    if last == "batch":
        carried = entry.get("batch_entities")
        return f"batch {'+'.join(carried)}" if carried else "batch"
    operation = (entry.get("query") or {}).get("operation")
    return f"{operation or 'create/update'} {last}"


def api_entries(log: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in log if e["path"].startswith(API_PREFIX)]


def most_in_window(times: Sequence[float], span: float) -> int:
    """The most of `times` inside any window [x, x + span) (how QBO's sliding windows count)."""
    ordered = sorted(times)
    most = start = 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - span:
            start += 1
        most = max(most, end - start + 1)
    return most


def summarize(
    log: Sequence[dict[str, Any]], started_at: float, per_second: int | None = PER_SECOND
) -> dict[str, Any]:
    """Counts, the busiest windows, 429s and a timeline (seconds after `started_at`);
    `per_second`: the limit in force (None: off), for the budget left unused."""
    entries = api_entries(log)
    admitted = [e for e in entries if e.get("admitted_at") is not None]
    times = [float(e["admitted_at"]) for e in admitted]
    batch_times = [float(e["admitted_at"]) for e in admitted if kind(e).startswith("batch")]
    reads = sum(1 for e in entries if is_read(e["method"], e["path"].rsplit("/", 1)[-1]))
    timeline: dict[str, dict[str, Any]] = {}
    for entry in sorted(admitted, key=lambda e: e["admitted_at"]):
        at = round(float(entry["admitted_at"]) - started_at, 3)
        row = timeline.setdefault(kind(entry), {"count": 0, "first_s": at, "last_s": at})
        row["count"] += 1
        row["last_s"] = at
    statuses = Counter(e["status"] for e in entries)
    return {
        "requests": len(entries),
        "reads": reads,
        "writes": len(entries) - reads,
        "batches": sum(1 for e in entries if kind(e).startswith("batch")),
        "admitted": len(admitted),
        "throttled_429": statuses.get(429, 0),
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))},
        "max_admitted_1s": most_in_window(times, 1.0),
        "max_admitted_60s": most_in_window(times, 60.0),
        "max_batches_60s": most_in_window(batch_times, 60.0),
        "admitted_per_s": (
            round(len(times) / (max(times) - min(times)), 2) if len(times) > 1 else None
        ),
        # the 10-a-second budget left unused between the first request and the last
        "unused_request_slots_s": (
            round(max(times) - min(times) + 1 - len(times) / per_second, 2)
            if times and per_second
            else None
        ),
        "first_admitted_s": round(min(times) - started_at, 3) if times else None,
        "last_admitted_s": round(max(times) - started_at, 3) if times else None,
        "timeline": timeline,
        "other_requests": sum(1 for e in log if not e["path"].startswith(API_PREFIX)),
    }
