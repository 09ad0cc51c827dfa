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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

from reconciler.documents.drift import WORDS as DRIFT_WORDS
from reconciler.documents.sent import SentSummary
from reconciler.model import DocKind, LedgerEntry, SyncStatus
from reconciler.web.filters import reason
from reconciler.web.links import Links

if TYPE_CHECKING:
    from reconciler.state import DriftDetail, HistoryRow
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


# The list's pager, sort links and the daemon's header.
LIST_CSS = (
    "nav.pages{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;margin:1rem 0}"
    "nav.pages form{display:flex;gap:.5rem;align-items:center}"
    "nav.pages input{width:6rem}"
    "th a{color:inherit}th[aria-sort] a{font-weight:700}"
    "code{overflow-wrap:anywhere}th code{white-space:nowrap}"
    ".health{display:grid;grid-template-columns:repeat(auto-fit,minmax(15rem,1fr));"
    "gap:.25rem 1.5rem;margin:.75rem 0;padding:.75rem 1rem;border:1px solid #d1d5db;"
    "border-radius:.4rem}"
    ".health p{margin:.15rem 0}"
    ".health h2{grid-column:1/-1;margin:0;font-size:1.1rem}"
)


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
        f"{LIST_CSS}"
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


def when(value: datetime | None, zone: tzinfo = UTC) -> str:
    """An instant in the page's zone, its UTC time on hover (and in `datetime`)."""
    if value is None:
        return '<span class="meta">–</span>'
    utc, shown = value.astimezone(UTC), value.astimezone(zone)
    return (
        f'<time datetime="{e(utc.isoformat())}" title="{e(utc.strftime("%Y-%m-%d %H:%M"))} UTC">'
        f"{e(shown.strftime('%Y-%m-%d %H:%M'))} {e(shown.strftime('%Z') or 'UTC')}</time>"
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


def qbo_link(links: Links, entry: LedgerEntry) -> str:
    """The QBO id, a link to the document in this company's QBO."""
    if not entry.qbo_id:
        return '<span class="meta">–</span>'
    return (
        f'<a href="{e(links.qbo(entry.kind, entry.qbo_id))}" rel="noreferrer">'
        f"{e(entry.qbo_id)}"
        f'<span class="sr-only">: open {e(doc_name(entry))} in QuickBooks</span></a>'
    )


def luminous_link(links: Links, entry: LedgerEntry) -> str:
    """The Luminous id, a link to the source document when the page knows Luminous's app."""
    url = links.luminous(entry.kind, entry.doc_id)
    if url is None:
        return e(entry.doc_id)
    return (
        f'<a href="{e(url)}" rel="noreferrer">{e(entry.doc_id)}'
        f'<span class="sr-only">: open {e(doc_name(entry))} in Luminous</span></a>'
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


def options(name_value: Iterable[tuple[str, str]], chosen: str) -> str:
    return "".join(
        f'<option value="{e(value)}"{" selected" if value == chosen else ""}>{e(name)}</option>'
        for name, value in name_value
    )


def table(
    caption: str,
    headers: Sequence[str],
    rows: Iterable[str],
    label_id: str,
    cards: bool = False,
    head: str | None = None,
) -> str:
    """A captioned table in a box that scrolls on its own (or, `cards`, stacks on a phone);
    `head`: header cells already written (sort links), instead of `headers`."""
    head = head or "".join(f'<th scope="col">{e(h)}</th>' for h in headers)
    css_class = ' class="cards"' if cards else ""
    return (
        f'<div class="scroll" role="region" aria-labelledby="{label_id}" tabindex="0">'
        f'<table{css_class}><caption id="{label_id}">{caption}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


# --- one document ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentView:
    entry: LedgerEntry
    history: Sequence[HistoryRow]
    links: Links
    csrf: str | None  # the retry form's token; None when retry is off
    drift: DriftDetail | None = None  # what someone else changed in QBO, field by field
    zone: tzinfo = UTC
    sent: SentSummary | None = None  # what its last write sent
    line_ids: Sequence[tuple[str, str]] = ()  # (our line key, QBO's line Id) from QBO's answer
    linked_pos: Sequence[tuple[LedgerEntry, str]] = field(default=())  # (PO, how it is linked)
    recorded_at: datetime | None = None
    intuit_tid: str | None = None


def document_html(view: DocumentView) -> str:
    entry = view.entry
    title = f"{kind_tag(entry.kind)} {doc_name(entry)}"
    body = (
        '<nav aria-label="Breadcrumb"><a href="/status">All documents</a></nav>\n'
        f"<h1>{e(title)}</h1>\n"
        + facts_html(view)
        + linked_html(view.linked_pos)
        + drift_html(view.drift, view.zone)
        + sent_html(view.sent, view.line_ids)
        + retry_html(entry, view.csrf)
        + history_html(view.history, view.zone)
    )
    return layout(title, body)


def facts_html(view: DocumentView) -> str:
    entry, zone = view.entry, view.zone
    sent = view.sent
    amount = f"{sent.amount} {sent.currency or ''}".strip() if sent and sent.amount else "–"
    facts = [
        ("Status", badge(entry.status)),
        ("Vendor", e(entry.vendor or "–")),
        ("Amount", e(amount)),
        ("Date", e(sent.txn_date if sent and sent.txn_date else "–")),
        ("Luminous id", luminous_link(view.links, entry)),
        ("QuickBooks id", qbo_link(view.links, entry) + _token(entry)),
        ("Reason", e(reason(entry) or "–")),
        ("Attempts", e(entry.attempts)),
        ("Recorded", when(view.recorded_at, zone)),
        ("Last request", when(entry.request_sent_at, zone)),
        ("Requestid", f"<code>{e(entry.request_id)}</code>" if entry.request_id else "–"),
        ("intuit_tid", f"<code>{e(view.intuit_tid)}</code>" if view.intuit_tid else "–"),
        ("Next retry", when(entry.next_retry_at, zone)),
        ("Edited in Luminous", when(entry.source_updated_at, zone)),
        ("In QuickBooks", e(entry.lifecycle or "–") + drift_tag(entry)),
    ]
    if entry.force_retry:
        facts.append(("Retry", "requested for the next pass"))
    items = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    return f"<dl>{items}</dl>\n"


def _token(entry: LedgerEntry) -> str:
    if not entry.sync_token:
        return ""
    return f' <span class="meta">(SyncToken {e(entry.sync_token)})</span>'


def linked_html(linked: Sequence[tuple[LedgerEntry, str]]) -> str:
    """A bill's POs, each a link to its own page."""
    if not linked:
        return ""
    items = "".join(
        f'<li><a href="{doc_path(po.kind, po.doc_id)}">{e(kind_tag(po.kind))} {e(doc_name(po))}'
        f'</a> <span class="meta">({e(how)})</span></li>'
        for po, how in linked
    )
    return f'<h2 id="po-h">Its purchase orders</h2>\n<ul aria-labelledby="po-h">{items}</ul>\n'


def sent_html(sent: SentSummary | None, line_ids: Sequence[tuple[str, str]]) -> str:
    """The lines its last write sent, and the line Ids QBO's answer gave."""
    if sent is None:
        return '<h2 id="sent-h">Lines as sent</h2>\n<p class="meta">No write sent yet.</p>\n'
    headers = ("#", "Item or account", "Description", "Qty", "Unit price", "Amount", "Linked to")
    rows = [
        f'<tr><td data-label="#">{e(line.number)}</td>'
        f'<td data-label="Item or account">{e(line.what or "–")}</td>'
        f'<td class="reason" data-label="Description">{e(line.description or "–")}</td>'
        f'<td class="num" data-label="Qty">{e(line.qty if line.qty is not None else "–")}</td>'
        f'<td class="num" data-label="Unit price">'
        f"{e(line.unit_price if line.unit_price is not None else '–')}</td>"
        f'<td class="num" data-label="Amount">{e(line.amount if line.amount is not None else "–")}'
        f'</td><td data-label="Linked to">{e(", ".join(line.linked) or "–")}</td></tr>'
        for line in sent.lines
    ]
    ids = ", ".join(f"{key}: {qbo}" for key, qbo in line_ids)
    answer = f'<p class="meta">QuickBooks line Ids: {e(ids)}</p>\n' if ids else ""
    caption = "Lines as sent" if not sent.txn_date else f"Lines as sent, dated {e(sent.txn_date)}"
    return (
        '<h2 id="sent-h">Lines as sent</h2>\n'
        + table(caption, headers, rows, "sent-t", cards=True)
        + "\n"
        + answer
    )


def drift_html(drift: DriftDetail | None, zone: tzinfo = UTC) -> str:
    """The fields someone else changed in QBO: what the sync last wrote, what QBO holds."""
    if drift is None:
        return ""
    found = f" (found {when(drift.found_at, zone)})" if drift.found_at else ""
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
    return head + table("Fields that differ", headers, rows, "drift-t", cards=True) + "\n"


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


def history_html(history: Sequence[HistoryRow], zone: tzinfo = UTC) -> str:
    if not history:
        return '<h2 id="hist-h">History</h2>\n<p class="notice">No history recorded.</p>'
    headers = ("When", "Action", "Status", "QBO id", "Code", "Message", "Requestid / intuit_tid")
    rows = [
        f'<tr><td data-label="When">{when(h.at, zone)}</td>'
        f'<td data-label="Action">{e(h.action)}</td>'
        f'<td data-label="Status">{badge(h.status)}</td>'
        f'<td data-label="QBO id">{e(h.qbo_id or "–")}</td>'
        f'<td data-label="Code">{e(h.error_code or "–")}</td>'
        f'<td class="reason" data-label="Message">{e(h.message or "–")}</td>'
        f'<td class="reason" data-label="Requestid / intuit_tid">'
        f"{e(' / '.join(x for x in (h.request_id, h.intuit_tid) if x) or '–')}</td></tr>"
        for h in reversed(history)
    ]
    found = table("History, newest first", headers, rows, "history-h", cards=True)
    return '<h2 id="hist-h">History</h2>\n' + found


def retry_done_html(entry: LedgerEntry) -> str:
    name = f"{kind_tag(entry.kind)} {doc_name(entry)}"
    body = (
        "<h1>Retry requested</h1>\n"
        f'<p class="notice" role="status">{e(name)} will be taken again on the next pass.</p>\n'
        f'<p><a href="{doc_path(entry.kind, entry.doc_id)}">Back to {e(name)}</a> · '
        '<a href="/status">All documents</a></p>'
    )
    return layout("Retry requested", body)


def message_html(title: str, text: str, back: tuple[str, str] | None = None) -> str:
    """An error or refusal, in words a person can act on; never an exception's text. `back`:
    (path, words) of the page to go back to, besides the list."""
    again = f'<a href="{e(back[0])}">{e(back[1])}</a> · ' if back else ""
    body = (
        f'<h1>{e(title)}</h1>\n<p class="notice" role="alert">{e(text)}</p>\n'
        f'<p>{again}<a href="/status">All documents</a></p>'
    )
    return layout(title, body)
