"""The status page's answers: the state file's answers in, HTML (or CSV) out; the health
server routes to them.

Read-only but for the retries, which `web.guard` fences (they exist only when a retry token is
configured): one document's, and the bulk retry of a filtered view's failed and retrying
documents. The lists come from `state.queries` (SQL, on read connections of their own), so a
view costs the same at 100,000 documents as at 1,000; one document's page reads its few rows
on the store the daemon already holds. The server calls from its worker threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs

from reconciler.config.settings import Secret
from reconciler.model import DocKind, LedgerEntry
from reconciler.state.sent import last_sent
from reconciler.web import overview as listing
from reconciler.web import pages as html
from reconciler.web.daemon_view import DaemonView, daemon_view
from reconciler.web.export import csv_pieces
from reconciler.web.filters import ListFilter
from reconciler.web.guard import CsrfTokens, FailureThrottle, same_origin, token_matches
from reconciler.web.links import Links
from reconciler.web.zones import display_zone

if TYPE_CHECKING:
    from reconciler.state import StateStore

HISTORY_ROWS = 100
RUNS_READ = 20  # the last passes the header reads (for the last error among them)
FORM_TYPE = "application/x-www-form-urlencoded"


class HealthLike(Protocol):
    """What the header reads of `web.health.HealthState`."""

    poll_interval: timedelta
    clock: Callable[[], datetime]

    def health_document(self, now: datetime) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Answer:
    status: int
    html: str


@dataclass(frozen=True)
class Download:
    """A streamed answer: its name and its pieces."""

    filename: str
    content_type: str
    pieces: Iterator[bytes]


@dataclass(frozen=True)
class RetryAsked:
    """The parts of a retry request the checks read."""

    host: str
    origin: str | None
    referer: str | None
    content_type: str | None
    token_header: str | None
    body: bytes


class StatusPage:
    """The overview, its export, one document's page, and the guarded retries."""

    def __init__(
        self,
        store: StateStore,
        *,
        environment: str = "production",
        realm_id: str = "",
        luminous_url: str = "",
        timezone: str = "",
        retry_token: Secret | None = None,
        allowed_hosts: Iterable[str] = (),
        on_event: Callable[..., None] = lambda event, **fields: None,
        csrf: CsrfTokens | None = None,
        throttle: FailureThrottle | None = None,
        health: HealthLike | None = None,
    ) -> None:
        self._store = store
        self._links = Links(environment, realm_id, luminous_url)
        self._timezone = timezone
        self._retry_token = retry_token if retry_token else None
        self.allowed_hosts = tuple(allowed_hosts)
        self._on_event = on_event
        self._csrf = csrf or CsrfTokens()
        self._throttle = throttle or FailureThrottle()
        self._health = health

    @property
    def retry_enabled(self) -> bool:
        return self._retry_token is not None

    def report_error(self, exc: BaseException) -> None:
        """A failed read (a damaged or locked state file): the log gets its class only."""
        self._on_event("status_page_error", error=type(exc).__name__)

    def zone(self) -> tzinfo:
        return display_zone(self._timezone, self._store.queries.meta)

    # --- reading ----------------------------------------------------------------------------

    def overview(self, query: str) -> Answer:
        wanted = ListFilter.from_query(query)
        zone = self.zone()
        queries = self._store.queries
        asked = wanted.to_query(zone)
        page = queries.page(asked)
        summaries = queries.summaries()
        csrf = self._csrf.mint_for(_set_subject(wanted)) if self.retry_enabled else None
        view = listing.Overview(
            counts=summaries.counts,
            wanted=replace(wanted, page=page.number),
            page=page,
            links=self._links,
            zone=zone,
            drift_counts=summaries.drift,
            groups=summaries.groups,
            codes=summaries.codes,
            daemon=self.daemon(),
            bulk_csrf=csrf,
            retryable=page.retryable,
        )
        return Answer(200, listing.overview_html(view))

    def daemon(self) -> DaemonView | None:
        """The header: the daemon's health when it runs here, else what the runs table says."""
        runs = self._store.queries.last_runs(RUNS_READ)
        if self._health is None:
            return daemon_view(None, runs, datetime.now(UTC), None) if runs else None
        now = self._health.clock()
        document = self._health.health_document(now)
        return daemon_view(document, runs, now, self._health.poll_interval)

    def export(self, query: str) -> Download:
        """The filtered view (every page of it) as CSV, streamed."""
        zone = self.zone()
        asked = ListFilter.from_query(query).to_query(zone)
        stamp = datetime.now(zone).strftime("%Y%m%d-%H%M")
        pieces = csv_pieces(self._store.queries, asked, self._links, zone)
        return Download(f"reconciler-documents-{stamp}.csv", "text/csv; charset=utf-8", pieces)

    def document(self, kind_text: str, doc_id_text: str) -> Answer:
        key = _doc_key(kind_text, doc_id_text)
        store = self._store
        entry = store.ledger.entry(key[1], key[0]) if key else None
        if entry is None:
            return _not_found()
        history = store.ledger.history(entry.doc_id, entry.kind, limit=HISTORY_ROWS)
        csrf = self._csrf.mint(entry.kind, entry.doc_id) if self.retry_enabled else None
        drift = store.drift.detail(entry.kind, entry.doc_id) if entry.drift else None
        sent = last_sent(store.db, entry.kind, entry.doc_id)
        row = store.db.rows(
            "select recorded_at, intuit_tid from ledger where kind = ? and doc_id = ?",
            [str(entry.kind), entry.doc_id],
        )[0]
        lines = store.lines.of(entry.kind, entry.doc_id)
        view = html.DocumentView(
            entry,
            history,
            self._links,
            csrf,
            drift,
            zone=self.zone(),
            sent=sent,
            line_ids=[(k, line.qbo_line_id) for k, line in lines.items() if line.qbo_line_id],
            linked_pos=self._linked_pos(entry, sent),
            recorded_at=datetime.fromisoformat(row["recorded_at"]) if row["recorded_at"] else None,
            intuit_tid=row["intuit_tid"],
        )
        return Answer(200, html.document_html(view))

    def _linked_pos(self, entry: LedgerEntry, sent: Any) -> list[tuple[LedgerEntry, str]]:
        """A bill's POs: those its lines were sent linked to, and those it waits for."""
        if entry.kind is DocKind.PURCHASE_ORDER:
            return []
        ledger, found = self._store.ledger, {}
        qbo_ids = {t for line in (sent.lines if sent else ()) for t in line.linked}
        for qbo_id in sorted(qbo_ids):
            owner = ledger.owner_of(qbo_id)
            if owner is not None:
                found[owner] = "its lines are linked to it"
        fact = self._store.lines.fact(entry.kind, entry.doc_id) or {}
        for text in (fact.get("waits_for") or "").split(","):
            if text.isdigit():
                found.setdefault(int(text), "it waits for this PO")
        pos = [(ledger.entry(doc_id), how) for doc_id, how in found.items()]
        return [(po, how) for po, how in pos if po is not None]

    # --- the writes -------------------------------------------------------------------------

    def retry(self, asked: RetryAsked) -> Answer:
        """Every check, cheapest and least revealing first; only then the write."""
        refused = self._refused_early(asked)
        if refused is not None:
            return refused
        form = _form(asked)
        key = _doc_key(form.get("kind", ""), form.get("doc_id", "")) if form else None
        if form is None or key is None:
            return Answer(400, html.message_html("Bad request", "The form was incomplete."))
        back = (html.doc_path(*key), "Back to the document")
        if not self._csrf.valid(form.get("csrf", ""), *key):
            return _refused("The form has expired. Open the document again and retry.", back)
        if not self._token_ok(asked, form, kind=str(key[0]), doc_id=key[1]):
            return _refused("The retry token is not right.", back)
        entry = self._store.ledger.entry(key[1], key[0])
        if entry is None:
            return _not_found()
        self._store.ledger.request_retry(entry.doc_id, entry.kind)
        self._on_event("status_page_retry", kind=str(entry.kind), doc_id=entry.doc_id)
        return Answer(200, html.retry_done_html(entry))

    def retry_set(self, asked: RetryAsked) -> Answer:
        """The bulk retry: the failed and retrying documents of the filtered view the form was
        shown with (its CSRF token is bound to that view)."""
        refused = self._refused_early(asked)
        if refused is not None:
            return refused
        form = _form(asked)
        if form is None or "filter" not in form:
            return Answer(400, html.message_html("Bad request", "The form was incomplete."))
        wanted = ListFilter.from_query(form["filter"]).without_page()
        back = (f"/status?{wanted.query()}", "Back to the list")
        if not self._csrf.valid_for(form.get("csrf", ""), _set_subject(wanted)):
            return _refused("The form has expired. Open the list again and retry.", back)
        if not self._token_ok(asked, form, filter=wanted.query()):
            return _refused("The retry token is not right.", back)
        count = self._store.queries.request_retry(wanted.to_query(self.zone()))
        self._on_event("status_page_retry_set", filter=wanted.query(), documents=count)
        return Answer(200, listing_retry_done(count, back[0]))

    def _refused_early(self, asked: RetryAsked) -> Answer | None:
        if self._retry_token is None:
            return _not_found()
        if not same_origin(asked.origin, asked.referer, (asked.host, *self.allowed_hosts)):
            return _refused("This form must be sent from the status page itself.")
        if self._throttle.locked():
            return Answer(429, html.message_html("Too many attempts", "Wait a minute."))
        return None

    def _token_ok(self, asked: RetryAsked, form: dict[str, str], **about: Any) -> bool:
        given = asked.token_header or form.get("retry_token", "")
        if token_matches(given, self._retry_token.reveal() if self._retry_token else ""):
            return True
        self._throttle.failed()
        self._on_event("status_page_retry_refused", **about)
        return False


