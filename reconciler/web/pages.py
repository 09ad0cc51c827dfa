"""The status page's HTML: pure functions from ledger rows to strings.

Self-contained for a machine with no network: inline CSS (allowed by its hash in the
Content-Security-Policy), no script, no font or image. Every value is escaped here, once, as it
is written out: numbers, vendor names and reasons come from Luminous and QBO. Readable on a
phone (viewport, wrapping filters, tables that scroll within their own box), and usable with a
keyboard and a screen reader (a label on every input, captions and scoped headers, status
words, not only colours; `PALETTE` holds contrast of at least 4.5:1, a test checks it).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

from reconciler.documents.drift import WORDS as DRIFT_WORDS
from reconciler.model import DocKind, Drift, LedgerEntry, SyncStatus
from reconciler.web.filters import ListFilter, Page, reason

if TYPE_CHECKING:
    from reconciler.state import DriftDetail, HistoryRow

QBO_APP = {
    "production": "https://app.qbo.intuit.com",
    "sandbox": "https://app.sandbox.qbo.intuit.com",
}
REASON_IN_LIST = 300  # characters
STATUS_ORDER = (
    SyncStatus.FAILED,
    SyncStatus.RETRYING,
    SyncStatus.PENDING,
    SyncStatus.SKIPPED,
    SyncStatus.SYNCED,
)
# (text, background) per use; every pair has a contrast ratio of at least 4.5:1.
PALETTE = {
    "body": ("#111827", "#ffffff"),
    "muted": ("#4b5563", "#ffffff"),
    "link": ("#1d4ed8", "#ffffff"),
    "button": ("#ffffff", "#1d4ed8"),
    "head": ("#111827", "#f3f4f6"),
    "synced": ("#14532d", "#dcfce7"),
    "pending": ("#1e3a8a", "#dbeafe"),
    "retrying": ("#7c2d12", "#ffedd5"),
    "failed": ("#7f1d1d", "#fee2e2"),
    "skipped": ("#374151", "#f3f4f6"),
    "notice": ("#1e3a8a", "#eff6ff"),
    "drift": ("#713f12", "#fef9c3"),
}


def _css() -> str:
    fg, bg = PALETTE["body"]
    badges = "".join(
        f".s-{s}{{color:{PALETTE[str(s)][0]};background:{PALETTE[str(s)][1]}}}" for s in SyncStatus
    )
    return (
        "*{box-sizing:border-box}"
        f"body{{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
        f"color:{fg};background:{bg}}}"
        "header,main{max-width:80rem;margin:0 auto;padding:0 1rem}"
        "header{display:flex;flex-wrap:wrap;gap:0 1rem;align-items:baseline;"
        "border-bottom:1px solid #d1d5db}"
        f"header p{{margin:.5rem 0;color:{PALETTE['muted'][0]}}}"
        "header .brand{font-weight:700}"
        f"a{{color:{PALETTE['link'][0]}}}"
        "a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,"
        ".scroll:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}"
        "h1{font-size:1.5rem;margin:1rem 0 .5rem}h2{font-size:1.2rem;margin:1.5rem 0 .5rem}"
        ".scroll{overflow-x:auto;max-width:100%;position:relative}"
        "time,th[scope=row] a{white-space:nowrap}"
        "table{border-collapse:collapse;width:100%;font-size:.95rem}"
        "th,td{text-align:left;vertical-align:top;padding:.4rem .6rem;"
        "border-bottom:1px solid #d1d5db}"
        f"thead th{{background:{PALETTE['head'][1]};color:{PALETTE['head'][0]}}}"
        "td.num{text-align:right;font-variant-numeric:tabular-nums}"
        "td.reason{min-width:14rem;overflow-wrap:anywhere}"
        "caption{text-align:left;font-weight:600;padding:.25rem 0}"
        ".badge{display:inline-block;padding:0 .45rem;border-radius:.6rem;font-weight:600}"
        f"{badges}"
        f".drift{{color:{PALETTE['drift'][0]};background:{PALETTE['drift'][1]}}}"
        f".kind,.meta{{color:{PALETTE['muted'][0]}}}"
        ".kind{font-size:.8rem;margin-right:.3rem;text-transform:uppercase}"
        ".filters{display:flex;flex-wrap:wrap;gap:.75rem;align-items:flex-end;margin:.5rem 0}"
        ".filters div{display:flex;flex-direction:column}"
        "label{font-weight:600;font-size:.9rem}"
        "input,select,button{font:inherit;padding:.35rem .5rem;border:1px solid #6b7280;"
        "border-radius:.3rem;min-height:2.5rem;max-width:100%}"
        f"button{{background:{PALETTE['button'][1]};color:{PALETTE['button'][0]};"
        "border-color:#1d4ed8;cursor:pointer}"
        ".actions{flex-direction:row!important;gap:.75rem;align-items:center}"
        "nav.pages{display:flex;gap:1rem;margin:1rem 0}"
        "dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}"
        "dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}"
        f".notice{{color:{PALETTE['notice'][0]};background:{PALETTE['notice'][1]};"
        "padding:.75rem 1rem;border-left:4px solid #1d4ed8}"
        ".sr-only{position:absolute;width:1px;height:1px;overflow:hidden;"
        "clip:rect(0 0 0 0);white-space:nowrap}"
        ".skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:.5rem}"
        "@media (max-width:40rem){dl{grid-template-columns:1fr}dd{margin-bottom:.5rem}"
        "h1{font-size:1.3rem}"
        # a list row becomes a card on a phone, each cell named by its column
        ".cards thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}"
        ".cards tr{display:block;border-bottom:1px solid #d1d5db;padding:.5rem 0}"
        ".cards th,.cards td{display:block;border:0;padding:.1rem 0}"
        '.cards td::before{content:attr(data-label) ": ";font-weight:600}}'
    )


CSS = _css()
CSS_HASH = "sha256-" + base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src '{CSS_HASH}'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


# --- pieces ---------------------------------------------------------------------------------


def e(value: object) -> str:
    """Escaped for text and for quoted attributes."""
    return escape("" if value is None else str(value), quote=True)


def when(value: datetime | None) -> str:
    if value is None:
        return '<span class="meta">–</span>'
    return (
        f'<time datetime="{e(value.isoformat())}">{e(value.strftime("%Y-%m-%d %H:%M"))} UTC</time>'
    )


def short(text: str, limit: int = REASON_IN_LIST) -> str:
    """A reason cut for the list (a QBO message can be a page long); the document's own
    page shows it whole."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def badge(status: SyncStatus | str) -> str:
    return f'<span class="badge s-{e(status)}">{e(status)}</span>'


