"""What the status page's list shows: its filter, order and page, from the query string.

Pure: a query string in, a `ListFilter` out, and back (`query()`): every view is a URL one can
share, and filtering happens on the server (a GET form), so the page works without
JavaScript. The filter becomes a `state.queries.DocumentQuery` (`to_query`): the one query
the page, its CSV export and `reconciler status` run. Anything unknown in the query string is
ignored; dates are calendar days in the zone the page shows times in.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date, datetime, time, timedelta, tzinfo
from urllib.parse import parse_qs, urlencode

from reconciler.model import DocKind, Drift, LedgerEntry, SyncStatus
from reconciler.state.queries import DATES, SORTS, DocumentQuery

PAGE_SIZE = 50
PAGE_SIZES = (25, 50, 100, 200)
MAX_TEXT = 200  # a search box, not a document
MAX_PAGE = 999_999
IN_QBO = {"yes": True, "no": False}
# The way a column sorts when first asked: words A to Z, dates newest first.
FIRST_WAY = {"number": "asc", "vendor": "asc", "status": "asc", "code": "asc", "kind": "asc"}


@dataclass(frozen=True)
class ListFilter:
    """The list's filter, order and page; the defaults filter nothing."""

    kind: DocKind | None = None
    status: SyncStatus | None = None
    vendor: str = ""
    text: str = ""
    page: int = 1
    drift: Drift | None = None  # what someone else did to it in QBO
    code: str = ""  # the error code, exactly
    in_qbo: str = ""  # "yes", "no" or "" (either)
    by: str = "recorded"  # the date the range bounds: recorded, or updated in Luminous
    since: date | None = None
    until: date | None = None  # inclusive: the whole day
    sort: str = ""  # "" is newest recorded first
    way: str = ""  # "asc" / "desc"; "" is the column's first way
    size: int = PAGE_SIZE

    @classmethod
    def from_query(cls, query: str) -> ListFilter:
        values = {k: v[-1] for k, v in parse_qs(query, max_num_fields=30).items()}
        kind, status, drift = (
            values.get("kind", ""),
            values.get("status", ""),
            values.get("drift", ""),
        )
        size = _number(values.get("size", ""))
        sort = values.get("sort", "")
        return cls(
            kind=DocKind(kind) if kind in set(DocKind) else None,
            status=SyncStatus(status) if status in set(SyncStatus) else None,
            vendor=_text(values.get("vendor", "")),
            text=_text(values.get("q", "")),
            page=_number(values.get("page", "")) or 1,
            drift=Drift(drift) if drift in set(Drift) else None,
            code=_text(values.get("code", ""))[:60],
            in_qbo=values.get("in_qbo", "") if values.get("in_qbo") in IN_QBO else "",
            by=values.get("by", "") if values.get("by") in DATES else "recorded",
            since=_day(values.get("from", "")),
            until=_day(values.get("until", "")),
            sort=sort if sort in SORTS else "",
            way=values.get("dir", "") if values.get("dir") in ("asc", "desc") else "",
            size=size if size in PAGE_SIZES else PAGE_SIZE,
        )

    def query(self, **changes: object) -> str:
        """The query string of this filter, with `changes` applied (`page=2`); defaults left
        out, so one view has one URL."""
        target = replace(self, **changes)  # type: ignore[arg-type]
        params = {
            "kind": str(target.kind or ""),
            "status": str(target.status or ""),
            "vendor": target.vendor,
            "q": target.text,
            "code": target.code,
            "drift": str(target.drift or ""),
            "in_qbo": target.in_qbo,
            "by": target.by if target.by != "recorded" and (target.since or target.until) else "",
            "from": target.since.isoformat() if target.since else "",
            "until": target.until.isoformat() if target.until else "",
            "sort": target.sort,
            "dir": target.way,
            "size": str(target.size) if target.size != PAGE_SIZE else "",
            "page": str(target.page) if target.page > 1 else "",
        }
        return urlencode({k: v for k, v in params.items() if v})

    def without_page(self) -> ListFilter:
        """The same documents from the first page (what a filter form or an export keeps)."""
        return replace(self, page=1)

    def is_empty(self) -> bool:
        """No filter at all (order, page and size aside)."""
        kept = ("page", "sort", "way", "size", "by")
        return all(getattr(self, f.name) == f.default for f in fields(self) if f.name not in kept)

    @property
    def descending(self) -> bool:
        if not self.sort:
            return self.way != "asc"
        return (self.way or FIRST_WAY.get(self.sort, "desc")) == "desc"

    def sorted_by(self, column: str) -> ListFilter:
        """The filter sorted by `column`: its first way, or the other way if already so."""
        if (self.sort or "recorded") == column:
            return replace(self, sort=column, way="asc" if self.descending else "desc", page=1)
        return replace(self, sort=column, way=FIRST_WAY.get(column, "desc"), page=1)

    def to_query(self, zone: tzinfo) -> DocumentQuery:
        """The query the state file answers; the days start and end in `zone`."""
        return DocumentQuery(
            kind=self.kind,
            statuses=(self.status,) if self.status else (),
            vendor=self.vendor,
            text=self.text,
            code=self.code,
            drift=self.drift,
            in_qbo=IN_QBO.get(self.in_qbo),
            date_by=self.by,
            since=_start_of(self.since, zone),
            until=_start_of(self.until + timedelta(days=1), zone) if self.until else None,
            sort=self.sort or "recorded",
            descending=self.descending,
            page=self.page,
            size=self.size,
        )


def reason(entry: LedgerEntry) -> str:
    """Why a document is where it is: QBO's or our error code and message."""
    if entry.last_error_code and entry.last_error_message:
        return f"[{entry.last_error_code}] {entry.last_error_message}"
    return entry.last_error_message or entry.last_error_code or ""


def _text(value: str) -> str:
    return " ".join(value.split())[:MAX_TEXT]


def _number(text: str) -> int | None:
    """1 to 999999 in ASCII digits (`int` takes other digits, and huge ones cost time)."""
    if text.isascii() and text.isdigit() and len(text) <= 6 and int(text) > 0:
        return int(text)
    return None


def _day(text: str) -> date | None:
    """A calendar day as YYYY-MM-DD (what a date input sends) from 1900 to 9998 (the day
    after is an instant too), else None."""
    if len(text) != 10 or not text.isascii():
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if 1900 <= day.year < 9999 else None


def _start_of(day: date | None, zone: tzinfo) -> datetime | None:
    return datetime.combine(day, time(0), tzinfo=zone) if day else None
