"""The `qbo_snapshot` rows: each document as QBO answered the sync's last write of it.

`Ledger.record` writes them in the transaction of the outcome they come from, so a snapshot is
never older or newer than the ledger row beside it; a write of ours also clears the row's drift
(QBO holds our version again), keeping only what that answer showed (billed, closed). The
fields go through `redact` like everything persisted; a drift check compares QBO's document
redacted the same way (`drift.stored_form`), so redaction never shows as a difference.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from reconciler.documents.drift import FieldDiff, Snapshot, field_diff
from reconciler.model import DocKey, Drift
from reconciler.redact import scrub
from reconciler.state.db import StateDB, instant, iso

_UPSERT = (
    "insert into qbo_snapshot (kind, doc_id, qbo_id, sync_token, fields, qbo_updated_at,"
    " seen_token, diffs, note, found_at) values (?, ?, ?, ?, ?, ?, null, null, ?, null)"
    " on conflict(kind, doc_id) do update set qbo_id = excluded.qbo_id,"
    " sync_token = excluded.sync_token, fields = excluded.fields,"
    " qbo_updated_at = excluded.qbo_updated_at, seen_token = null, diffs = null,"
    " note = excluded.note, found_at = null"
)


def encode(value: Any) -> str:
    """JSON text, redacted (`drift.stored_form`: a check compares QBO's copy in that form)."""
    return scrub(json.dumps(value, default=str, ensure_ascii=False)) or "null"


def write(db: StateDB, snapshots: Sequence[tuple[DocKey, Snapshot]]) -> None:
    """Our writes' snapshots (call inside the caller's transaction)."""
    if not any(snap.deleted for _, snap in snapshots):  # (the usual case: two statements)
        db.executemany(_UPSERT, [_row(key, snap) for key, snap in snapshots])
        db.executemany(
            "update ledger set drift = ? where kind = ? and doc_id = ?",
            [[str(s.state) if s.state else None, str(k), i] for (k, i), s in snapshots],
        )
        return
    for (kind, doc_id), snap in snapshots:
        key = [str(kind), doc_id]
        if snap.deleted:
            db.execute("delete from qbo_snapshot where kind = ? and doc_id = ?", key)
            db.execute("update ledger set drift = null where kind = ? and doc_id = ?", key)
            continue
        db.execute(_UPSERT, _row((kind, doc_id), snap))
        state = str(snap.state) if snap.state else None
        db.execute("update ledger set drift = ? where kind = ? and doc_id = ?", [state, *key])


def _row(key: DocKey, snap: Snapshot) -> list[Any]:
    fields = encode(snap.fields) if snap.fields is not None else None
    return [
        str(key[0]),
        key[1],
        snap.qbo_id,
        snap.sync_token,
        fields,
        iso(snap.updated_at),
        snap.note or None,
    ]


def seen(
    db: StateDB,
    key: DocKey,
    *,
    qbo_id: str | None,
    token: str | None,
    reported: tuple[Sequence[FieldDiff], str] | None = None,
    resolved: bool = False,
    at: datetime,
) -> None:
    """What a drift check saw: its token, and the differences and note it reported (or that
    QBO matches again). A document written before drift checks gets a row without fields."""
    db.execute(
        "insert into qbo_snapshot (kind, doc_id, qbo_id, seen_token) values (?, ?, ?, ?)"
        " on conflict(kind, doc_id) do update set seen_token = excluded.seen_token",
        [str(key[0]), key[1], qbo_id, token],
    )
    if reported is None and not resolved:
        return
    diffs, note = reported if reported is not None else ((), "")
    db.execute(
        "update qbo_snapshot set diffs = ?, note = ?, found_at = ? where kind = ? and doc_id = ?",
        [
            encode([d.as_list() for d in diffs]) if reported else None,
            scrub(note) or None,
            iso(at) if reported else None,
            str(key[0]),
            key[1],
        ],
    )


def from_row(row: Mapping[str, Any]) -> Snapshot:
    fields = json.loads(row["fields"]) if row.get("fields") else None
    diffs = tuple(field_diff(*d) for d in json.loads(row["diffs"])) if row.get("diffs") else ()
    return Snapshot(
        qbo_id=row.get("qbo_id") or "",
        sync_token=row.get("sync_token"),
        fields=fields,
        updated_at=instant(row.get("qbo_updated_at")),
        state=None,
        note=row.get("note") or "",
        seen_token=row.get("seen_token"),
        diffs=diffs,
    )


def found_at(row: Mapping[str, Any]) -> datetime | None:
    return instant(row.get("found_at"))


def drift_of(value: str | None) -> Drift | None:
    return Drift(value) if value in set(Drift) else None