def drift_tag(entry: LedgerEntry) -> str:
    """What someone else did to it in QBO, next to its status."""
    if entry.drift is None:
        return ""
    return f' <span class="badge drift">{e(DRIFT_WORDS[entry.drift])}</span>'


def doc_path(kind: DocKind, doc_id: int) -> str:
    return f"/status/doc/{quote(str(kind))}/{int(doc_id)}"


def kind_tag(kind: DocKind) -> str:
    """ "PO", "Bill": the kind as a word at the start of a line."""
    return kind.label[:1].upper() + kind.label[1:]


def doc_name(entry: LedgerEntry) -> str:
    """How a person names it: its number, else its Luminous id."""
    return entry.number or f"#{entry.doc_id}"


def qbo_url(environment: str, kind: DocKind, qbo_id: str) -> str:
    """The document in QBO's web app; the sandbox app for a sandbox company."""
    app = QBO_APP["sandbox" if environment == "sandbox" else "production"]
    return f"{app}/app/{kind.qbo_page}?txnId={quote(qbo_id, safe='')}"


def qbo_link(environment: str, entry: LedgerEntry) -> str:
    if not entry.qbo_id:
        return '<span class="meta">–</span>'
    return (
        f'<a href="{e(qbo_url(environment, entry.kind, entry.qbo_id))}" rel="noreferrer">'
        f"{e(entry.qbo_id)}"
        f'<span class="sr-only">: open {e(doc_name(entry))} in QuickBooks</span></a>'
    )


