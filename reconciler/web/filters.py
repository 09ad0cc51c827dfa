"""What the status page's list shows: its filter from the query string, and the page of rows.

Pure: ledger rows in, the matching page out. Filtering happens on the server (a GET form), so
the page works without JavaScript and a filtered view is a link one can share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, urlencode

from reconciler.model import DocKind, Drift, LedgerEntry, SyncStatus

PAGE_SIZE = 50
MAX_TEXT = 200  # a search box, not a document


@dataclass(frozen=True)
class ListFilter:
    """The list's filter and page; anything unknown in the query string is ignored."""

    kind: DocKind | None = None
    status: SyncStatus | None = None
    vendor: str = ""
    text: str = ""
    page: int = 1
    drift: Drift | None = None  # what someone else did to it in QBO

    @classmethod
    def from_query(cls, query: str) -> ListFilter:
        values = {k: v[-1] for k, v in parse_qs(query, max_num_fields=20).items()}
        kind = values.get("kind", "")
        status = values.get("status", "")
        page = values.get("page", "1")
        drift = values.get("drift", "")
        return cls(
            kind=DocKind(kind) if kind in set(DocKind) else None,
            status=SyncStatus(status) if status in set(SyncStatus) else None,
            vendor=" ".join(values.get("vendor", "").split())[:MAX_TEXT],
            text=" ".join(values.get("q", "").split())[:MAX_TEXT],
            page=int(page) if _small_number(page) else 1,
            drift=Drift(drift) if drift in set(Drift) else None,
        )

    def query(self, **changes: object) -> str:
        """The query string of this filter, with `changes` applied (`page=2`)."""
        target = replace(self, **changes)  # type: ignore[arg-type]
        params = {
            "kind": str(target.kind) if target.kind else "",
            "status": str(target.status) if target.status else "",
            "vendor": target.vendor,
            "q": target.text,
            "page": str(target.page) if target.page > 1 else "",
            "drift": str(target.drift) if target.drift else "",
        }
        return urlencode({k: v for k, v in params.items() if v})


def reason(entry: LedgerEntry) -> str:
    """Why a document is where it is: QBO's or our error code and message."""
    if entry.last_error_code and entry.last_error_message:
        return f"[{entry.last_error_code}] {entry.last_error_message}"
    return entry.last_error_message or entry.last_error_code or ""


def matches(entry: LedgerEntry, wanted: ListFilter) -> bool:
    """Kind and status exactly, the vendor by name (case-insensitive), the text anywhere in
    the number, the reason, the Luminous id or the QBO id."""
    if wanted.kind is not None and entry.kind is not wanted.kind:
        return False
    if wanted.status is not None and entry.status is not wanted.status:
        return False
    if wanted.drift is not None and entry.drift is not wanted.drift:
        return False
    vendor = entry.vendor or ""
    if wanted.vendor and " ".join(vendor.split()).casefold() != wanted.vendor.casefold():
        return False
    if not wanted.text:
        return True
    needle = wanted.text.casefold()
    haystack = (entry.number or "", reason(entry), str(entry.doc_id), entry.qbo_id or "", vendor)
    return any(needle in field.casefold() for field in haystack)


@dataclass(frozen=True)
class Page:
    rows: tuple[LedgerEntry, ...]
    matching: int  # rows that match the filter, on every page
    number: int  # this page, 1-based, within 1..count
    count: int  # pages (at least 1)


def page_of(entries: Sequence[LedgerEntry], wanted: ListFilter, size: int = PAGE_SIZE) -> Page:
    """The matching rows of the filter's page (the last page when it asks past the end)."""
    found = [e for e in entries if matches(e, wanted)]
    count = max(1, -(-len(found) // size))
    number = min(wanted.page, count)
    start = (number - 1) * size
    return Page(tuple(found[start : start + size]), len(found), number, count)


def _small_number(text: str) -> bool:
    """1 to 999999 in ASCII digits (`int` takes other digits, and huge ones cost time)."""
    return text.isascii() and text.isdigit() and len(text) <= 6 and int(text) > 0
