"""QBOClient: the calls the sync makes on the QBO Accounting API v3, for one realm.

read, query (one page, every page, COUNT), CDC, create, sparse update, delete and /batch, each
returning the entity and Intuit's `intuit_tid`. How one request is sent, retried, throttled and
refreshed is `qbo.transport`; the JSON (Decimals, never floats) is `qbo.wire`; what a fault
means is `qbo.faults`.

- `requestid` on every write (at most 50 characters, 36 for /batch). A write whose answer never
  arrives is sent again with the SAME requestid: QBO then returns the first answer instead of
  doing the work twice. After `max_attempts` the caller gets `errors.UnclearOutcome` (the
  ledger keeps the requestid for the next pass).
- No tokens anywhere but the Authorization header: not in exceptions, reprs or the `on_request`
  event. Exception messages name the method and entity, not the URL (queries carry QBO data).

Exception tree as the caller meets it:

    ReconcilerError
    ├── Retryable: UnclearOutcome (no answer), QBORetryableFault (5xx), ThrottledFault (429),
    │              StaleObjectFault (5010)
    ├── Parked:    QBOParkedFault and subclasses (6240, 6140, 610/2500, 6000, 2020, 4000, ...)
    └── Fatal:     QBOFatalFault (401 after a refresh, 403), AuthorizationLost (from the
                   TokenSource)
    ValueError:    InvalidRequestId, bad batch shape (programming errors, raised before sending)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote as url_quote

import requests

from reconciler import errors
from reconciler.qbo import groups
from reconciler.qbo.faults import fault_from_batch_item
from reconciler.qbo.limiter import RealmLimiter
from reconciler.qbo.transport import THROTTLE_WAIT_S, TokenSource, Transport
from reconciler.qbo.wire import (
    BatchItemResult,
    BatchOp,
    GroupAnswer,
    find_key,
    require_id_and_token,
)

__all__ = [
    "BatchItemResult",
    "BatchOp",
    "InvalidRequestId",
    "QBOClient",
    "QBOResult",
    "TokenSource",
]

MAX_REQUEST_ID = 50
MAX_BATCH_REQUEST_ID = 36
MAX_BATCH_ITEMS = 30
MAX_QUERY_PAGES = 100_000  # a bound on query_all's loop (100 million rows)
_GET_QUERY_LIMIT = 1500  # longer statements go as POST /query (URL length)


class InvalidRequestId(ValueError):
    """A requestid QBO would not accept (empty, too long, odd characters)."""


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QBOResult:
    """One entity (or a delete acknowledgement) and the answer's tracking id."""

    entity: dict | list | None
    intuit_tid: str | None
    status: int
    attempts: int = 1


def validate_request_id(request_id: str, *, limit: int = MAX_REQUEST_ID) -> str:
    """QBO takes at most 50 characters (36 for /batch); we also keep to visible ASCII."""
    if not isinstance(request_id, str) or not request_id:
        raise InvalidRequestId("requestid must be a non-empty string")
    if len(request_id) > limit:
        raise InvalidRequestId(f"requestid is {len(request_id)} characters; the limit is {limit}")
    if not all("!" <= char <= "~" for char in request_id):
        raise InvalidRequestId("requestid must be visible ASCII without spaces")
    return request_id


# --- the client ------------------------------------------------------------------------


