"""`doc_sent`: what each document's last write sent to QBO (`documents.sent.SentSummary`).

Written by `Ledger.begin` in the transaction that commits the write's requestid, so the page
of a document whose write failed still shows what was sent; replaced by its next write. The
lines go through `redact` like everything persisted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.documents.sent import SentSummary, summary
from reconciler.model import DocKind, LedgerEntry
from reconciler.redact import scrub
from reconciler.state.db import StateDB

INSERT_SENT = (
    "insert or replace into doc_sent (kind, doc_id, sent_at, request_id, txn_date, amount,"
    " currency, lines) values (?, ?, ?, ?, ?, ?, ?, ?)"
)


def sent_rows(
    entries: Sequence[LedgerEntry], bodies: Sequence[Mapping[str, Any] | None], now: str | None
) -> list[list[Any]]:
    """The `doc_sent` rows of the writes begun with a body."""
    rows = []
    for entry, body in zip(entries, bodies, strict=True):
        if not body:
            continue
        sent = summary(body)
        rows.append(
            [
                str(entry.kind),
                entry.doc_id,
                now,
                entry.request_id,
                sent.txn_date,
                str(sent.amount) if sent.amount is not None else None,
                sent.currency,
                scrub(sent.lines_json()),
            ]
        )
    return rows


def last_sent(db: StateDB, kind: DocKind, doc_id: int) -> SentSummary | None:
    rows = db.rows("select * from doc_sent where kind = ? and doc_id = ?", [str(kind), doc_id])
    return SentSummary.from_stored(rows[0]) if rows else None
