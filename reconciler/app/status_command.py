"""`reconciler status`: the documents, filtered like the status page's list and by the same
query (`state.queries`), as a table, JSON or CSV; or one document's history.

    reconciler status                              the newest 200, then the counts
    reconciler status --code po_not_pushed         one error code's documents, and its fix
    reconciler status --kind bill --vendor acme --since 2026-01-01 --until 2026-01-31
    reconciler status --csv > documents.csv        every matching row (the page's export)
    reconciler status --json                       every matching row, one key set for all kinds

Dates are calendar days in the zone the page shows ([status_page] timezone, else the QBO
company's, else UTC); `--since`/`--until` bound when the sync recorded the document.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any, TextIO

from reconciler.app import status_table
from reconciler.documents.fixes import fix_for
from reconciler.model import DocKind, SyncStatus
from reconciler.state import DocumentQuery, StateStore
from reconciler.web.export import csv_pieces
from reconciler.web.links import Links
from reconciler.web.zones import display_zone

TABLE_ROWS = 200
EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE = 0, 1, 2


def run(args: argparse.Namespace, settings: Any, store: StateStore, out: TextIO) -> int:
    """The command; a reader that stops early (`| head`) ends it quietly."""
    try:
        return _run(args, settings, store, out)
    except BrokenPipeError:
        # Python's advice: point stdout at devnull so the exit's flush does not fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def _run(args: argparse.Namespace, settings: Any, store: StateStore, out: TextIO) -> int:
    links = Links(
        settings.qbo.environment, settings.qbo.realm_id, settings.status_page.luminous_url
    )
    if args.po:
        return _detail(args, store, links, out)
    if args.csv and args.json:
        sys.stderr.write("--csv or --json, not both\n")
        return EXIT_USAGE
    zone = display_zone(settings.status_page.timezone, store.queries.meta)
    try:
        query = _query(args, zone)
    except ValueError as exc:
        sys.stderr.write(f"reconciler status: {exc}\n")
        return EXIT_USAGE
    if args.csv:
        for piece in csv_pieces(store.queries, query, links, zone):
            out.buffer.write(piece) if hasattr(out, "buffer") else out.write(piece.decode())
        return EXIT_OK
    if args.json:
        for piece in status_table.json_pieces(store.queries.listed(query, args.limit), links):
            out.write(piece)
        out.write("\n")
        return EXIT_OK
    return _table(args, settings, store, query, out)


def _query(args: argparse.Namespace, zone: Any) -> DocumentQuery:
    since, until = _day(args.since, "--since"), _day(args.until, "--until")
    return DocumentQuery(
        kind=DocKind(args.kind) if args.kind else None,
        statuses=(SyncStatus.FAILED, SyncStatus.RETRYING) if args.failed else (),
        vendor=args.vendor or "",
        code=args.code or "",
        since=datetime.combine(since, time(0), tzinfo=zone) if since else None,
        until=datetime.combine(until + timedelta(days=1), time(0), tzinfo=zone) if until else None,
    )


def _day(text: str | None, option: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option} takes a day as YYYY-MM-DD, not {text!r}") from None


def _table(
    args: argparse.Namespace, settings: Any, store: StateStore, query: DocumentQuery, out: TextIO
) -> int:
    """The newest `--limit` (200) rows, how many more match, and the counts or the fix."""
    page = store.queries.page(replace(query, size=args.limit or TABLE_ROWS))
    out.write(status_table.table([r.entry for r in page.rows], total=page.matching) + "\n")
    if args.code:
        out.write(f"\n{page.matching} with code {args.code}. What to do: {fix_for(args.code)}\n")
        return EXIT_OK
    if query != DocumentQuery(statuses=query.statuses):
        return EXIT_OK
    counts: dict[str, int] = {}
    for by_status in store.queries.counts().values():
        for status, n in by_status.items():
            counts[status] = counts.get(status, 0) + n
    if counts:
        out.write("\n" + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + "\n")
        drift = {str(k): n for k, n in store.queries.drift_counts().items()}
        checked = store.drift.checked_at()
        out.write(status_table.drift_summary(drift, checked, settings.sync.drift_check_interval))
        out.write("\n")
    return EXIT_OK


def _detail(args: argparse.Namespace, store: StateStore, links: Links, out: TextIO) -> int:
    ledger = store.ledger
    keys = ledger.find(args.po)
    if not keys:
        out.write(
            f"no PO or bill {args.po!r} in the ledger (not seen yet, or not in this company)\n"
        )
        return EXIT_NOT_FOUND
    for kind, doc_id in keys:
        entry = ledger.entry(doc_id, kind)
        if entry is None:
            continue  # `find` named it: only another process's removal makes this happen
        history = ledger.history(doc_id, kind)
        drift = store.drift.detail(kind, doc_id)
        if args.json:
            out.write(status_table.detail_json(entry, history, drift, links) + "\n")
        else:
            out.write(status_table.document_detail(entry, history, drift) + "\n")
    return EXIT_OK