class QBOClient:
    """Calls for one realm. Thread-safe as far as the session and token source are."""

    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        realm_id: str,
        token_source: TokenSource,
        *,
        minorversion: int = 75,
        timeout: tuple[float, float] = (5.0, 60.0),
        limiter: RealmLimiter | None = None,
        max_attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        throttle_wait: float = THROTTLE_WAIT_S,
        on_request: Callable[[dict], None] | None = None,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not realm_id or not realm_id.isdigit():
            raise ValueError("realm_id must be the company's numeric id")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if minorversion < 75:
            raise ValueError("Intuit answers every minorversion below 75 as 75; send 75 or newer")
        self._base = base_url.rstrip("/")
        self.realm_id = realm_id
        self.limiter = limiter
        self._groups = groups.GroupSender(self)
        self._transport = Transport(
            session,
            base_url,
            realm_id,
            token_source,
            minorversion=minorversion,
            timeout=timeout,
            limiter=limiter,
            max_attempts=max_attempts,
            sleep=sleep,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            throttle_wait=throttle_wait,
            on_request=on_request,
            rng=rng or random.Random(),  # noqa: S311 (jitter, not security)
            monotonic=monotonic,
        )

    def __repr__(self) -> str:
        return f"QBOClient(base_url={self._base!r}, realm_id={self.realm_id!r})"

    def quiet_for(self) -> tuple[float, str]:
        """Seconds QBO still asks us to stay away (a `Retry-After` not waited out), and why."""
        return self._transport.quiet_for()

    # -- public calls --------------------------------------------------------------------

    def read(self, entity: str, id: str) -> QBOResult:
        """GET one object by Id."""
        path = f"{entity.lower()}/{url_quote(str(id), safe='')}"
        status, payload, tid, attempts = self._call("GET", entity, path)
        return QBOResult(find_key(payload, entity), tid, status, attempts)

    def query(self, statement: str) -> list[dict]:
        """One page of a SELECT: the entity list (empty when nothing matched)."""
        return self.query_page(statement)[0]

    def query_page(self, statement: str) -> tuple[list[dict], str | None]:
        """One page of a SELECT and the answer's intuit_tid."""
        response, tid = self._query(statement)
        for value in response.values():
            if isinstance(value, list):
                return value, tid
        return [], tid

    def query_all(
        self, statement_builder: Callable[[int, int], str], *, page_size: int = 1000
    ) -> Iterator[dict]:
        """Every row: calls `statement_builder(start, max_results)` page by page.

        Use it as `client.query_all(lambda start, n: query.select("Vendor", w, start=start,
        max_results=n))`. Stops at the first page shorter than `page_size`.
        """
        start = 1
        for _ in range(MAX_QUERY_PAGES):
            rows = self.query(statement_builder(start, page_size))
            yield from rows
            if len(rows) < page_size:
                return
            start += page_size
        raise RuntimeError("query_all read more pages than MAX_QUERY_PAGES")

    def count(self, statement: str) -> int:
        """The totalCount of a `SELECT COUNT(*)` statement."""
        response, _ = self._query(statement)
        total = find_key(response, "totalCount")
        return int(total) if total is not None else 0

    def create(
        self,
        entity: str,
        body: Mapping[str, Any],
        *,
        request_id: str,
        resend_unclear: bool = True,
    ) -> QBOResult:
        """POST a new object; retried after a lost answer with the same requestid.

        `resend_unclear=False` raises at the first lost answer or 5xx instead (429 is still
        waited out: a throttled request did nothing), for callers that would rather look the
        object up than trust how long QBO remembers a requestid."""
        repeatable = None if resend_unclear else False
        return self._write("create", entity, body, request_id=request_id, repeatable=repeatable)

    def update(
        self, entity: str, body: Mapping[str, Any], *, request_id: str, sparse: bool = True
    ) -> QBOResult:
        """POST an update; `body` carries Id and SyncToken (a stale one gives StaleObjectFault)."""
        require_id_and_token(body)
        wire = dict(body)
        if sparse:
            wire["sparse"] = True
        else:
            wire.pop("sparse", None)
        return self._write("update", entity, wire, request_id=request_id)

    def delete(self, entity: str, id: str, sync_token: str, *, request_id: str) -> QBOResult:
        """POST ?operation=delete; the answer's entity is `{"status": "Deleted", "Id": ...}`."""
        body = {"Id": str(id), "SyncToken": str(sync_token)}
        params = {"operation": "delete"}
        return self._write("delete", entity, body, request_id=request_id, params=params)

    def void(self, entity: str, id: str, sync_token: str, *, request_id: str) -> QBOResult:
        """POST ?operation=update&include=void, sparse: QBO's void of a BillPayment."""
        body = {"Id": str(id), "SyncToken": str(sync_token), "sparse": True}
        params = {"operation": "update", "include": "void"}
        return self._write("void", entity, body, request_id=request_id, params=params)

    def cdc(self, entities: Sequence[str], changed_since: datetime) -> QBOResult:
        """GET /cdc: every object of `entities` changed since then (a read; at most 30 days
        back, 1000 objects per entity); `entity` is the whole answer, with its `time`."""
        if changed_since.tzinfo is None:
            raise ValueError("changedSince must be timezone-aware")
        params = {
            "entities": ",".join(entities),
            "changedSince": changed_since.astimezone(UTC).isoformat(timespec="seconds"),
        }
        status, payload, tid, attempts = self._call("GET", "cdc", "cdc", params=params)
        return QBOResult(payload, tid, status, attempts)

    def batch(
        self,
        items: Sequence[BatchOp],
        *,
        request_id: str | None = None,
        resend_unclear: bool = True,
        patience: float | None = None,
    ) -> list[BatchItemResult]:
        """One /batch call (at most 30 items); results in the order of `items`.

        Per-item faults are returned, not raised. Without a request_id a batch that holds
        writes is not sent twice after a lost answer (UnclearOutcome at once); a batch of
        queries only is always safe to repeat. With `patience`, `BatchWindowFull` when QBO's
        batch budget has no room that soon (nothing sent; see `qbo.groups`).
        """
        if not items:
            raise ValueError("a batch needs at least one item")
        if len(items) > MAX_BATCH_ITEMS:
            raise ValueError(f"a batch takes at most {MAX_BATCH_ITEMS} items, got {len(items)}")
        bids = [item.bid for item in items]
        if len(set(bids)) != len(bids) or not all(bids):
            raise ValueError("batch item bIds must be non-empty and unique")
        if request_id is not None:
            validate_request_id(request_id, limit=MAX_BATCH_REQUEST_ID)
        body = {"BatchItemRequest": [item.to_wire() for item in items]}
        only_queries = all(item.operation == "query" for item in items)
        _, payload, tid, _ = self._call(
            "POST",
            "batch",
            "batch",
            body=body,
            request_id=request_id,
            batch=True,
            repeatable=only_queries or (request_id is not None and resend_unclear),
            batch_patience=patience,
        )
        answers = {}
        for answer in find_key(payload, "BatchItemResponse") or []:
            if isinstance(answer, Mapping) and "bId" in answer:
                answers[str(answer["bId"])] = answer
        return [_batch_item(item, answers.get(item.bid), tid) for item in items]

    def send_group(
        self,
        items: Sequence[BatchOp],
        *,
        request_id: str,
        item_request_ids: Sequence[str],
        resend_unclear: bool = True,
        alone: bool = False,
    ) -> GroupAnswer:
        """Writes that may share a /batch: one batch, or each alone (`qbo.groups` says when)."""
        return self._groups.send(
            items,
            request_id=request_id,
            item_request_ids=item_request_ids,
            resend_unclear=resend_unclear,
            alone=alone,
        )

    # -- internals -----------------------------------------------------------------------

    def _write(
        self, operation: str, entity: str, body: Mapping[str, Any], *, request_id: str, **kw: Any
    ) -> QBOResult:
        """POST one write with its requestid; the answer must hold the written object."""
        validate_request_id(request_id)
        status, payload, tid, attempts = self._call(
            "POST", entity, entity.lower(), body=body, request_id=request_id, **kw
        )
        return QBOResult(answered(payload, entity, operation, tid), tid, status, attempts)

    def _query(self, statement: str) -> tuple[dict, str | None]:
        if len(statement) <= _GET_QUERY_LIMIT:
            _, payload, tid, _ = self._call("GET", "query", "query", params={"query": statement})
        else:
            _, payload, tid, _ = self._call("POST", "query", "query", text_body=statement)
        response = find_key(payload, "QueryResponse")
        return (response if isinstance(response, dict) else {}), tid

    def _call(
        self, method: str, entity: str, path: str, **kw: Any
    ) -> tuple[int, dict, str | None, int]:
        """One request through the transport: (status, parsed body, intuit_tid, attempts)."""
        answer = self._transport.send(self._transport.request(method, entity, path, **kw))
        return answer.status, answer.payload, answer.intuit_tid, answer.attempts


