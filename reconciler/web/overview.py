"""The status page's overview: pure, from what the queries found to HTML.

Top to bottom: the daemon's health (last pass, next pass, last error, each service), the
counts by kind and status, what drift checks found, the failures grouped by error code (each
with its count, its fix and a link to its documents), then the documents: the filter form,
the list with sortable columns, the pager (first, previous, next, last, a page number and a
page size), the CSV export of the view and, with a retry token, the retry of the view's
failed and retrying documents. Every link is a URL of the view it shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, tzinfo
from urllib.parse import parse_qsl

from reconciler.documents.drift import WORDS as DRIFT_WORDS
from reconciler.documents.fixes import fix_for
from reconciler.model import DocKind, Drift, SyncStatus
from reconciler.state.queries import FailureGroup, Listed, QueryPage
from reconciler.web.daemon_view import DaemonView
from reconciler.web.filters import PAGE_SIZES, ListFilter, reason
from reconciler.web.links import Links
from reconciler.web.pages import (
    badge,
    doc_name,
    doc_path,
    drift_tag,
    e,
    kind_tag,
    layout,
    luminous_link,
    options,
    qbo_link,
    short,
    table,
    when,
)

STATUS_ORDER = (
    SyncStatus.FAILED,
    SyncStatus.RETRYING,
    SyncStatus.PENDING,
    SyncStatus.SKIPPED,
    SyncStatus.SYNCED,
)
# (column shown, the sort it asks for, or None: not sortable)
COLUMNS = (
    ("Document", "number"),
    ("Vendor", "vendor"),
    ("Status", "status"),
    ("Reason", "code"),
    ("Recorded", "recorded"),
    ("Next retry", "retry"),
    ("Luminous", None),
    ("QBO", None),
)


@dataclass(frozen=True)
class Overview:
    counts: Mapping[DocKind, Mapping[str, int]]
    wanted: ListFilter
    page: QueryPage
    links: Links
    zone: tzinfo = UTC
    drift_counts: Mapping[Drift, int] | None = None
    groups: Sequence[FailureGroup] = ()
    codes: Sequence[str] = ()
    daemon: DaemonView | None = None
    bulk_csrf: str | None = None  # the view's retry form token; None: retry is off
    retryable: int = 0  # failed or retrying documents in the view


def overview_html(view: Overview) -> str:
    body = (
        "<h1>Sync status</h1>\n"
        + daemon_html(view.daemon, view.zone)
        + counts_html(view.counts)
        + drift_counts_html(view.drift_counts)
        + groups_html(view.groups, view.zone)
        + '\n<h2 id="list-h">Documents</h2>\n'
        + filter_form(view.wanted, view.codes)
        + documents_html(view)
        + bulk_retry_html(view)
    )
    return layout("Sync status", body)


# --- the daemon ---------------------------------------------------------------------------------


def daemon_html(daemon: DaemonView | None, zone: tzinfo) -> str:
    if daemon is None:
        return ""
    state = {True: _word("healthy", "synced"), False: _word("unhealthy", "failed"), None: ""}[
        daemon.healthy
    ]
    last = daemon.last
    if last is None:
        last_text = "none finished yet"
    else:
        did = ", ".join(f"{n} {k}" for k, n in last.counts) or "nothing to do"
        last_text = f"{when(last.finished_at, zone)}: {e(last.outcome)} ({e(did)})"
    if daemon.running_since is not None:
        next_text = f"a pass is running since {when(daemon.running_since, zone)}"
    else:
        next_text = when(daemon.next_pass, zone) if daemon.next_pass else "–"
    error = daemon.last_error
    error_text = f"{when(error[1], zone)}: {e(short(error[0]))}" if error else "none recorded"
    services = "".join(
        f"<p>{e(s.name)}: {_service_word(s.good)} {e(s.words)}</p>" for s in daemon.services
    )
    return (
        '<section class="health" aria-labelledby="health-h" id="health">'
        f'<h2 id="health-h">The sync {state}</h2>'
        f"<p>Last pass: {last_text}</p><p>Next pass: {next_text}</p>"
        f"<p>Last error: {error_text}</p>{services}"
        + (f'<p class="meta">{e(daemon.reason)}</p>' if daemon.reason else "")
        + "</section>\n"
    )


def _word(word: str, colour: str) -> str:
    """A badge that says `word` in a status's colours (the word, not the colour, tells)."""
    return f'<span class="badge s-{colour}">{e(word)}</span>'


def _service_word(good: bool | None) -> str:
    return {
        True: _word("good", "synced"),
        False: _word("failing", "failed"),
        None: _word("unknown", "skipped"),
    }[good]


# --- the summaries ------------------------------------------------------------------------------