def listing_retry_done(count: int, back: str) -> str:
    what = f"{count} {'document' if count == 1 else 'documents'}"
    body = (
        "<h1>Retry requested</h1>\n"
        f'<p class="notice" role="status">{html.e(what)} will be taken again on the next pass '
        "(the failed and retrying ones of the view).</p>\n"
        f'<p><a href="{html.e(back)}">Back to the list</a></p>'
    )
    return html.layout("Retry requested", body)


def _set_subject(wanted: ListFilter) -> str:
    return "set:" + wanted.without_page().query()


def _doc_key(kind_text: str, doc_id_text: str) -> tuple[DocKind, int] | None:
    if kind_text not in set(DocKind):
        return None
    if not (doc_id_text.isascii() and doc_id_text.isdigit() and len(doc_id_text) <= 18):
        return None
    return DocKind(kind_text), int(doc_id_text)


def _form(asked: RetryAsked) -> dict[str, str] | None:
    """The urlencoded form's fields (the last of each), or None when it is not one."""
    if (asked.content_type or "").split(";")[0].strip().lower() != FORM_TYPE:
        return None
    try:
        text = asked.body.decode("utf-8")
        fields = parse_qs(text, max_num_fields=10, strict_parsing=False)
    except ValueError:  # not UTF-8 (UnicodeDecodeError), or too many fields
        return None
    return {name: values[-1] for name, values in fields.items()}


def _not_found() -> Answer:
    return Answer(404, html.message_html("Not found", "There is no such page or document."))


def _refused(text: str, back: tuple[str, str] | None = None) -> Answer:
    return Answer(403, html.message_html("Refused", text, back))