def _batch_item(
    item: BatchOp, answer: Mapping[str, Any] | None, tid: str | None
) -> BatchItemResult:
    if answer is None:
        missing = errors.QBORetryableFault(
            "the batch answer had no item for this bId", code=None, intuit_tid=tid
        )
        return BatchItemResult(item.bid, item.entity, fault=missing, intuit_tid=tid)
    if find_key(answer, "Fault") is not None:
        fault = fault_from_batch_item(answer, tid)
        return BatchItemResult(item.bid, item.entity, fault=fault, intuit_tid=tid)
    if item.operation == "query":
        return BatchItemResult(
            item.bid, None, query_response=find_key(answer, "QueryResponse"), intuit_tid=tid
        )
    try:
        entity = answered(answer, item.entity or "", item.operation, tid)
    except errors.UnclearOutcome as unclear:
        return BatchItemResult(item.bid, item.entity, fault=unclear, intuit_tid=tid)
    return BatchItemResult(item.bid, item.entity, entity=entity, intuit_tid=tid)


def answered(payload: Mapping[str, Any], entity: str, operation: str, tid: str | None) -> dict:
    """The written object from a 2xx answer, checked: an answer without it, or without its Id
    (a gateway's or proxy's 200, a batch item holding only its bId), says nothing about what
    QBO did. That is an unclear outcome, as after a lost answer: the write is looked up before
    anything is decided, never recorded as synced."""
    found = find_key(payload, entity)
    if not isinstance(found, Mapping) or not str(found.get("Id") or "").strip():
        what = "the object" if not isinstance(found, Mapping) else "its Id"
        raise errors.UnclearOutcome(
            f"QBO answered the {operation} of a {entity} without {what}"
            + (f" (intuit_tid {tid})" if tid else ""),
            code="answer_without_entity",
        )
    return dict(found)