def counts_html(counts: Mapping[DocKind, Mapping[str, int]]) -> str:
    """Documents by kind and status; a kind with none is left out (bills off: no bills row),
    purchase orders always shown."""
    headers = ["Kind", *(str(s) for s in STATUS_ORDER), "total"]
    rows = []
    for kind in DocKind:
        by_status = counts.get(kind, {})
        if not by_status and kind is not DocKind.PURCHASE_ORDER:
            continue
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
    return table("Documents by status", headers, rows, "counts-h")


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


def groups_html(groups: Sequence[FailureGroup], zone: tzinfo) -> str:
    """Failed and retrying documents by error code: the count, the fix, a link to them."""
    if not groups:
        return '\n<h2 id="groups-h">Failures by reason</h2>\n<p class="meta">No failures.</p>\n'
    headers = ("Code", "Documents", "What to do", "For example", "Latest")
    rows = [
        f'<tr><th scope="row"><code>{e(g.code or "none")}</code></th>'
        f'<td class="num" data-label="Documents"><a href="/status?{e(_group_query(g))}">'
        f'{g.failed + g.retrying}</a> <span class="meta">({g.failed} failed, '
        f"{g.retrying} retrying)</span></td>"
        f'<td class="reason" data-label="What to do">{e(fix_for(g.code))}</td>'
        f'<td class="reason" data-label="For example">{e(short(g.example or "–", 160))}</td>'
        f'<td data-label="Latest">{when(g.newest, zone)}</td></tr>'
        for g in groups
    ]
    return (
        '\n<h2 id="groups-h">Failures by reason</h2>\n'
        + table("Failed and retrying documents by error code", headers, rows, "groups-t", True)
        + "\n"
    )


def _group_query(group: FailureGroup) -> str:
    if group.code is None:
        return ListFilter(status=SyncStatus.FAILED).query()
    return ListFilter(code=group.code).query()


# --- the filter form ----------------------------------------------------------------------------


def filter_form(wanted: ListFilter, codes: Sequence[str]) -> str:
    kinds = [("Any kind", ""), *((k.plural, str(k)) for k in DocKind)]
    statuses = [("Any status", ""), *((str(s), str(s)) for s in STATUS_ORDER)]
    code_options = [("Any code", ""), *((c, c) for c in codes)]
    if wanted.code and wanted.code not in codes:
        code_options.append((wanted.code, wanted.code))
    in_qbo = [("Either", ""), ("In QuickBooks", "yes"), ("Not in QuickBooks", "no")]
    drifts = [("Anything", ""), *((DRIFT_WORDS[d], str(d)) for d in Drift)]
    dates = [("Recorded", "recorded"), ("Updated in Luminous", "updated")]
    sizes = [(f"{n} a page", str(n)) for n in PAGE_SIZES]
    kept = "".join(
        f'<input type="hidden" name="{name}" value="{e(value)}">'
        for name, value in (("sort", wanted.sort), ("dir", wanted.way))
        if value
    )
    return (
        '<form method="get" action="/status" class="filters" role="search" '
        'aria-label="Filter documents">'
        + _select("f-kind", "kind", "Kind", kinds, str(wanted.kind or ""))
        + _select("f-status", "status", "Status", statuses, str(wanted.status or ""))
        + '<div><label for="f-vendor">Vendor</label><input id="f-vendor" name="vendor" '
        f'type="search" value="{e(wanted.vendor)}" maxlength="200" placeholder="any words"></div>'
        + _select("f-code", "code", "Error code", code_options, wanted.code)
        + _select("f-in-qbo", "in_qbo", "In QuickBooks", in_qbo, wanted.in_qbo)
        + _select("f-drift", "drift", "Changed in QuickBooks", drifts, str(wanted.drift or ""))
        + _select("f-by", "by", "Date", dates, wanted.by)
        + _date("f-from", "from", "From", wanted.since)
        + _date("f-until", "until", "Until", wanted.until)
        + '<div><label for="f-q">Number, reason or id</label>'
        f'<input id="f-q" name="q" type="search" value="{e(wanted.text)}" maxlength="200"></div>'
        + _select("f-size", "size", "Page size", sizes, str(wanted.size))
        + kept
        + '<div class="actions"><button type="submit">Filter</button>'
        '<a href="/status">Clear filters</a>'
        f'<a href="/status/export.csv?{e(wanted.without_page().query())}" download>'
        "Export CSV</a></div></form>\n"
    )


def _select(
    control: str, name: str, label: str, choices: list[tuple[str, str]], chosen: str
) -> str:
    return (
        f'<div><label for="{control}">{e(label)}</label><select id="{control}" name="{name}">'
        f"{options(choices, chosen)}</select></div>"
    )


