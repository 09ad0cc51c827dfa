"""The status page's answers: ledger rows in, HTML out; the health server routes to them.

Read-only but for one write, the retry, which `web.guard` fences (it exists only when a
retry token is configured). The ledger is the one the daemon already holds (thread-safe,
one lock per statement), so a page view costs no descriptor and no migration check; the
server calls from its worker threads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs

from reconciler.config.settings import Secret
from reconciler.model import DocKind, Drift, LedgerEntry, SyncStatus
from reconciler.web import pages as html
from reconciler.web.filters import ListFilter, page_of
from reconciler.web.guard import CsrfTokens, FailureThrottle, same_origin, token_matches

if TYPE_CHECKING:
    from reconciler.state import DriftDetail, HistoryRow

HISTORY_ROWS = 100
FORM_TYPE = "application/x-www-form-urlencoded"


class LedgerView(Protocol):
    """What the page may do with the ledger: read, and ask for a retry."""

    def entries(
        self,
        *,
        status: SyncStatus | None = None,
        kind: DocKind | None = None,
        limit: int | None = None,
    ) -> list[LedgerEntry]: ...

    def entry(self, doc_id: int, kind: DocKind = ...) -> LedgerEntry | None: ...

    def history(self, doc_id: int, kind: DocKind = ..., limit: int = ...) -> list[HistoryRow]: ...

    def request_retry(self, doc_id: int, kind: DocKind = ...) -> None: ...


@dataclass(frozen=True)
class Answer:
    status: int
    html: str


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
    """The overview, one document's history, and the guarded retry."""

    def __init__(
        self,
        ledger: LedgerView,
        *,
        environment: str = "production",
        retry_token: Secret | None = None,
        allowed_hosts: Iterable[str] = (),
        on_event: Callable[..., None] = lambda event, **fields: None,
        csrf: CsrfTokens | None = None,
        throttle: FailureThrottle | None = None,
        drift: Callable[[DocKind, int], DriftDetail | None] | None = None,
    ) -> None:
        self._ledger = ledger
        self._drift = drift  # what someone else changed in QBO (`state.DriftRecords.detail`)
        self._environment = environment
        self._retry_token = retry_token if retry_token else None
        self.allowed_hosts = tuple(allowed_hosts)
        self._on_event = on_event
        self._csrf = csrf or CsrfTokens()
        self._throttle = throttle or FailureThrottle()

    @property
    def retry_enabled(self) -> bool:
        return self._retry_token is not None

    def report_error(self, exc: BaseException) -> None:
        """A failed read (a damaged or locked state file): the log gets its class only."""
        self._on_event("status_page_error", error=type(exc).__name__)

    # --- reading ----------------------------------------------------------------------------

    def overview(self, query: str) -> Answer:
        wanted = ListFilter.from_query(query)
        everything = self._ledger.entries()
        counts: dict[DocKind, Counter[str]] = {kind: Counter() for kind in DocKind}
        drift: Counter[Drift] = Counter()
        for entry in everything:
            counts[entry.kind][str(entry.status)] += 1
            if entry.drift is not None:
                drift[entry.drift] += 1
        vendors = sorted({e.vendor for e in everything if e.vendor}, key=str.casefold)
        page = page_of(everything, wanted)
        rows = [html.ListRow(e, self._last_attempt(e)) for e in page.rows]
        view = html.Overview(counts, wanted, vendors, page, rows, self._environment, drift)
        return Answer(200, html.overview_html(view))

    def _last_attempt(self, entry: LedgerEntry) -> Any:
        """When the sync last did something with it: its newest history line."""
        newest = self._ledger.history(entry.doc_id, entry.kind, limit=1)
        return newest[-1].at if newest else entry.request_sent_at

    def document(self, kind_text: str, doc_id_text: str) -> Answer:
        key = _doc_key(kind_text, doc_id_text)
        entry = self._ledger.entry(key[1], key[0]) if key else None
        if entry is None:
            return _not_found()
        history = self._ledger.history(entry.doc_id, entry.kind, limit=HISTORY_ROWS)
        csrf = self._csrf.mint(entry.kind, entry.doc_id) if self.retry_enabled else None
        drift = self._drift(entry.kind, entry.doc_id) if self._drift and entry.drift else None
        view = html.DocumentView(entry, history, self._environment, csrf, drift)
        return Answer(200, html.document_html(view))

    # --- the one write ----------------------------------------------------------------------

    def retry(self, asked: RetryAsked) -> Answer:
        """Every check, cheapest and least revealing first; only then the write."""
        if self._retry_token is None:
            return _not_found()
        if not same_origin(asked.origin, asked.referer, (asked.host, *self.allowed_hosts)):
            return _refused("This form must be sent from the status page itself.")
        if self._throttle.locked():
            return Answer(429, html.message_html("Too many attempts", "Wait a minute."))
        form = _form(asked)
        key = _doc_key(form.get("kind", ""), form.get("doc_id", "")) if form else None
        if form is None or key is None:
            return Answer(400, html.message_html("Bad request", "The form was incomplete."))
        if not self._csrf.valid(form.get("csrf", ""), *key):
            return _refused("The form has expired. Open the document again and retry.")
        given = asked.token_header or form.get("retry_token", "")
        if not token_matches(given, self._retry_token.reveal()):
            self._throttle.failed()
            self._on_event("status_page_retry_refused", kind=str(key[0]), doc_id=key[1])
            return _refused("The retry token is not right.")
        entry = self._ledger.entry(key[1], key[0])
        if entry is None:
            return _not_found()
        self._ledger.request_retry(entry.doc_id, entry.kind)
        self._on_event("status_page_retry", kind=str(entry.kind), doc_id=entry.doc_id)
        return Answer(200, html.retry_done_html(entry))


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


def _refused(text: str) -> Answer:
    return Answer(403, html.message_html("Refused", text))
