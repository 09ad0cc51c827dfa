"""QBOClient: the one place that talks HTTP to the QBO Accounting API v3.

What it adds to a plain `requests.Session` (behaviour from qbo-api.md, checked against Intuit's
documentation and public clients):

- `minorversion` on every call, `Accept: application/json`, a bearer token from a TokenSource.
- `requestid` on every write (at most 50 characters, 36 for /batch). A write whose answer never
  arrives (timeout, reset, dropped connection) is sent again with the SAME requestid: QBO then
  returns the first answer instead of doing the work twice. After `max_attempts` the caller gets
  `errors.UnclearOutcome` (the ledger keeps the requestid for the next pass).
- 429: wait (Retry-After when given, else capped exponential backoff with jitter), retry; in the
  end `errors.ThrottledFault`. 5xx system faults: the same, ending in `QBORetryableFault`.
- 401: ask the TokenSource for a refreshed token once and retry once; a second 401 is
  `QBOFatalFault`. Every other fault is raised at once (no retry), classified by `faults.py`.
- `intuit_tid` from every answer is kept on results and faults.
- Money: answers are parsed with `parse_float=Decimal`; request bodies are written by
  `encode_json`, which writes a Decimal as the JSON number it is (Decimal("10.10") -> 10.10)
  and refuses floats.
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

import json
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import quote as url_quote
from urllib.parse import urlencode

import requests

from reconciler import errors
from reconciler.crashpoints import crash_point
from reconciler.qbo.faults import fault_from_batch_item, fault_from_response
from reconciler.qbo.limiter import RealmLimiter

MAX_REQUEST_ID = 50
MAX_BATCH_REQUEST_ID = 36
MAX_BATCH_ITEMS = 30
MAX_QUERY_PAGES = 100_000  # a bound on query_all's loop (100 million rows)
_GET_QUERY_LIMIT = 1500  # longer statements go as POST /query (URL length)
_RETRY_AFTER_CAP = 120.0


class TokenSource(Protocol):
    """Where the client gets bearer tokens; `auth.OAuthTokenSource` is the real one."""

    def access_token(self) -> str: ...

    def refreshed_after_401(self, rejected_token: str) -> str: ...


class InvalidRequestId(ValueError):
    """A requestid QBO would not accept (empty, too long, odd characters)."""


# --- JSON ------------------------------------------------------------------------------


def encode_json(value: Any) -> str:
    """JSON text with Decimals written exactly as numbers; floats are refused (money)."""
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


def _encode(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(json.dumps(value))
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send a non-finite number: {value}")
        text = format(value, "f")
        out.append("0" if text in ("-0", "0") else text)
    elif isinstance(value, float):
        raise TypeError("floats are not sent to QBO; use Decimal (money must stay exact)")
    elif isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetimes sent to QBO must be timezone-aware")
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, date):
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be str, not {type(key).__name__}")
            if index:
                out.append(",")
            out.append(json.dumps(key))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot send a {type(value).__name__} to QBO")


def decode_json(content: bytes | str) -> Any:
    """Parse an answer; every JSON number with a fraction becomes a Decimal."""
    return json.loads(content, parse_float=Decimal)


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QBOResult:
    """One entity (or a delete acknowledgement) and the answer's tracking id."""

    entity: dict | list | None
    intuit_tid: str | None
    status: int
    attempts: int = 1


@dataclass(frozen=True)
class BatchOp:
    """One item of a /batch request: create/update/delete of an entity, or a query."""

    bid: str
    operation: str  # "create" | "update" | "delete" | "query"
    entity: str | None = None  # e.g. "PurchaseOrder" (not for queries)
    body: Mapping[str, Any] | None = None
    query: str | None = None
    sparse: bool = True  # for updates

    def to_wire(self) -> dict[str, Any]:
        if self.operation == "query":
            if not self.query:
                raise ValueError(f"batch item {self.bid}: a query item needs a statement")
            return {"bId": self.bid, "Query": self.query}
        if self.operation not in ("create", "update", "delete"):
            raise ValueError(f"batch item {self.bid}: unknown operation {self.operation!r}")
        if not self.entity or self.body is None:
            raise ValueError(f"batch item {self.bid}: {self.operation} needs entity and body")
        body = dict(self.body)
        if self.operation in ("update", "delete"):
            _require_id_and_token(body)
        if self.operation == "update" and self.sparse:
            body["sparse"] = True
        return {"bId": self.bid, "operation": self.operation, self.entity: body}


@dataclass(frozen=True)
class BatchItemResult:
    """One item's answer: an entity, a query answer, or a fault (never raised for you)."""

    bid: str
    entity_name: str | None = None
    entity: dict | None = None
    query_response: dict | None = None
    fault: errors.QBOFault | None = None
    intuit_tid: str | None = None

    @property
    def ok(self) -> bool:
        return self.fault is None


def _require_id_and_token(body: Mapping[str, Any]) -> None:
    if not body.get("Id") or body.get("SyncToken") in (None, ""):
        raise ValueError("update and delete bodies need Id and SyncToken")


