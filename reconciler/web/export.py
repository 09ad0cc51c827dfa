"""A filtered view as CSV, streamed: the page's export and `reconciler status --csv`.

The columns of the page's list, and what a person matches with QBO and Luminous: both ids and
both links, the requestid of the last write and Intuit's `intuit_tid` of its answer. Rows are
written as the query yields them (`StatusQueries.stream`, a chunk at a time), so 100,000 rows
cost the memory of a chunk. Times are ISO 8601 with their offset, in the page's zone. A cell
a spreadsheet would run as a formula (=, +, -, @ first: vendor names and reasons come from
Luminous and QBO) is written with a leading apostrophe (OWASP's advice on CSV injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime, tzinfo
from typing import Any

from reconciler.model import DocKind
from reconciler.redact import scrub
from reconciler.state.queries import DocumentQuery, StatusQueries
from reconciler.web.links import Links

HEADER = (
    "kind",
    "number",
    "luminous_id",
    "luminous_link",
    "vendor",
    "status",
    "drift",
    "error_code",
    "reason",
    "recorded_at",
    "last_request_at",
    "next_retry_at",
    "luminous_updated_at",
    "attempts",
    "qbo_id",
    "qbo_link",
    "request_id",
    "intuit_tid",
)
# The ledger columns read, in the order `_cells` takes them.
COLUMNS = (
    "kind",
    "number",
    "doc_id",
    "vendor",
    "status",
    "drift",
    "last_error_code",
    "last_error_message",
    "recorded_at",
    "request_sent_at",
    "next_retry_at",
    "source_updated_at",
    "attempts",
    "qbo_id",
    "request_id",
    "intuit_tid",
)
ROWS_PER_WRITE = 500  # rows joined into one piece of the stream
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_pieces(
    queries: StatusQueries, query: DocumentQuery, links: Links, zone: tzinfo
) -> Iterator[bytes]:
    """The CSV, UTF-8, in pieces of `ROWS_PER_WRITE` rows (the header first)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for count, row in enumerate(queries.stream(query, COLUMNS), 1):
        writer.writerow(_cells(row, links, zone))
        if count % ROWS_PER_WRITE == 0:
            yield _take(buffer)
    yield _take(buffer)


def _take(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode("utf-8")


def _cells(row: tuple[Any, ...], links: Links, zone: tzinfo) -> list[str]:
    r = dict(zip(COLUMNS, row, strict=True))
    kind, code, qbo_id = DocKind(r["kind"]), r["last_error_code"], r["qbo_id"]
    message = r["last_error_message"]
    reason = f"[{code}] {message}" if code and message else message or code or ""
    return [
        r["kind"],
        _safe(r["number"]),
        str(r["doc_id"]),
        links.luminous(kind, r["doc_id"]) or "",
        _safe(r["vendor"]),
        r["status"],
        r["drift"] or "",
        _safe(code),
        _safe(scrub(reason)),
        _time(r["recorded_at"], zone),
        _time(r["request_sent_at"], zone),
        _time(r["next_retry_at"], zone),
        _time(r["source_updated_at"], zone),
        str(r["attempts"] or 0),
        qbo_id or "",
        links.qbo(kind, qbo_id) if qbo_id else "",
        r["request_id"] or "",
        r["intuit_tid"] or "",
    ]


def _safe(text: str | None) -> str:
    if not text:
        return ""
    return "'" + text if text.startswith(FORMULA_START) else text


def _time(text: str | None, zone: tzinfo) -> str:
    if not text:
        return ""
    return datetime.fromisoformat(text).astimezone(zone).isoformat(timespec="seconds")


def csv_text(pieces: Iterable[bytes]) -> str:
    """The whole CSV as text (tests, small views)."""
    return b"".join(pieces).decode("utf-8")
