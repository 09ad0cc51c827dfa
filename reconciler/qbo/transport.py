"""One QBO request, from the first attempt to the answer or the fault: the HTTP edge.

What it adds to a plain `requests.Session`:

- `minorversion` on every call, `Accept: application/json`, a bearer token asked for at each
  attempt (a long back-off may cross the token's expiry); `requestid` when the caller has one.
- The realm's limiter around every attempt (`qbo.limiter`).
- No answer (timeout, reset, dropped connection): a repeatable request is sent again after a
  capped exponential back-off with jitter; otherwise, or after `max_attempts`, the caller gets
  `errors.UnclearOutcome` (the write may have happened).
- 429: QBO says wait 60 s (or `Retry-After` when given): the whole realm holds that long, then
  the same request goes again, unchanged and in the same place in line. 5xx system faults: the
  same for repeatable requests, with the capped back-off.
- 401: one refreshed token and one more attempt; a second 401 is `QBOFatalFault`.
- Every other fault is raised at once, classified by `qbo.faults`; `intuit_tid` is kept.
- The `on_request` hook gets one event per attempt (method, entity, status, duration, tid), and
  never a token: tokens live only in the Authorization header.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote as url_quote
from urllib.parse import urlencode

import requests

from reconciler import errors
from reconciler.crashpoints import crash_point
from reconciler.qbo.faults import fault_from_response
from reconciler.qbo.limiter import RealmLimiter
from reconciler.qbo.wire import decode_json, encode_json, find_key

THROTTLE_WAIT_S = 60.0  # Intuit: "wait 60 seconds before retrying"
_RETRY_AFTER_CAP = 120.0  # the longest wait inside a pass
MAX_QUIET_S = 86400.0  # the longest hold a Retry-After can ask for (a day)
_NO_ANSWER = (requests.ConnectionError, requests.Timeout)


class TokenSource(Protocol):
    """Where the client gets bearer tokens; `auth.OAuthTokenSource` is the real one."""

    def access_token(self) -> str: ...

    def refreshed_after_401(self, rejected_token: str) -> str: ...


@dataclass(frozen=True)
class Request:
    """One request as it goes on the wire, attempt after attempt."""

    method: str
    entity: str  # label for events and messages ("query" for queries)
    url: str
    params: Mapping[str, str]
    headers: Mapping[str, str]
    data: bytes | None
    request_id: str | None
    batch: bool
    repeatable: bool
    batch_patience: float | None = None  # first attempt only: see RealmLimiter.slot

    @property
    def is_write(self) -> bool:
        return self.method == "POST" and self.entity != "query"


@dataclass(frozen=True)
class Answer:
    status: int
    payload: dict
    intuit_tid: str | None
    attempts: int


def parse_retry_after(value: str | None, *, cap: float = _RETRY_AFTER_CAP) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form), at most `cap`; None when
    absent or a date."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return min(seconds, cap)


class Transport:
    """Sends requests for one realm; thread-safe as far as the session and token source are."""

    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        realm_id: str,
        tokens: TokenSource,
        *,
        minorversion: int,
        timeout: tuple[float, float],
        limiter: RealmLimiter | None,
        max_attempts: int,
        sleep: Callable[[float], None],
        backoff_base: float,
        backoff_cap: float,
        throttle_wait: float,
        on_request: Callable[[dict], None] | None,
        rng: random.Random,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._root = f"{base_url.rstrip('/')}/{realm_id}"
        self._tokens = tokens
        self._minorversion = minorversion
        self._timeout = timeout
        self._limiter = limiter
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._throttle_wait = throttle_wait
        self._on_request = on_request
        self._rng = rng
        self._monotonic = monotonic
        self._quiet_until = 0.0  # monotonic: a Retry-After not waited out (`quiet_for`)

    def quiet_for(self) -> tuple[float, str]:
        """Seconds QBO still asks us to stay away, and why (the next pass waits that long)."""
        return max(0.0, self._quiet_until - self._monotonic()), "HTTP 429 with Retry-After"

    def _refuse_while_quiet(self, request: Request) -> None:
        """QBO asked for quiet longer than a pass waits: nothing more is sent until then."""
        left = self._quiet_until - self._monotonic()
        if left > 0:
            fault = errors.ThrottledFault(
                f"QBO asked for quiet ({left:.0f}s more); {request.method} {request.entity} "
                "not sent",
                code="3001",
                http_status=429,
            )
            fault.retry_after = left
            raise fault

    def request(
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
        batch_patience: float | None = None,
    ) -> Request:
        """Build a request. Reads repeat freely; writes only when a requestid makes them
        idempotent, unless the caller says otherwise."""
        query: dict[str, str] = {"minorversion": str(self._minorversion), **(params or {})}
        if request_id is not None:
            query["requestid"] = request_id
        headers = {"Accept": "application/json"}
        data: bytes | None = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = encode_json(body).encode("utf-8")
        elif text_body is not None:
            headers["Content-Type"] = "application/text"
            data = text_body.encode("utf-8")
        if repeatable is None:
            repeatable = method == "GET" or path == "query" or request_id is not None
        label = "query" if path == "query" else entity
        return Request(
            method,
            label,
            f"{self._root}/{path}",
            query,
            headers,
            data,
            request_id,
            batch,
            repeatable,
            batch_patience,
        )

    def send(self, request: Request) -> Answer:
        """Attempts until an answer, a fault, or no more attempts."""
        attempts = 0
        refreshed: str | None = None
        self._refuse_while_quiet(request)
        while True:
            attempts += 1
            token = refreshed or self._tokens.access_token()
            try:
                response = self._attempt(request, token, attempts)
            except _NO_ANSWER as exc:
                self._wait_after_no_answer(request, exc, attempts)
                continue
            tid = response.headers.get("intuit_tid")
            if 200 <= response.status_code < 300:
                payload = _success_payload(response, tid, request)
                if payload is not None:
                    return Answer(response.status_code, payload, tid, attempts)
                body: Any = response.content
            else:
                body = _error_body(response)
            if response.status_code == 401 and refreshed is None:
                refreshed = self._tokens.refreshed_after_401(token)
                attempts -= 1  # the refresh retry is extra, not one of max_attempts
                continue
            fault = fault_from_response(response.status_code, body, tid)
            self._wait_after_fault(request, response, fault, attempts)

    def _attempt(self, request: Request, token: str, attempt: int) -> requests.Response:
        headers = {**request.headers, "Authorization": f"Bearer {token}"}
        # %20 for spaces (not the form-style "+"), so the query text arrives exactly as built
        params = urlencode(request.params, quote_via=url_quote, safe="")
        event: dict[str, Any] = {
            "method": request.method,
            "entity": request.entity,
            "attempt": attempt,
            "request_id": request.request_id,
        }
        started = self._monotonic()
        try:
            if self._limiter is not None:
                # once a batch has been sent it is a batch: patience holds for the first try
                patience = request.batch_patience if attempt == 1 else None
                with self._limiter.slot(batch=request.batch, patience=patience):
                    response = self._session.request(
                        request.method,
                        request.url,
                        params=params,
                        headers=headers,
                        data=request.data,
                        timeout=self._timeout,
                    )
                    if response.status_code == 429:  # held before the slot frees: no other
                        self._limiter.hold(self._throttle_hold(response))  # thread slips in
            else:
                response = self._session.request(
                    request.method,
                    request.url,
                    params=params,
                    headers=headers,
                    data=request.data,
                    timeout=self._timeout,
                )
        except _NO_ANSWER as exc:
            event.update(status=None, intuit_tid=None, error=type(exc).__name__)
            self._emit(event, started)
            raise
        event.update(status=response.status_code, intuit_tid=response.headers.get("intuit_tid"))
        self._emit(event, started)
        return response

    def _wait_after_no_answer(self, request: Request, exc: Exception, attempts: int) -> None:
        if request.is_write:
            crash_point("qbo_no_reply")  # the write may have landed; no answer read
        if request.repeatable and attempts < self._max_attempts:
            self._sleep(self._backoff(attempts))
            return
        raise errors.UnclearOutcome(
            f"no answer from QBO for {request.method} {request.entity} after {attempts} "
            f"attempt(s) ({type(exc).__name__})",
            code="no_answer",
        ) from None

    def _wait_after_fault(
        self,
        request: Request,
        response: requests.Response,
        fault: errors.QBOFault,
        attempts: int,
    ) -> None:
        """Sleep before the next attempt, or raise the fault."""
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        asked = parse_retry_after(response.headers.get("Retry-After"), cap=MAX_QUIET_S)
        if asked is not None and isinstance(fault, errors.Retryable):
            fault.retry_after = asked
        transient = (status == 429 or status >= 500) and isinstance(fault, errors.QBORetryableFault)
        transient = transient and not isinstance(fault, errors.StaleObjectFault)
        if not transient or attempts >= self._max_attempts or (asked or 0) > _RETRY_AFTER_CAP:
            # not waited out here (no attempt left, or longer than a pass should sleep): the
            # next pass is held until then (`sync.holds`)
            if asked and status in (429, 503):
                self._quiet_until = max(self._quiet_until, self._monotonic() + asked)
            raise fault
        if isinstance(fault, errors.ThrottledFault):
            # A throttled request did nothing: it goes again as it is, after the wait QBO
            # asks for, and no other request of the realm jumps in meanwhile.
            wait = self._throttle_hold(response)
            if self._limiter is not None and status != 429:  # (a 429 was held in its slot)
                self._limiter.hold(wait)
            self._sleep(wait)
            return
        if not request.repeatable:
            raise fault
        self._sleep(retry_after if retry_after is not None else self._backoff(attempts))

    def _throttle_hold(self, response: requests.Response) -> float:
        """How long QBO asked us to stop after a 429: `Retry-After`, else Intuit's 60 s."""
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return retry_after if retry_after is not None else self._throttle_wait

    def _backoff(self, attempt: int) -> float:
        """Capped exponential backoff with 'equal jitter': half fixed, half random."""
        ceiling = min(self._backoff_cap, self._backoff_base * (2 ** (attempt - 1)))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _emit(self, event: dict[str, Any], started: float) -> None:
        event["duration_s"] = self._monotonic() - started
        if self._on_request is not None:
            self._on_request(event)


def _error_body(response: requests.Response) -> Any:
    try:
        return decode_json(response.content)
    except ValueError:
        return response.content


def _success_payload(response: requests.Response, tid: str | None, request: Request) -> dict | None:
    """The parsed answer, or None when a 2xx carries a Fault (treated as a fault)."""
    what = f"{request.method} {request.entity}"
    try:
        payload = decode_json(response.content)
    except ValueError:
        raise errors.QBORetryableFault(
            f"QBO answered {what} with a body that is not JSON",
            code=None,
            http_status=response.status_code,
            intuit_tid=tid,
        ) from None
    if not isinstance(payload, dict):
        raise errors.QBORetryableFault(
            f"QBO answered {what} with JSON that is not an object",
            code=None,
            http_status=response.status_code,
            intuit_tid=tid,
        )
    if find_key(payload, "Fault") is not None and find_key(payload, "BatchItemResponse") is None:
        return None
    return payload
