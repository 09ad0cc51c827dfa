"""What `reconciler status` prints: a table for people, JSON for machines.

Kept apart from the CLI so the same rendering serves `status`, `demo` and the tests. The
ledger is redacted when written; what is printed goes through `redact.scrub` once more.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from reconciler.documents.drift import WORDS as DRIFT_WORDS
from reconciler.model import DocKind, Drift, LedgerEntry, SyncStatus
from reconciler.redact import scrub
from reconciler.state import DriftDetail, HistoryRow
from reconciler.state.queries import Listed
from reconciler.web.links import Links

_COLUMNS = ("PO", "LUMINOUS ID", "STATUS", "QBO ID", "ATTEMPTS", "NEXT RETRY", "REASON")
_MIXED = ("KIND", "NUMBER", *_COLUMNS[1:])
_REASON_WIDTH = 70


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"


def _reason(entry: LedgerEntry) -> str:
    if entry.last_error_code and entry.last_error_message:
        text = f"[{entry.last_error_code}] {entry.last_error_message}"
    else:
        text = entry.last_error_message or ""
    text = " ".join(text.split())
    return text if len(text) <= _REASON_WIDTH else text[: _REASON_WIDTH - 1] + "…"


def shown_status(entry: LedgerEntry) -> str:
    """The status a person reads: an adopted document says so while it stays in sync."""
    if entry.adopted and entry.status is SyncStatus.SYNCED:
        return "adopted"
    return str(entry.status)


def status_with_drift(entry: LedgerEntry) -> str:
    """The status, and what someone else did to it in QBO ("synced, changed in QBO")."""
    shown = shown_status(entry)
    return f"{shown}, {DRIFT_WORDS[entry.drift]}" if entry.drift else shown


def entry_dict(
    entry: LedgerEntry,
    *,
    links: Links | None = None,
    recorded_at: datetime | None = None,
    intuit_tid: str | None = None,
) -> dict[str, Any]:
    """One document for machines: the same keys for every kind (`kind` says which)."""
    links = links or Links()
    return {
        "kind": str(entry.kind),
        "doc_id": entry.doc_id,
        "number": scrub(entry.number),
        "vendor": scrub(entry.vendor),
        "status": str(entry.status),
        "adopted": entry.adopted,
        "drift": str(entry.drift) if entry.drift else None,
        "qbo_id": entry.qbo_id,
        "qbo_link": links.qbo(entry.kind, entry.qbo_id) if entry.qbo_id else None,
        "luminous_link": links.luminous(entry.kind, entry.doc_id),
        "sync_token": entry.sync_token,
        "lifecycle": str(entry.lifecycle) if entry.lifecycle else None,
        "attempts": entry.attempts,
        "error_code": entry.last_error_code,
        "reason": scrub(entry.last_error_message),
        "last_attempt_at": _iso(entry.request_sent_at),
        "recorded_at": _iso(recorded_at),
        "next_retry_at": _iso(entry.next_retry_at),
        "source_updated_at": _iso(entry.source_updated_at),
        "request_id": entry.request_id,
        "intuit_tid": intuit_tid,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def table(entries: Sequence[LedgerEntry], *, total: int | None = None) -> str:
    """One line per document; `total`: how many the ledger holds (the rest are counted)."""
    mixed = any(e.kind is not DocKind.PURCHASE_ORDER for e in entries)
    rows = [
        (
            *((e.kind.label,) if mixed else ()),
            e.number or "-",
            str(e.doc_id),
            status_with_drift(e),
            e.qbo_id or "-",
            str(e.attempts),
            _when(e.next_retry_at),
            _reason(e) or "-",
        )
        for e in entries
    ]
    if not rows:
        return "no purchase orders or bills recorded yet"
    columns = _MIXED if mixed else _COLUMNS
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    if total is not None and total > len(rows):
        lines.append(f"… {total - len(rows)} more not shown (--limit N shows more)")
    return scrub("\n".join(lines)) or ""


def document_detail(
    entry: LedgerEntry, history: Sequence[HistoryRow], drift: DriftDetail | None = None
) -> str:
    lines = [
        f"{entry.kind.label} {entry.number or '-'} (Luminous id {entry.doc_id})",
        f"  status:        {shown_status(entry)}",
        f"  vendor:        {entry.vendor or '-'}",
        f"  QBO id:        {entry.qbo_id or '-'} (SyncToken {entry.sync_token or '-'})",
        f"  lifecycle:     {entry.lifecycle or '-'}",
        f"  source edited: {_when(entry.source_updated_at)}",
        f"  attempts:      {entry.attempts}",
    ]
    if entry.last_error_message:
        lines.append(f"  reason:        {_reason_full(entry)}")
    if entry.next_retry_at:
        lines.append(f"  next retry:    {_when(entry.next_retry_at)}")
    if drift is not None:
        note = f": {drift.note}" if drift.note else ""
        found = f" (found {_when(drift.found_at)})" if drift.found_at else ""
        lines.append(f"  in QBO:        {DRIFT_WORDS[drift.change]}{found}{note}")
        lines += [f"    {d}" for d in drift.diffs]
    lines.append("  history:")
    for h in history:
        detail = f" [{h.error_code}]" if h.error_code else ""
        detail += f" {h.message}" if h.message else ""
        qbo = f" qbo={h.qbo_id}" if h.qbo_id else ""
        lines.append(f"    {_when(h.at)}  {h.action:<7} {h.status:<8}{qbo}{detail}")
    if not history:
        lines.append("    (none)")
    return scrub("\n".join(lines)) or ""


def _reason_full(entry: LedgerEntry) -> str:
    if entry.last_error_code:
        return f"[{entry.last_error_code}] {entry.last_error_message}"
    return entry.last_error_message or ""


def as_json(entries: Sequence[LedgerEntry], links: Links | None = None) -> str:
    rows = [entry_dict(e, links=links) for e in entries]
    return scrub(json.dumps(rows, indent=2, ensure_ascii=False)) or ""


def json_pieces(rows: Iterable[Listed], links: Links) -> Iterator[str]:
    """A JSON array of `rows` (`state.queries.Listed`), one document a line, written as they
    come: an export of 100,000 documents holds one in memory. Its text fields are redacted
    one by one (`entry_dict`): redacting the whole text would run every pattern over every
    line, since "sync_token" is in each."""
    yield "["
    for n, row in enumerate(rows):
        data = entry_dict(
            row.entry, links=links, recorded_at=row.recorded_at, intuit_tid=row.intuit_tid
        )
        yield ("," if n else "") + "\n" + json.dumps(data, ensure_ascii=False)
    yield "\n]"


def drift_summary(
    counts: Mapping[str, int], checked_at: datetime | None, interval: timedelta
) -> str:
    """One line under the table: documents someone else changed in QBO, and the next check."""
    found = [f"{counts[str(d)]} {DRIFT_WORDS[d]}" for d in Drift if counts.get(str(d))]
    if not interval:
        when = "drift checks are off"
    elif checked_at is None:
        when = "drift checks start with the next pass"
    else:
        when = f"next drift check from {_when(checked_at + interval)}"
    return f"drift: {', '.join(found) or 'none found'} ({when})"


def detail_json(
    entry: LedgerEntry,
    history: Sequence[HistoryRow],
    drift: DriftDetail | None = None,
    links: Links | None = None,
) -> str:
    data = entry_dict(entry, links=links)
    if drift is not None:
        data["drift_detail"] = {
            "change": str(drift.change),
            "note": drift.note,
            "found_at": drift.found_at.isoformat() if drift.found_at else None,
            "fields": [d.as_list() for d in drift.diffs],
        }
    data["history"] = [
        {
            "at": h.at.isoformat(),
            "run_id": h.run_id,
            "action": h.action,
            "status": h.status,
            "qbo_id": h.qbo_id,
            "error_code": h.error_code,
            "message": h.message,
            "request_id": h.request_id,
            "intuit_tid": h.intuit_tid,
        }
        for h in history
    ]
    return scrub(json.dumps(data, indent=2, ensure_ascii=False)) or ""
