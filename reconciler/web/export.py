"""A filtered view as CSV, streamed: the page's export and `reconciler status --csv`.

The columns of the page's list, and what a person matches with QBO and Luminous: both ids and
both links, the requestid of the last write and Intuit's `intuit_tid` of its answer. Rows are
written as the query yields them (`StatusQueries.stream`, a chunk at a time), so 100,000 rows
cost the memory of a chunk; SQLite builds the cells (reasons, links, UTC times) so that Python
only writes them. Times are ISO 8601 with their offset, in the page's zone. A cell a
spreadsheet would run as a formula (=, +, -, @ first: vendor names and reasons come from
Luminous and QBO) gets a leading apostrophe (OWASP's advice on CSV injection). Each piece goes
through `redact` as everything printed does.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, tzinfo
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
TIMES = (9, 10, 11, 12)  # the time cells, by position
ROWS_PER_PIECE = 500
FORMULA_START = "'=', '+', '-', '@', char(9), char(13)"


def _safe(sql: str) -> str:
    """SQL for a text cell a spreadsheet will not run as a formula."""
    return (
        f"case when substr({sql}, 1, 1) in ({FORMULA_START}) then '''' || {sql}"
        f" else coalesce({sql}, '') end"
    )


def _time(column: str, utc: bool) -> str:
    """SQL for a time cell: cut to the second in UTC (stored as `…+00:00`, `state.db.iso`);
    the text as stored when Python must move it to another zone."""
    if not utc:
        return f"l.{column}"
    return f"case when l.{column} is null then '' else substr(l.{column}, 1, 19) || '+00:00' end"


def columns(links: Links, utc: bool) -> tuple[list[str], list[Any]]:
    """The SELECT's cells in `HEADER` order, and their parameters (the links' parts)."""
    reason = (
        "case when l.last_error_code is not null and l.last_error_message is not null"
        " then '[' || l.last_error_code || '] ' || l.last_error_message"
        " else coalesce(l.last_error_message, l.last_error_code, '') end"
    )
    kinds = list(DocKind)
    qbo_case = " ".join(f"when '{k}' then ?" for k in kinds)
    lum_case = " ".join(f"when '{k}' then ?" for k in kinds)
    luminous = [_luminous_prefix(links, k) for k in kinds]
    cells = [
        "l.kind",
        _safe("l.number"),
        "l.doc_id",
        # (a kind Luminous shows on no page of its own has a NULL prefix: no link)
        "coalesce(case when ? then (case l.kind " + lum_case + " end) || l.doc_id || ? end, '')",
        _safe("l.vendor"),
        "l.status",
        "coalesce(l.drift, '')",
        _safe("l.last_error_code"),
        _safe(f"({reason})"),
        _time("recorded_at", utc),
        _time("request_sent_at", utc),
        _time("next_retry_at", utc),
        _time("source_updated_at", utc),
        "coalesce(l.attempts, 0)",
        "coalesce(l.qbo_id, '')",
        "case when l.qbo_id is null then '' else (case l.kind "
        + qbo_case
        + " end) || l.qbo_id end",
        "coalesce(l.request_id, '')",
        "coalesce(l.intuit_tid, '')",
    ]
    params = [
        bool(links.luminous_url),
        *luminous,
        _luminous_suffix(links),
        *(links.qbo(k, "") for k in kinds),
    ]
    return cells, params


def _luminous_prefix(links: Links, kind: DocKind) -> str | None:
    """The Luminous link before the id (the template's `{id}` comes last or not at all);
    None for a kind with no page of its own in Luminous."""
    url = links.luminous(kind, 0)
    return url[: url.rfind("0")] if url else None


def _luminous_suffix(links: Links) -> str:
    url = links.luminous(DocKind.PURCHASE_ORDER, 0) or ""
    return url[url.rfind("0") + 1 :] if url else ""


def _quoted(sql: str) -> str:
    """SQL for one CSV field, quoted as RFC 4180 says (every text field in quotes)."""
    return f"'\"' || replace({sql}, '\"', '\"\"') || '\"'"


TEXT_CELLS = (1, 3, 4, 7, 8, 14, 15, 16, 17)  # the cells that may hold a comma or a quote


def csv_pieces(
    queries: StatusQueries, query: DocumentQuery, links: Links, zone: tzinfo
) -> Iterator[bytes]:
    """The CSV, UTF-8, in pieces of `ROWS_PER_PIECE` rows (the header first). In UTC SQLite
    writes each line whole; in another zone Python moves the times and writes the cells."""
    cells, params = columns(links, zone is UTC)
    if zone is not UTC:
        yield from _written_by_python(queries, query, cells, params, zone)
        return
    line = " || ',' || ".join(
        _quoted(cell) if n in TEXT_CELLS else f"({cell})" for n, cell in enumerate(cells)
    )
    yield (",".join(HEADER) + "\r\n").encode()
    chunk: list[str] = []
    for (text,) in queries.stream(query, [line], params):
        chunk.append(text)
        if len(chunk) == ROWS_PER_PIECE:
            yield (scrub("\r\n".join(chunk) + "\r\n") or "").encode("utf-8")
            chunk = []
    if chunk:
        yield (scrub("\r\n".join(chunk) + "\r\n") or "").encode("utf-8")


def _written_by_python(
    queries: StatusQueries,
    query: DocumentQuery,
    cells: list[str],
    params: list[Any],
    zone: tzinfo,
) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    chunk: list[Any] = []
    for row in queries.stream(query, cells, params):
        chunk.append(_in_zone(row, zone))
        if len(chunk) == ROWS_PER_PIECE:
            writer.writerows(chunk)
            chunk = []
            yield _take(buffer)
    writer.writerows(chunk)
    yield _take(buffer)


def _in_zone(row: tuple[Any, ...], zone: tzinfo) -> list[Any]:
    cells = list(row)
    for n in TIMES:
        if cells[n]:
            moved = datetime.fromisoformat(cells[n]).astimezone(zone)
            cells[n] = moved.isoformat(timespec="seconds")
        else:
            cells[n] = ""
    return cells


def _take(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return (scrub(text) or "").encode("utf-8")


def csv_text(pieces: Iterable[bytes]) -> str:
    """The whole CSV as text (tests, small views)."""
    return b"".join(pieces).decode("utf-8")
