"""What `reconciler status` prints: a table for people, JSON for machines.

Kept apart from the CLI so the same rendering serves `status`, `demo` and the tests.
Nothing here prints secrets: the ledger holds none.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from reconciler.model import LedgerEntry
from reconciler.state import HistoryRow

_COLUMNS = ("PO", "LUMINOUS ID", "STATUS", "QBO ID", "ATTEMPTS", "NEXT RETRY", "REASON")
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


def entry_dict(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "po_id": entry.doc_id,
        "po_number": entry.number,
        "status": str(entry.status),
        "qbo_id": entry.qbo_id,
        "sync_token": entry.sync_token,
        "lifecycle": str(entry.lifecycle) if entry.lifecycle else None,
        "attempts": entry.attempts,
        "error_code": entry.last_error_code,
        "reason": entry.last_error_message,
        "next_retry_at": entry.next_retry_at.isoformat() if entry.next_retry_at else None,
        "source_updated_at": (
            entry.source_updated_at.isoformat() if entry.source_updated_at else None
        ),
    }


def table(entries: Sequence[LedgerEntry]) -> str:
    rows = [
        (
            e.number or "-",
            str(e.doc_id),
            str(e.status),
            e.qbo_id or "-",
            str(e.attempts),
            _when(e.next_retry_at),
            _reason(e) or "-",
        )
        for e in entries
    ]
    if not rows:
        return "no purchase orders recorded yet"
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(_COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(_COLUMNS, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def po_detail(entry: LedgerEntry, history: Sequence[HistoryRow]) -> str:
    lines = [
        f"PO {entry.number or '-'} (Luminous id {entry.doc_id})",
        f"  status:        {entry.status}",
        f"  QBO id:        {entry.qbo_id or '-'} (SyncToken {entry.sync_token or '-'})",
        f"  lifecycle:     {entry.lifecycle or '-'}",
        f"  source edited: {_when(entry.source_updated_at)}",
        f"  attempts:      {entry.attempts}",
    ]
    if entry.last_error_message:
        lines.append(f"  reason:        {_reason_full(entry)}")
    if entry.next_retry_at:
        lines.append(f"  next retry:    {_when(entry.next_retry_at)}")
    lines.append("  history:")
    for h in history:
        detail = f" [{h.error_code}]" if h.error_code else ""
        detail += f" {h.message}" if h.message else ""
        qbo = f" qbo={h.qbo_id}" if h.qbo_id else ""
        lines.append(f"    {_when(h.at)}  {h.action:<7} {h.status:<8}{qbo}{detail}")
    if not history:
        lines.append("    (none)")
    return "\n".join(lines)


def _reason_full(entry: LedgerEntry) -> str:
    if entry.last_error_code:
        return f"[{entry.last_error_code}] {entry.last_error_message}"
    return entry.last_error_message or ""


def as_json(entries: Sequence[LedgerEntry]) -> str:
    return json.dumps([entry_dict(e) for e in entries], indent=2, ensure_ascii=False)


def detail_json(entry: LedgerEntry, history: Sequence[HistoryRow]) -> str:
    data = entry_dict(entry)
    data["history"] = [
        {
            "at": h.at.isoformat(),
            "run_id": h.run_id,
            "action": h.action,
            "status": h.status,
            "qbo_id": h.qbo_id,
            "error_code": h.error_code,
            "message": h.message,
        }
        for h in history
    ]
    return json.dumps(data, indent=2, ensure_ascii=False)