def _find_key(mapping: Mapping[str, Any], name: str) -> Any:
    lowered = name.lower()
    for key, value in mapping.items():
        if key.lower() == lowered:
            return value
    return None


def validate_request_id(request_id: str, *, limit: int = MAX_REQUEST_ID) -> str:
    """QBO takes at most 50 characters (36 for /batch); we also keep to visible ASCII."""
    if not isinstance(request_id, str) or not request_id:
        raise InvalidRequestId("requestid must be a non-empty string")
    if len(request_id) > limit:
        raise InvalidRequestId(f"requestid is {len(request_id)} characters; the limit is {limit}")
    if not all("!" <= char <= "~" for char in request_id):
        raise InvalidRequestId("requestid must be visible ASCII without spaces")
    return request_id


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form); None when absent or a date."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return min(seconds, _RETRY_AFTER_CAP)


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
        self._session = session
        self._base = base_url.rstrip("/")
        self.realm_id = realm_id
        self._tokens = token_source
        self._minorversion = minorversion
        self._timeout = timeout
        self._limiter = limiter
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._on_request = on_request
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not security)
        self._monotonic = monotonic

    def __repr__(self) -> str:
        return f"QBOClient(base_url={self._base!r}, realm_id={self.realm_id!r})"

    # -- public calls --------------------------------------------------------------------

    def read(self, entity: str, id: str) -> QBOResult:
        """GET one object by Id."""
        path = f"{entity.lower()}/{url_quote(str(id), safe='')}"
        status, payload, tid, attempts = self._call("GET", entity, path)
        return QBOResult(_find_key(payload, entity), tid, status, attempts)

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
        total = _find_key(response, "totalCount")
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
        validate_request_id(request_id)
        status, payload, tid, attempts = self._call(
            "POST",
            entity,
            entity.lower(),
            body=body,
            request_id=request_id,
            repeatable=None if resend_unclear else False,
        )
        return QBOResult(_find_key(payload, entity), tid, status, attempts)

    def update(
        self, entity: str, body: Mapping[str, Any], *, request_id: str, sparse: bool = True
    ) -> QBOResult:
        """POST an update; `body` carries Id and SyncToken (a stale one gives StaleObjectFault)."""
        validate_request_id(request_id)
        _require_id_and_token(body)
        wire = dict(body)
        if sparse:
            wire["sparse"] = True
        else:
            wire.pop("sparse", None)
        status, payload, tid, attempts = self._call(
            "POST", entity, entity.lower(), body=wire, request_id=request_id
        )
        return QBOResult(_find_key(payload, entity), tid, status, attempts)

    def delete(self, entity: str, id: str, sync_token: str, *, request_id: str) -> QBOResult:
        """POST ?operation=delete; the answer's entity is `{"status": "Deleted", "Id": ...}`."""
        validate_request_id(request_id)
        status, payload, tid, attempts = self._call(
            "POST",
            entity,
            entity.lower(),
            body={"Id": str(id), "SyncToken": str(sync_token)},
            request_id=request_id,
            params={"operation": "delete"},
        )
        return QBOResult(_find_key(payload, entity), tid, status, attempts)

    def batch(
        self,
        items: Sequence[BatchOp],
        *,
        request_id: str | None = None,
        resend_unclear: bool = True,
    ) -> list[BatchItemResult]:
        """One /batch call (at most 30 items); results in the order of `items`.

        Per-item faults are returned, not raised. Without a request_id a batch that holds
        writes is not sent twice after a lost answer (UnclearOutcome at once); a batch of
        queries only is always safe to repeat.
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
        )
        answers = {}
        for answer in _find_key(payload, "BatchItemResponse") or []:
            if isinstance(answer, Mapping) and "bId" in answer:
                answers[str(answer["bId"])] = answer
        return [self._batch_item(item, answers.get(item.bid), tid) for item in items]

    # -- internals -----------------------------------------------------------------------

    def _batch_item(
        self, item: BatchOp, answer: Mapping[str, Any] | None, tid: str | None
    ) -> BatchItemResult:
        if answer is None:
            missing = errors.QBORetryableFault(
                "the batch answer had no item for this bId", code=None, intuit_tid=tid
            )
            return BatchItemResult(item.bid, item.entity, fault=missing, intuit_tid=tid)
        if _find_key(answer, "Fault") is not None:
            fault = fault_from_batch_item(answer, tid)
            return BatchItemResult(item.bid, item.entity, fault=fault, intuit_tid=tid)
        if item.operation == "query":
            return BatchItemResult(
                item.bid, None, query_response=_find_key(answer, "QueryResponse"), intuit_tid=tid
            )
        entity = _find_key(answer, item.entity or "")
        return BatchItemResult(item.bid, item.entity, entity=entity, intuit_tid=tid)

    def _query(self, statement: str) -> tuple[dict, str | None]:
        if len(statement) <= _GET_QUERY_LIMIT:
            _, payload, tid, _ = self._call("GET", "query", "query", params={"query": statement})
        else:
            _, payload, tid, _ = self._call("POST", "query", "query", text_body=statement)
        response = _find_key(payload, "QueryResponse")
        return (response if isinstance(response, dict) else {}), tid

    def _backoff(self, attempt: int) -> float:
        """Capped exponential backoff with 'equal jitter': half fixed, half random."""
        ceiling = min(self._backoff_cap, self._backoff_base * (2 ** (attempt - 1)))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _emit(self, event: dict[str, Any]) -> None:
        if self._on_request is not None:
            self._on_request(event)

    def _call(
        self,
        method: str,
        entity: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        text_body: str | None = None,
        params: Mapping[str, str] | None = None,
        request_id: str | None = None,
        batch: bool = False,
        repeatable: bool | None = None,
    ) -> tuple[int, dict, str | None, int]:
        """Send with retries; returns (status, parsed body, intuit_tid, attempts)."""
        url = f"{self._base}/{self.realm_id}/{path}"
        query: dict[str, str] = {"minorversion": str(self._minorversion)}
        if params:
            query.update(params)
        if request_id is not None:
            query["requestid"] = request_id
        headers = {"Accept": "application/json"}
        data: str | bytes | None = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = encode_json(body).encode("utf-8")
        elif text_body is not None:
            headers["Content-Type"] = "application/text"
            data = text_body.encode("utf-8")
        if repeatable is None:
            # reads repeat freely; writes only because the requestid makes them idempotent
            repeatable = method == "GET" or path == "query" or request_id is not None

        entity_label = "query" if path == "query" else entity
        attempts = 0
        refreshed_token: str | None = None
        while True:
            attempts += 1
            # ask every time: a long backoff may cross the token's expiry
            token = refreshed_token or self._tokens.access_token()
            headers["Authorization"] = f"Bearer {token}"
            started = self._monotonic()
            event: dict[str, Any] = {
                "method": method,
                "entity": entity_label,
                "attempt": attempts,
                "request_id": request_id,
            }
            try:
                if self._limiter is not None:
                    with self._limiter.slot(batch=batch):
                        response = self._send(method, url, query, headers, data)
                else:
                    response = self._send(method, url, query, headers, data)
            except (requests.ConnectionError, requests.Timeout) as exc:
                event.update(
                    status=None,
                    duration_s=self._monotonic() - started,
                    intuit_tid=None,
                    error=type(exc).__name__,
                )
                self._emit(event)
                if method == "POST" and path != "query":
                    crash_point("qbo_no_reply")  # the write may have landed; no answer read
                if repeatable and attempts < self._max_attempts:
                    self._sleep(self._backoff(attempts))
                    continue
                raise errors.UnclearOutcome(
                    f"no answer from QBO for {method} {entity_label} after {attempts} "
                    f"attempt(s) ({type(exc).__name__})",
                    code="no_answer",
                ) from None
            tid = response.headers.get("intuit_tid")
            status = response.status_code
            event.update(status=status, duration_s=self._monotonic() - started, intuit_tid=tid)
            self._emit(event)

            if 200 <= status < 300:
                payload = self._parse_success(response, tid, method, entity_label)
                if payload is not None:
                    return status, payload, tid, attempts
                fault_body: Any = response.content
            else:
                fault_body = self._parse_error_body(response)

            if status == 401 and refreshed_token is None:
                refreshed_token = self._tokens.refreshed_after_401(token)
                attempts -= 1  # the refresh retry is extra, not one of max_attempts
                continue

            fault = fault_from_response(status, fault_body, tid)
            retry = (status == 429 or status >= 500) and isinstance(fault, errors.QBORetryableFault)
            retry = retry and not isinstance(fault, errors.StaleObjectFault)
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None and isinstance(fault, errors.Retryable):
                fault.retry_after = retry_after
            if retry and attempts < self._max_attempts and (repeatable or status == 429):
                wait = fault.retry_after
                self._sleep(wait if wait is not None else self._backoff(attempts))
                continue
            raise fault

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        data: bytes | None,
    ) -> requests.Response:
        # %20 for spaces (not the form-style "+"), so the query text arrives exactly as built
        encoded = urlencode(params, quote_via=url_quote, safe="")
        return self._session.request(
            method, url, params=encoded, headers=headers, data=data, timeout=self._timeout
        )

    @staticmethod
    def _parse_error_body(response: requests.Response) -> Any:
        try:
            return decode_json(response.content)
        except ValueError:
            return response.content

    @staticmethod
    def _parse_success(
        response: requests.Response, tid: str | None, method: str, entity: str
    ) -> dict | None:
        """The parsed answer, or None when a 2xx carries a Fault (treated as a fault)."""
        try:
            payload = decode_json(response.content)
        except ValueError:
            raise errors.QBORetryableFault(
                f"QBO answered {method} {entity} with a body that is not JSON",
                code=None,
                http_status=response.status_code,
                intuit_tid=tid,
            ) from None
        if not isinstance(payload, dict):
            raise errors.QBORetryableFault(
                f"QBO answered {method} {entity} with JSON that is not an object",
                code=None,
                http_status=response.status_code,
                intuit_tid=tid,
            )
        has_fault = _find_key(payload, "Fault") is not None
        if has_fault and _find_key(payload, "BatchItemResponse") is None:
            return None
        return payload