def _date(control: str, name: str, label: str, value: date | None) -> str:
    shown = value.isoformat() if value is not None else ""
    return (
        f'<div><label for="{control}">{e(label)}</label>'
        f'<input id="{control}" name="{name}" type="date" value="{e(shown)}"></div>'
    )


# --- the list -----------------------------------------------------------------------------------


def documents_html(view: Overview) -> str:
    page = view.page
    summary = (
        f'<p class="meta" id="list-summary">{page.matching} '
        f"{'document' if page.matching == 1 else 'documents'} match · page {page.number} "
        f"of {page.count}</p>"
    )
    if not page.rows:
        return summary + '<p class="notice">No document matches these filters.</p>'
    rows = [_list_row(row, view.links, view.zone) for row in page.rows]
    head = "".join(_head(name, sort, view.wanted) for name, sort in COLUMNS)
    found = table("Documents", [], rows, "docs-h", cards=True, head=head)
    return summary + found + pager(view.wanted, page)


def _head(name: str, sort: str | None, wanted: ListFilter) -> str:
    """A column's header: a link that sorts by it (the other way when it already does)."""
    if sort is None:
        return f'<th scope="col">{e(name)}</th>'
    current = (wanted.sort or "recorded") == sort
    way = "descending" if wanted.descending else "ascending"
    aria = f' aria-sort="{way}"' if current else ""
    arrow = (" ↓" if wanted.descending else " ↑") if current else ""
    target = wanted.sorted_by(sort).query()
    return (
        f'<th scope="col"{aria}><a href="/status?{e(target)}">{e(name)}{arrow}'
        f'<span class="sr-only">: sort</span></a></th>'
    )


def _list_row(row: Listed, links: Links, zone: tzinfo) -> str:
    entry = row.entry
    return (
        f'<tr><th scope="row"><span class="kind">{e(kind_tag(entry.kind))}</span>'
        f'<a href="{doc_path(entry.kind, entry.doc_id)}">{e(doc_name(entry))}</a></th>'
        f'<td data-label="Vendor">{e(entry.vendor or "–")}</td>'
        f'<td data-label="Status">{badge(entry.status)}{drift_tag(entry)}</td>'
        f'<td class="reason" data-label="Reason">{e(short(reason(entry)) or "–")}</td>'
        f'<td data-label="Recorded">{when(row.recorded_at, zone)}</td>'
        f'<td data-label="Next retry">{when(entry.next_retry_at, zone)}</td>'
        f'<td data-label="Luminous">{luminous_link(links, entry)}</td>'
        f'<td data-label="QBO">{qbo_link(links, entry)}</td></tr>'
    )


def pager(wanted: ListFilter, page: QueryPage) -> str:
    """First, previous, where, next, last, and a page to jump to."""
    if page.count == 1:
        return ""

    def to(number: int, words: str, rel: str = "") -> str:
        attr = f' rel="{rel}"' if rel else ""
        return f'<a{attr} href="/status?{e(wanted.query(page=number))}">{words}</a>'

    parts = []
    if page.number > 1:
        parts += [to(1, "First"), to(page.number - 1, "Previous", "prev")]
    parts.append(f'<span aria-current="page">Page {page.number} of {page.count}</span>')
    if page.number < page.count:
        parts += [to(page.number + 1, "Next", "next"), to(page.count, "Last")]
    kept = "".join(
        f'<input type="hidden" name="{e(k)}" value="{e(v)}">'
        for k, v in parse_qsl(wanted.without_page().query())
    )
    jump = (
        f'<form method="get" action="/status">{kept}<label for="p-jump">Page</label>'
        f'<input id="p-jump" name="page" type="number" min="1" max="{page.count}" '
        f'value="{page.number}" inputmode="numeric"><button type="submit">Go</button></form>'
    )
    return f'<nav class="pages" aria-label="Pages">{"".join(parts)}{jump}</nav>'


def bulk_retry_html(view: Overview) -> str:
    """Retry every failed or retrying document of this view (guarded like the single retry)."""
    if view.bulk_csrf is None or not view.retryable:
        return ""
    n = view.retryable
    what = f"{n} failed or retrying {'document' if n == 1 else 'documents'}"
    return (
        '<h2 id="bulk-h">Retry this view</h2>\n'
        '<form method="post" action="/status/retry-set" class="filters" aria-labelledby="bulk-h">'
        f'<input type="hidden" name="filter" value="{e(view.wanted.without_page().query())}">'
        f'<input type="hidden" name="csrf" value="{e(view.bulk_csrf)}">'
        '<div><label for="b-token">Retry token</label>'
        '<input id="b-token" name="retry_token" type="password" required autocomplete="off">'
        f'</div><div class="actions"><button type="submit">Retry the {e(what)} on the next '
        "pass</button></div></form>\n"
    )