def layout(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="same-origin">\n'
        f"<title>{e(title)} · reconciler</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        '<a class="skip" href="#main">Skip to content</a>\n'
        '<header><p class="brand"><a href="/status">reconciler</a></p>'
        "<p>Luminous to QuickBooks Online: sync status</p></header>\n"
        f'<main id="main">\n{body}\n</main>\n</body>\n</html>\n'
    )


def _options(name_value: Iterable[tuple[str, str]], chosen: str) -> str:
    return "".join(
        f'<option value="{e(value)}"{" selected" if value == chosen else ""}>{e(name)}</option>'
        for name, value in name_value
    )


def _table(
    caption: str, headers: Sequence[str], rows: Iterable[str], label_id: str, cards: bool = False
) -> str:
    """A captioned table in a box that scrolls on its own (or, `cards`, stacks on a phone)."""
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in headers)
    css_class = ' class="cards"' if cards else ""
    return (
        f'<div class="scroll" role="region" aria-labelledby="{label_id}" tabindex="0">'
        f'<table{css_class}><caption id="{label_id}">{caption}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


# --- the overview ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ListRow:
    entry: LedgerEntry
    last_attempt: datetime | None


@dataclass(frozen=True)
class Overview:
    counts: Mapping[DocKind, Mapping[str, int]]
    wanted: ListFilter
    vendors: Sequence[str]
    page: Page
    rows: Sequence[ListRow]
    environment: str
    drift_counts: Mapping[Drift, int] | None = None


def overview_html(view: Overview) -> str:
    body = (
        "<h1>Sync status</h1>\n"
        + counts_html(view.counts)
        + drift_counts_html(view.drift_counts)
        + '\n<h2 id="list-h">Documents</h2>\n'
        + filter_form(view.wanted, view.vendors)
        + documents_html(view)
    )
    return layout("Sync status", body)


def counts_html(counts: Mapping[DocKind, Mapping[str, int]]) -> str:
    headers = ["Kind", *(str(s) for s in STATUS_ORDER), "total"]
    rows = []
    for kind in DocKind:
        by_status = counts.get(kind, {})
        cells = "".join(
            f'<td class="num"><a href="/status?{e(ListFilter(kind=kind, status=s).query())}">'
            f'{by_status.get(str(s), 0)}<span class="sr-only"> {e(s)}</span></a></td>'
            for s in STATUS_ORDER
        )
        total = sum(by_status.values())
        rows.append(
            f'<tr><th scope="row">{e(kind.plural)}</th>{cells}'
            f'<td class="num"><a href="/status?{e(ListFilter(kind=kind).query())}">{total}</a>'
            "</td></tr>"
        )
    return _table("Documents by status", headers, rows, "counts-h")


def drift_counts_html(counts: Mapping[Drift, int] | None) -> str:
    """How many documents someone else changed in QBO, each a link to the filtered list."""
    if not counts:
        return ""
    links = [
        f'<a href="/status?{e(ListFilter(drift=d).query())}">{counts[d]} {e(DRIFT_WORDS[d])}</a>'
        for d in Drift
        if counts.get(d)
    ]
    return f'\n<p class="notice">Found by the drift checks: {" · ".join(links)}</p>'


def filter_form(wanted: ListFilter, vendors: Sequence[str]) -> str:
    kinds = [("Any kind", ""), *((k.plural, str(k)) for k in DocKind)]
    statuses = [("Any status", ""), *((str(s), str(s)) for s in STATUS_ORDER)]
    vendor_options = [("Any vendor", ""), *((v, v) for v in vendors)]
    drifts = [("Anything", ""), *((DRIFT_WORDS[d], str(d)) for d in Drift)]
    return (
        '<form method="get" action="/status" class="filters" role="search" '
        'aria-label="Filter documents">'
        f'<div><label for="f-kind">Kind</label><select id="f-kind" name="kind">'
        f"{_options(kinds, str(wanted.kind or ''))}</select></div>"
        f'<div><label for="f-status">Status</label><select id="f-status" name="status">'
        f"{_options(statuses, str(wanted.status or ''))}</select></div>"
        f'<div><label for="f-vendor">Vendor</label><select id="f-vendor" name="vendor">'
        f"{_options(vendor_options, wanted.vendor)}</select></div>"
        f'<div><label for="f-drift">In QuickBooks</label><select id="f-drift" name="drift">'
        f"{_options(drifts, str(wanted.drift or ''))}</select></div>"
        '<div><label for="f-q">Number or reason</label>'
        f'<input id="f-q" name="q" type="search" value="{e(wanted.text)}" maxlength="200"></div>'
        '<div class="actions"><button type="submit">Filter</button>'
        '<a href="/status">Clear filters</a></div></form>\n'
    )


def documents_html(view: Overview) -> str:
    page = view.page
    summary = (
        f'<p class="meta" id="list-summary">{page.matching} '
        f"{'document' if page.matching == 1 else 'documents'} match · page {page.number} "
        f"of {page.count}</p>"
    )
    if not view.rows:
        return summary + '<p class="notice">No document matches these filters.</p>'
    headers = ("Document", "Vendor", "Status", "Reason", "Last attempt", "Next retry", "QBO")
    rows = [_list_row(row, view.environment) for row in view.rows]
    table = _table("Documents", headers, rows, "docs-h", cards=True)
    return summary + table + pager(view.wanted, page)


def _list_row(row: ListRow, environment: str) -> str:
    entry = row.entry
    return (
        f'<tr><th scope="row"><span class="kind">{e(kind_tag(entry.kind))}</span>'
        f'<a href="{doc_path(entry.kind, entry.doc_id)}">{e(doc_name(entry))}</a></th>'
        f'<td data-label="Vendor">{e(entry.vendor or "–")}</td>'
        f'<td data-label="Status">{badge(entry.status)}{drift_tag(entry)}</td>'
        f'<td class="reason" data-label="Reason">{e(short(reason(entry)) or "–")}</td>'
        f'<td data-label="Last attempt">{when(row.last_attempt)}</td>'
        f'<td data-label="Next retry">{when(entry.next_retry_at)}</td>'
        f'<td data-label="QBO">{qbo_link(environment, entry)}</td></tr>'
    )


def pager(wanted: ListFilter, page: Page) -> str:
    if page.count == 1:
        return ""
    parts = []
    if page.number > 1:
        parts.append(
            f'<a rel="prev" href="/status?{e(wanted.query(page=page.number - 1))}">Previous</a>'
        )
    parts.append(f'<span aria-current="page">Page {page.number} of {page.count}</span>')
    if page.number < page.count:
        parts.append(
            f'<a rel="next" href="/status?{e(wanted.query(page=page.number + 1))}">Next</a>'
        )
    return f'<nav class="pages" aria-label="Pages">{"".join(parts)}</nav>'


# --- one document ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentView:
    entry: LedgerEntry
    history: Sequence[HistoryRow]
    environment: str
    csrf: str | None  # the retry form's token; None when retry is off
    drift: DriftDetail | None = None  # what someone else changed in QBO, field by field


def document_html(view: DocumentView) -> str:
    entry = view.entry
    title = f"{kind_tag(entry.kind)} {doc_name(entry)}"
    body = (
        '<nav aria-label="Breadcrumb"><a href="/status">All documents</a></nav>\n'
        f"<h1>{e(title)}</h1>\n"
        + facts_html(entry, view.environment)
        + drift_html(view.drift)
        + retry_html(entry, view.csrf)
        + history_html(view.history)
    )
    return layout(title, body)


def facts_html(entry: LedgerEntry, environment: str) -> str:
    facts = [
        ("Status", badge(entry.status)),
        ("Vendor", e(entry.vendor or "–")),
        ("Luminous id", e(entry.doc_id)),
        ("QuickBooks", qbo_link(environment, entry)),
        ("Reason", e(reason(entry) or "–")),
        ("Attempts", e(entry.attempts)),
        ("Last request", when(entry.request_sent_at)),
        ("Next retry", when(entry.next_retry_at)),
        ("Edited in Luminous", when(entry.source_updated_at)),
        ("In QuickBooks", e(entry.lifecycle or "–") + drift_tag(entry)),
    ]
    if entry.force_retry:
        facts.append(("Retry", "requested for the next pass"))
    items = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    return f"<dl>{items}</dl>\n"


def drift_html(drift: DriftDetail | None) -> str:
    """The fields someone else changed in QBO: what the sync last wrote, what QBO holds."""
    if drift is None:
        return ""
    found = f" (found {when(drift.found_at)})" if drift.found_at else ""
    text = f"<p>{e(DRIFT_WORDS[drift.change])}{found}{': ' + e(drift.note) if drift.note else ''}"
    head = f'<h2 id="drift-h">Changed in QuickBooks</h2>\n{text}</p>\n'
    if not drift.diffs:
        return head
    rows = [
        f'<tr><th scope="row">{e(d.field)}</th><td data-label="Written by the sync">'
        f'{e(d.ours) or "–"}</td><td data-label="In QuickBooks now">{e(d.theirs) or "–"}</td></tr>'
        for d in drift.diffs
    ]
    headers = ("Field", "Written by the sync", "In QuickBooks now")
    return head + _table("Fields that differ", headers, rows, "drift-t", cards=True) + "\n"


def retry_html(entry: LedgerEntry, csrf: str | None) -> str:
    if csrf is None:
        return ""
    return (
        '<h2 id="retry-h">Retry</h2>\n'
        '<form method="post" action="/status/retry" class="filters" aria-labelledby="retry-h">'
        f'<input type="hidden" name="kind" value="{e(entry.kind)}">'
        f'<input type="hidden" name="doc_id" value="{e(entry.doc_id)}">'
        f'<input type="hidden" name="csrf" value="{e(csrf)}">'
        '<div><label for="r-token">Retry token</label>'
        '<input id="r-token" name="retry_token" type="password" required autocomplete="off">'
        '</div><div class="actions"><button type="submit">Retry on the next pass</button></div>'
        "</form>\n"
    )


def history_html(history: Sequence[HistoryRow]) -> str:
    if not history:
        return '<h2 id="hist-h">History</h2>\n<p class="notice">No history recorded.</p>'
    headers = ("When", "Action", "Status", "QBO id", "Code", "Message")
    rows = [
        f'<tr><td data-label="When">{when(h.at)}</td><td data-label="Action">{e(h.action)}</td>'
        f'<td data-label="Status">{badge(h.status)}</td>'
        f'<td data-label="QBO id">{e(h.qbo_id or "–")}</td>'
        f'<td data-label="Code">{e(h.error_code or "–")}</td>'
        f'<td class="reason" data-label="Message">{e(h.message or "–")}</td></tr>'
        for h in reversed(history)
    ]
    table = _table("History, newest first", headers, rows, "history-h", cards=True)
    return '<h2 id="hist-h">History</h2>\n' + table


def retry_done_html(entry: LedgerEntry) -> str:
    name = f"{kind_tag(entry.kind)} {doc_name(entry)}"
    body = (
        "<h1>Retry requested</h1>\n"
        f'<p class="notice" role="status">{e(name)} will be taken again on the next pass.</p>\n'
        f'<p><a href="{doc_path(entry.kind, entry.doc_id)}">Back to {e(name)}</a> · '
        '<a href="/status">All documents</a></p>'
    )
    return layout("Retry requested", body)


def message_html(title: str, text: str) -> str:
    """An error or refusal, in words a person can act on; never an exception's text."""
    body = (
        f'<h1>{e(title)}</h1>\n<p class="notice" role="alert">{e(text)}</p>\n'
        '<p><a href="/status">All documents</a></p>'
    )
    return layout(title, body)
