"""GET requests to the Luminous External API, with retries at the edge, and page walks.

Transport (see /work/shared/luminous-api.md and LuminousInventory/luminous-cli, whose
client/http.py sends `Authorization: Bearer`, reads `{"data", "meta"}`, and retries 429 by
`Retry-After`): this client also retries 5xx, resets and timeouts with capped exponential
backoff and jitter, parses JSON with `parse_float=Decimal`, and never reads the environment.

    ReconcilerError
    ├── LuminousUnavailable (Retryable)   429 / 5xx / connection trouble after `max_attempts`,
    │                                     or a `Retry-After` longer than `backoff_cap`
    │                                     (`retry_after` set: the pass should wait that long)
    ├── LuminousAuthError (Fatal)         401 / 403: the API token is wrong; never retried
    └── LuminousRequestError (Fatal)      other 4xx on a read: the base URL or an assumption
                                          about the API is wrong; retrying will not help

Paging trusts only data (`walk`): `meta.last_page` has been seen to lie, and the official CLI,
which trusts it, would stop after page 1. A walk goes on while pages come back full, or while
`meta` claims more; it ends at a short page that `meta` does not contradict, at an empty page,
or with an error when the server repeats a page (it ignores `page`) or passes `max_pages`.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from reconciler.crashpoints import crash_point
from reconciler.errors import Fatal, LuminousAuthError, LuminousHTTPError, LuminousUnavailable

MAX_PER_PAGE = 100
MAX_PAGES = 10_000  # a bound on every walk (a million rows at 100 a page)
RETRYABLE_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


class LuminousRequestError(LuminousHTTPError, Fatal):
    """Luminous refused a read we built (404 on a list, 400, 422): configuration is wrong."""


class LuminousHTTP:
    """One Luminous account's GETs; counts its requests and remembers the server's clock."""

    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        token: str,
        *,
        per_page: int,
        max_attempts: int,
        backoff_base: float,
        backoff_cap: float,
        timeout: float,
        sleep: Callable[[float], None],
        rng: random.Random | None,
    ) -> None:
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be 1..{MAX_PER_PAGE}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.session = session
        self.base_url = base_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.per_page = per_page
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.timeout = timeout
        self.sleep = sleep
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)
        self.last_date: datetime | None = None
        self.last_total: int | None = None  # the last list page's `meta.total`, if it had one
        self.requests = 0
        self._counting = threading.Lock()  # (two probes of a key read go at once)
        self._quiet_until = 0.0  # monotonic: a Retry-After this client could not wait out
        self._quiet_reason = ""

    def rows(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        return self.list(path, params)["data"]

    def list(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        """One page of a list: `{"data": [objects], "meta": ...}`, checked."""
        params = {"per_page": str(self.per_page), **params}
        body = self.get(path, params)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise LuminousUnavailable(f"unexpected list body from {path}", status=200)
        self.last_total = total_of(body)
        crash_point("page_read")
        return body  # type: ignore[return-value]

    def walk(
        self, path: str, params: dict[str, str], *, id_field: str = "id"
    ) -> Iterator[dict[str, Any]]:
        """Every page of a list, page by page, ended by what the pages hold (module docstring)."""
        asked = int(params.get("per_page", self.per_page))
        previous: list[Any] | None = None
        for page in range(1, MAX_PAGES + 1):
            body = self.list(path, {**params, "page": str(page)})
            rows = body["data"]
            yield body
            ids = [row.get(id_field) for row in rows]
            if not rows or (len(rows) < asked and not _meta_claims_more(body, page)):
                return
            if ids == previous:
                raise LuminousUnavailable(
                    f"Luminous answered page {page} of {path} with the rows of page {page - 1}: "
                    "it does not page; nothing beyond was read",
                    status=200,
                )
            previous = ids
        raise LuminousUnavailable(f"{path} has more than {MAX_PAGES} pages", status=200)

    def get(self, path: str, params: dict[str, str], *, allow_404: bool = False) -> Any:
        quiet, _ = self.quiet_for()
        if quiet > 0:  # Luminous asked for quiet: nothing more is sent until then
            failure = LuminousUnavailable(f"Luminous asked for quiet ({quiet:.0f}s more)")
            failure.retry_after = quiet
            raise failure
        url = self.base_url + path
        failure: LuminousUnavailable
        for attempt in range(1, self.max_attempts + 1):
            with self._counting:
                self.requests += 1
            try:
                response = self.session.get(
                    url, params=params, headers=self._auth, timeout=self.timeout
                )
            except RETRYABLE_EXCEPTIONS as exc:
                failure = LuminousUnavailable(f"Luminous unreachable ({type(exc).__name__})")
                delay = self._backoff(attempt)
            else:
                self._note_date(response)
                outcome = self._answer(response, path, allow_404, attempt)
                if not isinstance(outcome, tuple):
                    return outcome
                failure, delay = outcome
            if attempt < self.max_attempts:
                self.sleep(delay)
        self._quiet(failure)
        raise failure

    def quiet_for(self) -> tuple[float, str]:
        """Seconds Luminous still asks us to stay away (a `Retry-After` not waited out in
        this pass), and why: the next pass is held that long (`sync.holds`)."""
        return max(0.0, self._quiet_until - time.monotonic()), self._quiet_reason

    def _quiet(self, failure: LuminousUnavailable) -> None:
        if failure.retry_after:
            self._quiet_until = max(self._quiet_until, time.monotonic() + failure.retry_after)
            self._quiet_reason = f"HTTP {failure.status} with Retry-After"

    def _answer(self, response: requests.Response, path: str, allow_404: bool, attempt: int) -> Any:
        """The parsed body, or (the failure, the delay before trying again)."""
        status = response.status_code
        if status in (401, 403):
            raise LuminousAuthError(
                f"Luminous refused the API token ({status}): check luminous.api_token",
                status=status,
            )
        if status == 404 and allow_404:
            return None
        if status == 429 or status >= 500:
            failure = LuminousUnavailable(f"Luminous answered {status}", status=status)
            wait = _retry_after(response, self.last_date) if status == 429 else None
            failure.retry_after = wait
            if wait is not None and wait > self.backoff_cap:
                self._quiet(failure)
                raise failure
            return failure, (wait if wait is not None else self._backoff(attempt))
        if status >= 400:
            raise LuminousRequestError(
                f"Luminous answered {status} for GET {path}: {_message(response)}",
                status=status,
            )
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError:
            failure = LuminousUnavailable("malformed JSON from Luminous", status=status)
            return failure, self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        """Capped exponential with equal jitter: half fixed, half random."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def _note_date(self, response: requests.Response) -> None:
        header = response.headers.get("Date")
        if not header:
            return
        try:
            parsed = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        self.last_date = parsed.astimezone(UTC)


def int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def ascending_ids(ids: Sequence[int | None], *, after: int) -> list[int] | None:
    """The ids of a page asked for as `id[gt]=after&sort=id:asc`, or None when the server did
    not serve it so: an id missing, repeated, out of order, or not after `after`."""
    known = [i for i in ids if i is not None]
    if len(known) != len(ids) or known != sorted(set(known)) or (known and known[0] <= after):
        return None
    return known


def total_of(body: dict[str, Any]) -> int | None:
    meta = body.get("meta")
    return int_or_none(meta.get("total")) if isinstance(meta, dict) else None


def _meta_claims_more(body: dict[str, Any], page: int) -> bool:
    meta = body.get("meta")
    if not isinstance(meta, dict):
        return False
    last = int_or_none(meta.get("last_page"))
    return last is not None and last > page


def _retry_after(response: requests.Response, server_now: datetime | None) -> float | None:
    """Seconds from `Retry-After` (delta-seconds or an HTTP date); None when absent/garbled."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    reference = server_now or datetime.now(UTC)
    return max(0.0, (when - reference) / timedelta(seconds=1))


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("message") or body)[:200]
    return str(body)[:200]
