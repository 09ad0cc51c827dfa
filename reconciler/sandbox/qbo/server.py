"""A QuickBooks Online Accounting API v3 emulator: a real HTTP server on 127.0.0.1.

The client, the engine, the crash tests and the benchmarks all talk to it over the same wire
protocol a real company answers with. Imports nothing from `reconciler` outside this package
(a bug shared with the client would hide itself).

Layout: `qbo_store` (the company: objects, write rules, query, CDC), `qbo_query` (the query
language), `qbo_auth` (OAuth, apps), `qbo_limits` (rate limits), `qbo_wire` (JSON, faults,
times), `qbo_seed` (default data), this module (HTTP, fault injection, test controls, `serve`);
entities beyond the PO: `qbo_bills` (Bill and its PO links), `qbo_payments` (BillPayment and
its void), `qbo_credits` (VendorCredit, its applications, the closing date),
`qbo_tax` (TaxCode, TaxRate, tax computation), `qbo_classes` (Class, Department, plan limits),
`qbo_lines` (line Ids), `qbo_settings` (country, edition, duplicate-number preference).

Where Intuit's documentation was unsure or silent, this is what the emulator does and why
(sources: developer.intuit.com pages and public issue threads, found with the project's search):

- minorversion: missing, non-numeric or below 75 is answered as 75, no error (Intuit's 2025
  minor version notice, qbo-api.md); the effective version is in the request log.
- Amount != Qty * UnitPrice (compared after rounding both to the cent): 400 ValidationFault
  6070 "Amount calculation incorrect in the request", Detail "Amount is not equal to UnitPrice *
  Qty. Supplied value:X" (Intuit's IPP error code table).
- 6240 duplicate name: Message "Duplicate Name Exists Error", Detail "The name supplied already
  exists. : Another customer, vendor or employee is already using this name. Please use a
  different name." (QuickBooks-V3-PHP-SDK #241). Names compare case-insensitively with inner
  whitespace collapsed; inactive records keep their names (the classic reason for 6240).
  Items and accounts have their own name lists with the same code.
- DisplayName is trimmed; colon, tab or newline in it: 6000 business validation (the exact QBO
  text could not be found; quickbooks-ruby refuses colons client-side for the same reason).
  Max 500 characters. Item Name max 100, colon refused (reserved for "Parent:Child").
- Request bodies go through Intuit's schema first (qbo_schema, a table generated from the XSD
  and the API reference by scripts/qbo_schema.py): property names at every depth (2010 in
  Jackson's words, as recorded), value shapes, dates (a date-time is its date; garbage 2010),
  documented maximum lengths in Java characters (2050 "String length is either shorter or
  longer than supported by specification", Detail "String length specified does not match the
  supported length. Min:0 Max:21 supported. Supplied length:45", element the field).
- 5010 "Stale Object Error", Detail "Stale Object Error : You and <user> were working on this at
  the same time. <user> finished before you did, so your work was not saved." (python-quickbooks
  #127, QuickBooks-V3-DotNET-SDK #366).
- 610 "Object Not Found" for an unknown or deleted id and for a reference to an inactive record;
  2500 "Invalid Reference Id : Names element id 970 not found" for a reference to an unknown id.
- 6140 "Duplicate Document Number Error", Detail "... You must specify a different number. This
  number has already been used. DocNumber=X is assigned to TxnType=PurchaseOrder with TxnId=N".
  It follows the company preference Preferences.OtherPrefs "WarnDuplicateBillNumber" (Intuit's
  Preferences reference; with "VendorAndPurchasesPrefs.UseCustomTxnNumbers" true), which
  `emu.duplicate_docnumber_check` and /__admin/settings read and write (default on); QBO has no
  PO-specific flag, so POs follow it too. Bills are checked per vendor. include=
  allowduplicatedocnum on a create or update skips the check for that write (Intuit's DocNumber
  docs); inside /batch it is not honoured (how QBO takes it there is undocumented).
- Closed POs: real QBO lets an API client edit a closed PO and reopen it (POStatus back to Open;
  ApprovalMax documents reversing Closed through the API), so edits are allowed by default;
  `emu.refuse_closed_po_edits = True` turns them into a 6000 fault for tests of that path.
  A PO carrying LinkedTxn (copied to a bill) cannot be deleted or moved to another vendor: 6000.
- Deleting a vendor, customer, employee, item or account: 500 "Unsupported Operation"
  (they are made inactive instead). A path with more segments than {entity}/{id}
  (customer/1/5) is 400 code 500 "Unsupported Operation" (minimul/qbo_api #81's Detail); an id
  that is not a whole number (customer/1.5) is 2030 "Invalid ID".
- Answers as recorded (../shared/qbo-reference/recorded, replayed by
  tests/contract/test_qbo_recordings.py): projection rows "sparse": true; an unbilled PO
  "LinkedTxn": []; every bill line "LinkedTxn" ([] unlinked), an unlinked bill none; line
  amounts to the cent (50.00); vendors Vendor1099 and addresses with an Id; MetaData
  LastModifiedByRef on transactions; no totalCount in CDC; faults without an empty element;
  401 with WWW-Authenticate.
- Queries: parser faults 4000 "Error parsing query" with "QueryParserError: ..." (node-quickbooks
  #56); unknown entity: 4001 "Invalid query". A WHERE on a field outside the entity's row of
  `qbo_store.FILTERABLE`: 4001 "Invalid query", Detail "QueryValidationError: property 'X' is not
  queryable" (QBO's answer quoted in quickbooks-ruby #403; AcctNum likewise in
  QuickBooks-V3-DotNET-SDK #163). MAXRESULTS above 1000: 4001 "Invalid query", Detail
  "QueryValidationError: value 1500 is too large. Max allowed value is 1000" (quickbooks-ruby
  #24), refused, not capped; default 100, STARTPOSITION 1-based. Inactive records are left out
  unless the WHERE clause names `Active`. String comparison is case-insensitive. ORDERBY is not
  checked against a sortable list (none was found). A field list in SELECT is answered with only
  those fields and Id: Intuit's data-queries page says projections are unsupported, public
  clients use them anyway (see qbo_query).
- Limits (developer.intuit.com "API call limits and throttles", 2016 concurrency blog; details in
  qbo_limits), all at once: 500 requests/min per realm over all apps, 10 requests/s and 10 in
  flight per realm and app, 40 batch requests/min per realm and app, 120 batch requests/min per
  realm over all apps. "App" is the OAuth client the bearer token was issued to
  (`register_app`, `issue_tokens(client_id)`). Past any of them: 429 with the 3001 throttle
  fault, counted against nothing; `throttle_xml` answers it as XML (see qbo_wire). 30 items per
  batch: more is 400 fault 1040 "Batch size exceeds allowed limit".
- 401/403 token faults come in the gateway's lowercase envelope (see qbo_wire), 3200
  AuthenticationFailed and 3100 ApplicationAuthorizationFailed (token for another realm).
- requestid: the same id on the same realm answers the stored first answer, status and body,
  with a fresh intuit_tid; only answers the service produced are stored (not 401/429 or injected
  faults). Longer than 50 characters (36 for /batch): 2050 on element requestid (the limit is
  documented, the fault for breaking it is not).
- CDC (developer.intuit.com "Change data capture operation" page): `changedSince` more than 30
  days back: 400 fault 2010 on element changedSince (limit documented, fault code not found); at
  most 1000 objects per entity (the page says "a maximum of 1,000 objects"), oldest change first;
  deleted objects come back as {"domain": "QBO", "status": "Deleted", "Id": ...}. Every app sees
  every change (CDC reads the company, not the app's own writes). TaxCode and TaxRate are
  refused like an unknown name (qbo-api.md: CDC does not cover them; the fault is a guess).
- CDC precision (undocumented): each change is stamped at the clock's full (microsecond)
  precision, strictly increasing, and `changedSince` is compared with that stamp, not with the
  whole-second `MetaData.LastUpdatedTime`. The answer's `time` is a stamp taken under the company
  lock after the changes it holds, cut to the millisecond: asking again from it repeats at most
  that millisecond's changes and never misses a later one. A query's WHERE on
  MetaData.LastUpdatedTime still compares the rendered second, the value a client can see.
- Times are UTC on the emulator's own clock (moved by `advance_clock`). MetaData times render as
  QBO renders them, to the second with an offset (`2015-07-24T10:33:39-07:00`; here +00:00, the
  company's time zone being Etc/UTC); answer `time` with milliseconds. Rate windows use the real
  monotonic clock (`limits_clock`, injectable for tests) so benchmarks measure what they should.
- Line Ids (Intuit's Line.Id on PurchaseOrder and Bill): a line sent with an Id the object has
  keeps it; a line without one, or with an Id <= 0 or unknown, is new and gets one past the
  highest Id the object ever had (never a removed line's); left-out lines are removed, by a full
  update or by a sparse one that sends Line. LineNum is renumbered 1..n. Details: qbo_lines.
- Bills linked to PO lines (qbo_bills): a link QBO cannot make is dropped silently, the bill is
  made (qbo-api.md, python-quickbooks #366, simstudioai/sim #6194); a PO whose lines are all
  billed (Qty, else Amount; over-billing allowed) is closed by QBO and reopened if the bill goes;
  billed lines show the read-only Line.Received (Finance.xsd, QuickBooks-V3-Java-SDK #206);
  edits breaking a link are 6000 (the texts are the emulator's: QBO's are not public).
- BillPayment (qbo_payments) lowers Bill.Balance; a paid bill cannot be deleted (Intuit: unlink
  first), moved to another vendor, or cut below what is paid (6000, wording chosen here).
  `emu.pay_bill(bill_id, amount)` / POST /__admin/pay_bill pays by check. A BillPayment line
  linked to a VendorCredit applies the credit (its Balance falls; TotalAmt is bills less
  credits); `operation=update&include=void` voids a BillPayment. VendorCredit (qbo_credits) as
  Intuit's reference has it. The closing date (`emu.book_close_date`, setting
  "book_close_date") refuses Bills, BillPayments and VendorCredits dated on or before it: 6210.
- Country (qbo_settings, qbo_tax): `emu.country` / QBOEmulator(country=...) / settings
  "country" in US, GB (or UK), CA, AU: CompanyInfo.Country, home currency, TaxPrefs and that
  country's TaxCodes and TaxRates; outside the US every purchase line needs a TaxCodeRef with
  purchase rates (6000 "Make sure all your transactions have a VAT rate before you save." in the
  UK, qbo-api.md; "GST/HST" and "GST" wording for CA and AU by analogy) and tax is computed from
  GlobalTaxCalculation line by line (each line's tax rounded, then added), a TaxInclusive
  line's Amount read as the net and its gross from TaxInclusiveAmt (sources and worked figures
  in qbo_tax). "GB" as
  CompanyInfo.Country (not "UK") is the ISO code QBO uses for "US"; not confirmed for the UK.
- Edition (qbo_classes): `emu.edition` / QBOEmulator(edition=...) / settings "edition" in Simple
  Start, Essentials, Plus (default), Advanced. Intuit's usage-limits article: no classes or
  locations below Plus, 40 active together in Plus, no limit in Advanced; enforced through the
  API (qbo-api.md) with 6000 faults whose wording is the emulator's. Purchase orders are a Plus
  feature in QBO, but the emulator still accepts them in lower editions (what the API answers
  there was not found); OtherPrefs VendorAndPurchasesPrefs.PurchseOrderEnabled shows false.
- `emu.edit_as_other_user(entity, id, changes)` / POST /__admin/edit: a sparse update as a QBO
  user would make it, so a client's SyncToken goes stale (5010).
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from reconciler.sandbox.qbo import seed as qbo_seed
from reconciler.sandbox.qbo import store as qbo_store
from reconciler.sandbox.qbo.auth import OAuthError, TokenAuthority
from reconciler.sandbox.qbo.limits import LimitSettings, RateLimits
from reconciler.sandbox.qbo.schema import SCHEMA
from reconciler.sandbox.qbo.store import APP_USER_ID, ENTITIES, OTHER_USER_ID, Company
from reconciler.sandbox.qbo.wire import (
    XML_TYPE,
    QBOFault,
    dumps,
    fault_body,
    gateway_fault_body,
    iso_millis,
    loads,
    new_intuit_tid,
    throttle_fault,
    throttle_fault_xml,
)

__all__ = ["FaultRule", "QBOEmulator", "serve"]

DEFAULT_REALM = "9341453172"
LATEST_MINOR_VERSION = 75
BATCH_MAX_ITEMS = 30
REQUESTID_MAX = 50
BATCH_REQUESTID_MAX = 36
DISCOVERY_PATH = "/.well-known/openid_configuration/"
AUTHORIZE_PATH = "/connect/oauth2"
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
REVOKE_PATH = "/v2/oauth2/tokens/revoke"
USERINFO_PATH = "/v1/openid_connect/userinfo"
JWKS_PATH = "/op/v1/jwks"
API_PREFIX = "/v3/company/"
ADMIN_PREFIX = "/__admin/"
JSON_TYPE = "application/json;charset=UTF-8"
BEARER_CHALLENGE = 'Bearer realm="Intuit", error="invalid_token"'
ACTIONS = ("status", "latency", "drop_after_commit", "reset")
LIMIT_SETTINGS = (
    "requests_per_minute",
    "requests_per_second",
    "max_concurrent",
    "batches_per_minute",
    "realm_batches_per_minute",
)


@dataclass
class FaultRule:
    """Make matching requests fail: answer `status`, add `latency`, drop or reset the connection.

    `path_regex` is searched in the request target (path and query string). The rule lets the
    first `after` matches through, then fires `times` times (None: for ever).
    """

    method: str | None = None
    path_regex: str = ".*"
    action: str = "status"
    status: int = 503
    body: Any = None
    latency: float = 0.0
    times: int | None = 1
    after: int = 0
    headers: dict[str, str] | None = None  # extra answer headers (e.g. Retry-After)
    seen: int = field(default=0, compare=False)
    fired: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        self.latency = float(self.latency)
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, not {self.action!r}")
        re.compile(self.path_regex)

    def take(self, method: str, target: str) -> bool:
        """Whether this rule fires for a request (counting it)."""
        if self.method and self.method.upper() != method.upper():
            return False
        if not re.search(self.path_regex, target):
            return False
        self.seen += 1
        if self.seen <= self.after:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True


class _Clock:
    """The emulator's wall clock: real UTC time plus an offset tests can move forward."""

    def __init__(self) -> None:
        self.offset = timedelta()
        self.lock = threading.Lock()

    def now(self) -> datetime:
        with self.lock:
            return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.offset += timedelta(seconds=seconds)


@dataclass
class _Answer:
    """An HTTP answer being built."""

    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Request:
    """What the handler read off the socket."""

    method: str
    target: str
    path: str
    query: dict[str, str]
    headers: Any
    body: bytes
    intuit_tid: str
    entry: dict


def _json_answer(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Answer:
    return _Answer(status, dumps(payload).encode(), JSON_TYPE, headers or {})


class _Handler(BaseHTTPRequestHandler):
    """One thread per request; everything is delegated to the emulator."""

    protocol_version = "HTTP/1.1"
    server_version = "QBOEmulator/1.0"

    def setup(self) -> None:
        """No Nagle: small answers go out at once instead of waiting on a delayed ACK."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self.server.emulator._handle(self)  # type: ignore[attr-defined]

    do_POST = do_GET
    do_DELETE = do_GET
    do_PUT = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the emulator keeps its own request log."""


class QBOEmulator:
    """The emulator and its Python test controls (see the module docstring for behaviour)."""

    def __init__(
        self,
        realm_id: str = DEFAULT_REALM,
        requests_per_minute: int | None = 500,
        max_concurrent: int | None = 10,
        batches_per_minute: int | None = 40,
        latency: float = 0.0,
        requestid_replay: bool = True,
        client_id: str = "emu-client",
        client_secret: str = "emu-secret",
        requests_per_second: int | None = 10,
        realm_batches_per_minute: int | None = 120,
        throttle_xml: bool = False,
        limits_clock: Callable[[], float] = time.monotonic,
        country: str = "US",
        edition: str = "Plus",
        refresh_grace: float = 0.0,
    ) -> None:
        self.realm_id = realm_id
        self.requests_per_minute = requests_per_minute
        self.max_concurrent = max_concurrent
        self.batches_per_minute = batches_per_minute
        self.requests_per_second = requests_per_second
        self.realm_batches_per_minute = realm_batches_per_minute
        self.throttle_xml = throttle_xml
        self.latency = latency
        self.requestid_replay = requestid_replay
        self.client_id = client_id
        self.client_secret = client_secret
        self._clock = _Clock()
        self.company = Company(realm_id, self._clock.now, country=country, edition=edition)
        self.auth = TokenAuthority(
            client_id, client_secret, self._clock.now, timedelta(seconds=refresh_grace)
        )
        self._limits = RateLimits(limits_clock)
        self._faults: list[FaultRule] = []
        self._faults_lock = threading.Lock()
        self._log: list[dict] = []
        self._log_lock = threading.Lock()
        self._replies: dict[tuple[str, str], tuple[int, bytes]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, port: int = 0) -> QBOEmulator:
        """Listen on 127.0.0.1:port (0 picks a free port) in a daemon thread."""
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        server.daemon_threads = True
        server.emulator = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="qbo-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (idempotent)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    def __enter__(self) -> QBOEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("emulator is not running")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """Host root, e.g. http://127.0.0.1:PORT."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """API root without the realm: the client appends /{realm}/{entity}."""
        return f"{self.base_url}/v3/company"

    @property
    def discovery_url(self) -> str:
        """OpenID discovery document; pass as intuitlib AuthClient(environment=...)."""
        return f"{self.base_url}{DISCOVERY_PATH}"

    # --- data ---------------------------------------------------------------------------------

    def seed_default(self) -> None:
        """Default accounts, vendors, customers, employees and items (some inactive)."""
        qbo_seed.seed_default(self.company)

    def seed(self, entity: str, obj: dict) -> dict:
        """Add any object through QBO's rules (Id may be given; LinkedTxn is kept)."""
        if entity not in ENTITIES.values():
            raise ValueError(f"unknown entity {entity!r}")
        try:
            return self.company.create(entity, obj, seeding=True)
        except QBOFault as exc:
            raise ValueError(f"seed refused: {exc}") from exc

    def objects(self, entity: str, include_inactive: bool = True) -> list[dict]:
        """Every stored object of an entity (copies)."""
        return self.company.all(entity, include_inactive)

    def get(self, entity: str, object_id: str) -> dict | None:
        """One stored object (a copy) or None."""
        return self.company.get(entity, object_id)

    @property
    def duplicate_docnumber_check(self) -> bool:
        """QBO's 'warn on duplicate document number' preference (6140); on by default."""
        return self.company.duplicate_docnumber_check

    @duplicate_docnumber_check.setter
    def duplicate_docnumber_check(self, value: bool) -> None:
        self.company.duplicate_docnumber_check = value

    @property
    def refuse_closed_po_edits(self) -> bool:
        """Refuse edits to Closed POs with 6000 (off by default, as QBO allows them)."""
        return self.company.refuse_closed_po_edits

    @refuse_closed_po_edits.setter
    def refuse_closed_po_edits(self, value: bool) -> None:
        self.company.refuse_closed_po_edits = value

    @property
    def book_close_date(self) -> str | None:
        """The closing date ("YYYY-MM-DD"; None: books open): a Bill, BillPayment or
        VendorCredit dated on or before it is refused with 6210 (qbo_credits)."""
        return self.company.book_close_date

    @book_close_date.setter
    def book_close_date(self, value: str | None) -> None:
        self.company.book_close_date = value

    @property
    def country(self) -> str:
        """The company's country (US, GB, CA, AU; UK is taken for GB): CompanyInfo.Country,
        home currency, TaxPrefs and the seeded TaxCodes/TaxRates follow it (qbo_settings)."""
        return self.company.country

    @country.setter
    def country(self, value: str) -> None:
        self.company.set_country(value)

    @property
    def edition(self) -> str:
        """The QBO plan (Simple Start, Essentials, Plus, Advanced): classes, locations, limits."""
        return self.company.edition

    @edition.setter
    def edition(self, value: str) -> None:
        self.company.set_edition(value)

    def pay_bill(self, bill_id: str, amount: Any) -> dict:
        """Pay `amount` of a bill by check (a real BillPayment, as a user in QBO would)."""
        return self.company.pay_bill(str(bill_id), amount)

    def edit_as_other_user(self, entity: str, object_id: str, changes: dict) -> dict:
        """A sparse update by someone else in QBO: the client's SyncToken goes stale."""
        with self.company.lock:
            current = self.company.read(entity, object_id)
            body = {"Id": current["Id"], "SyncToken": current["SyncToken"], "sparse": True}
            self.company.acting_user = OTHER_USER_ID
            try:
                return self.company.update(entity, body | changes)
            finally:
                self.company.acting_user = APP_USER_ID

    def forget_requestids(self) -> None:
        """Drop stored requestid answers (as if QBO's memory of them had expired)."""
        with self.company.lock:
            self._replies.clear()

    # --- auth ---------------------------------------------------------------------------------

    def register_app(self, client_id: str, client_secret: str) -> None:
        """Register another app (OAuth client): its tokens get their own per-app limits."""
        self.auth.register_app(client_id, client_secret)

    @property
    def apps(self) -> list[str]:
        """The client ids of the registered apps (the default one first)."""
        return list(self.auth.apps)

    def in_flight(self, client_id: str | None = None) -> int:
        """Requests of an app (default: the first) admitted and not yet answered."""
        return self._limits.in_flight(self.realm_id, client_id or self.client_id)

    def issue_tokens(self, client_id: str | None = None) -> dict:
        """A fresh connection without the browser flow, for the default app or `client_id`."""
        tokens = self.auth.issue(self.realm_id, client_id)
        return {
            k: tokens[k]
            for k in (
                "access_token",
                "refresh_token",
                "expires_in",
                "x_refresh_token_expires_in",
                "realm_id",
            )
        }

    def authorization_code(self, realm_id: str | None = None, redirect_uri: str | None = None):
        """The code the consent page would redirect with."""
        return self.auth.new_code(realm_id or self.realm_id, redirect_uri)

    def revoke_all_tokens(self) -> None:
        """Disconnect every connection: refresh gets invalid_grant, API calls 401."""
        self.auth.revoke_all()

    # --- faults, log, clock -------------------------------------------------------------------

    def add_fault(self, rule: FaultRule) -> FaultRule:
        """Install a fault rule (rules are tried in the order they were added)."""
        with self._faults_lock:
            self._faults.append(rule)
        return rule

    def clear_faults(self) -> None:
        with self._faults_lock:
            self._faults.clear()

    @property
    def request_log(self) -> list[dict]:
        """Every non-admin request: method, path, query, status, requestid, intuit_tid, time..."""
        with self._log_lock:
            return [dict(entry) for entry in self._log]

    def count(self, method=None, path_contains=None, status=None) -> int:
        """How many logged requests match all the given filters."""
        return sum(
            1
            for e in self.request_log
            if (method is None or e["method"] == method.upper())
            and (path_contains is None or path_contains in e["path"])
            and (status is None or e["status"] == status)
        )

    def reset_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock (token expiry, MetaData times, CDC windows)."""
        self._clock.advance(seconds)

    def now(self) -> datetime:
        return self._clock.now()

    # --- request handling ---------------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        method = handler.command
        parts = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if parts.path.startswith(ADMIN_PREFIX):
            body = self._read_body(handler)
            self._send(handler, self._admin(method, parts.path, query, body), new_intuit_tid())
            return
        tid = new_intuit_tid()
        entry = {
            "method": method,
            "path": parts.path,
            "query": query,
            "status": None,
            "requestid": query.get("requestid"),
            "intuit_tid": tid,
            "time": iso_millis(self.now()),
            "minorversion": None,
            "outcome": "answered",
        }
        rule = self._fire_rule(method, handler.path)
        if rule is not None and rule.action == "reset":
            self._finish(entry, None, "reset")
            self._abort(handler, reset=True)
            return
        body = self._read_body(handler)
        if len(body) < int(handler.headers.get("Content-Length") or 0):
            # The client went away mid-request (killed, connection lost): like any HTTP server,
            # nothing is processed and nothing is remembered for its requestid.
            self._finish(entry, None, "incomplete")
            self._abort(handler, reset=True)
            return
        request = _Request(
            method, handler.path, parts.path, query, handler.headers, body, tid, entry
        )
        if rule is not None and rule.action == "status":
            answer = self._injected_answer(rule)
            self._finish(entry, answer.status, "injected")
            self._send(handler, answer, tid)
            return
        answer = self._route(request, rule)
        if rule is not None and rule.action == "drop_after_commit":
            self._finish(entry, answer.status, "dropped")
            self._abort(handler, reset=False)
            return
        self._finish(entry, answer.status, entry["outcome"])
        self._send(handler, answer, tid)

    def _route(self, request: _Request, rule: FaultRule | None) -> _Answer:
        if request.path.startswith(API_PREFIX):
            return self._api(request, rule)
        self._sleep(rule.latency if rule is not None and rule.action == "latency" else 0.0)
        try:
            return self._oauth(request)
        except OAuthError as exc:
            return _Answer(exc.status, json.dumps(exc.body()).encode())

    def _fire_rule(self, method: str, target: str) -> FaultRule | None:
        with self._faults_lock:
            return next((r for r in self._faults if r.take(method, target)), None)

    def _finish(self, entry: dict, status: int | None, outcome: str) -> None:
        entry["status"] = status
        entry["outcome"] = outcome
        with self._log_lock:
            self._log.append(entry)

    @staticmethod
    def _read_body(handler: _Handler) -> bytes:
        length = int(handler.headers.get("Content-Length") or 0)
        return handler.rfile.read(length) if length else b""

    @staticmethod
    def _send(handler: _Handler, answer: _Answer, tid: str) -> None:
        handler.send_response(answer.status)
        handler.send_header("Content-Type", answer.content_type)
        handler.send_header("Content-Length", str(len(answer.body)))
        handler.send_header("intuit_tid", tid)
        for name, value in answer.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(answer.body)
        handler.wfile.flush()

    @staticmethod
    def _abort(handler: _Handler, *, reset: bool) -> None:
        """Close the connection without an answer (RST for reset, FIN after a commit)."""
        sock = handler.connection
        handler.close_connection = True
        try:
            if reset:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        except OSError:
            pass

    @staticmethod
    def _sleep(seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def _injected_answer(self, rule: FaultRule) -> _Answer:
        answer = self._injected_body(rule)
        answer.headers.update(rule.headers or {})
        return answer

    def _injected_body(self, rule: FaultRule) -> _Answer:
        if isinstance(rule.body, str | bytes):
            raw = rule.body.encode() if isinstance(rule.body, str) else rule.body
            return _Answer(rule.status, raw)
        if rule.body is not None:
            return _json_answer(rule.status, rule.body)
        if rule.status == 429:
            return self._throttled()
        if rule.status == 401:
            return self._unauthorised("Token expired")
        system = QBOFault(
            "10000",
            "An application error has occurred while processing your request",
            "System Failure Error: An unexpected error occurred.",
            status=rule.status,
            fault_type="SystemFault",
        )
        return _json_answer(rule.status, fault_body(system, self.now()))

    # --- the v3 API ---------------------------------------------------------------------------

    def _api(self, request: _Request, rule: FaultRule | None) -> _Answer:
        realm, _, rest = request.path[len(API_PREFIX) :].partition("/")
        request.entry["minorversion"] = self._minor_version(request.query)
        refusal = self._check_bearer(request, realm)
        if refusal is not None:
            return refusal
        is_batch = rest.strip("/").lower() == "batch"
        app = self._bearer_app(request)
        request.entry["app"] = app
        admitted = self._limits.admit(realm, app, is_batch, self.limit_settings)
        if admitted is None:
            request.entry["outcome"] = "throttled"
            return self._throttled()
        request.entry["admitted_at"] = admitted
        try:
            extra = rule.latency if rule is not None and rule.action == "latency" else 0.0
            self._sleep(self.latency + extra)
            return self._answer_once(request, rest, is_batch)
        finally:
            self._limits.release(realm, app)

    @property
    def limit_settings(self) -> LimitSettings:
        """The limits in force now (each is a setting tests may change while running)."""
        return LimitSettings(
            requests_per_minute=self.requests_per_minute,
            requests_per_second=self.requests_per_second,
            max_concurrent=self.max_concurrent,
            batches_per_minute=self.batches_per_minute,
            realm_batches_per_minute=self.realm_batches_per_minute,
        )

    def _bearer_app(self, request: _Request) -> str:
        """The client id the (already checked) bearer token was issued to."""
        token = (request.headers.get("Authorization") or "").partition(" ")[2].strip()
        return self.auth.client_of(token) or self.client_id

    def _unauthorised(self, detail: str | None) -> _Answer:
        """401 in the gateway's envelope, with the header a bearer challenge carries (recorded:
        fault_401_expired_token.json, `Www-Authenticate: Bearer realm="Intuit",
        error="invalid_token"`)."""
        body = gateway_fault_body(401, "3200", "AuthenticationFailed", detail, self.now())
        return _json_answer(401, body, {"WWW-Authenticate": BEARER_CHALLENGE})

    def _throttled(self) -> _Answer:
        """QBO's 429 throttle fault, as JSON or (throttle_xml) as the XML QBO has sent."""
        if self.throttle_xml:
            return _Answer(429, throttle_fault_xml(self.now()).encode(), XML_TYPE)
        return _json_answer(429, fault_body(throttle_fault(), self.now()))

    @staticmethod
    def _minor_version(query: dict[str, str]) -> int:
        raw = query.get("minorversion", "")
        return max(int(raw), LATEST_MINOR_VERSION) if raw.isdigit() else LATEST_MINOR_VERSION

    def _check_bearer(self, request: _Request, realm: str) -> _Answer | None:
        header = request.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self._unauthorised("Malformed bearer token: too short or too long")
        token_realm, why = self.auth.check_bearer(token.strip())
        if token_realm is None:
            return self._unauthorised(why)
        if token_realm != realm or realm != self.realm_id:
            return _json_answer(
                403,
                gateway_fault_body(403, "3100", "ApplicationAuthorizationFailed", None, self.now()),
            )
        return None

    def _answer_once(self, request: _Request, rest: str, is_batch: bool) -> _Answer:
        """Run the request, or answer the stored first answer for a repeated requestid."""
        requestid = request.query.get("requestid")
        if not requestid:
            return self._run(request, rest)
        limit = BATCH_REQUESTID_MAX if is_batch else REQUESTID_MAX
        if len(requestid) > limit:
            fault = QBOFault(
                "2050",
                "String length is either shorter or longer than supported by specification",
                f"requestid: Max:{limit} supported. Supplied length:{len(requestid)}",
                element="requestid",
            )
            return _json_answer(400, fault_body(fault, self.now()))
        key = (self.realm_id, requestid)
        with self.company.lock:
            if self.requestid_replay and key in self._replies:
                status, body = self._replies[key]
                request.entry["outcome"] = "replayed"
                return _Answer(status, body)
            answer = self._run(request, rest)
            if self.requestid_replay:
                self._replies[key] = (answer.status, answer.body)
            return answer

    def _run(self, request: _Request, rest: str) -> _Answer:
        try:
            status, payload = self._dispatch(request, rest)
        except QBOFault as fault:
            status, payload = fault.status, fault_body(fault, self.now())
        return _json_answer(status, payload)

    def _dispatch(self, request: _Request, rest: str) -> tuple[int, dict]:
        parts = [p for p in rest.split("/") if p]
        resource = parts[0].lower() if parts else ""
        if resource == "query":
            return 200, self._query(request)
        if resource == "batch" and request.method == "POST":
            return 200, self._batch(request)
        if resource == "cdc" and request.method == "GET":
            return 200, self._cdc(request)
        entity = ENTITIES.get(resource)
        if entity is None:
            known = SCHEMA.entity_named(resource)
            if known is not None and request.method == "POST" and len(parts) == 1:
                SCHEMA.check(known, self._json_body(request.body))  # QBO reads the body first
            raise self._no_resource(request)
        if request.method == "GET":
            return 200, {entity: self._read(request, entity, parts), "time": self._time()}
        if request.method == "POST" and len(parts) == 1:
            body = self._json_body(request.body)
            return 200, {
                entity: self._write(
                    entity,
                    body,
                    request.query.get("operation"),
                    allow_duplicate_docnum=_allows_duplicate_docnum(request.query),
                    include=_includes(request.query),
                ),
                "time": self._time(),
            }
        raise QBOFault(
            "500", "Unsupported Operation", f"Operation {request.method} is not supported."
        )

    def _no_resource(self, request: _Request) -> QBOFault:
        """400 "Unsupported Operation" (code 500) for a path QBO has no resource at, in the
        words minimul/qbo_api #81 quotes ("Operation Could not find resource for relative :
        /v3/company/:realmid/vendor of full path: https://... is not supported.")."""
        return qbo_store.unsupported_operation(
            f"Operation Could not find resource for relative : {request.path} of full path: "
            f"{self.base_url}{request.target} is not supported."
        )

    def _read(self, request: _Request, entity: str, parts: list[str]) -> dict:
        """GET {entity}/{id}; the singletons answer without an id (or with the realm's). More
        segments (customer/1/5) are no resource; an id that is not a number is 2030."""
        if entity in qbo_store.SINGLETONS and len(parts) <= 2:
            return self.company.read(entity, "1")
        if len(parts) != 2:
            raise self._no_resource(request)
        qbo_store.check_id(entity, parts[1])
        return self.company.read(entity, parts[1])

    def _write(
        self,
        entity: str,
        body: Any,
        operation: str | None,
        allow_duplicate_docnum: bool = False,
        include: tuple[str, ...] = (),
    ) -> dict:
        if not isinstance(body, dict):
            raise QBOFault(
                "2010",
                "Request has invalid or unsupported property",
                "Property Name:request body must be a JSON object",
            )
        if operation == "delete":
            return self.company.delete(entity, body)
        if operation == "update" and "void" in include:
            return self.company.void(entity, body)  # BillPayment only (qbo_payments)
        if operation not in (None, "", "create", "update"):
            # e.g. operation=void: Intuit voids through update&include=void; the Bill reference
            # lists no void at all.
            raise QBOFault(
                "500",
                "Unsupported Operation",
                f"Operation {operation} is not supported for {entity}.",
            )
        if operation == "update" or body.get("Id") not in (None, ""):
            return self.company.update(entity, body, allow_duplicate_docnum=allow_duplicate_docnum)
        return self.company.create(entity, body, allow_duplicate_docnum=allow_duplicate_docnum)

    @staticmethod
    def _json_body(raw: bytes) -> Any:
        try:
            return loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise QBOFault(
                "2010",
                "Request has invalid or unsupported property",
                f"Property Name:Can not parse the request body: {exc}",
            ) from exc

    def _time(self) -> str:
        return iso_millis(self.now())

    def _query(self, request: _Request) -> dict:
        if request.method == "POST":
            text = request.body.decode("utf-8", errors="replace")
        else:
            text = request.query.get("query", "")
        return {"QueryResponse": self.company.query(text), "time": self._time()}

    def _batch(self, request: _Request) -> dict:
        body = self._json_body(request.body)
        items = body.get("BatchItemRequest") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise QBOFault(
                "2020",
                "Required param missing, need to supply the required value for the API",
                "Required parameter BatchItemRequest is missing in the request",
                element="BatchItemRequest",
            )
        if len(items) > BATCH_MAX_ITEMS:
            raise QBOFault(
                "1040",
                "Batch size exceeds allowed limit",
                "The batch size for the "
                f"batch request or BatchItemRequest is too big. The batch limit size "
                f"is {BATCH_MAX_ITEMS}. Supplied: {len(items)}",
            )
        request.entry["batch_entities"] = sorted(
            {k for i in items if isinstance(i, dict) for k in i if k in ENTITIES.values()}
        )  # for the request log: what the batch carried
        return {"BatchItemResponse": [self._batch_item(i) for i in items], "time": self._time()}

    def _batch_item(self, item: Any) -> dict:
        bid = item.get("bId") if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict):
                raise QBOFault(
                    "2010",
                    "Request has invalid or unsupported property",
                    "Property Name:BatchItemRequest entries must be objects",
                )
            if "Query" in item:
                return {"bId": bid, "QueryResponse": self.company.query(str(item["Query"]))}
            names = [k for k in item if k in ENTITIES.values()]
            if len(names) != 1:
                raise QBOFault(
                    "2010",
                    "Request has invalid or unsupported property",
                    "Property Name:batch item names no known entity",
                )
            entity = names[0]
            operation = item.get("operation", "create")
            if operation not in ("create", "update", "delete"):
                raise QBOFault(
                    "2010",
                    "Request has invalid or unsupported property",
                    f"Property Name:operation {operation!r} is invalid",
                )
            body = item[entity]
            if operation == "create" and isinstance(body, dict) and body.get("Id"):
                raise QBOFault(
                    "2010",
                    "Request has invalid or unsupported property",
                    "Property Name:Id is not allowed on create",
                )
            return {"bId": bid, entity: self._write(entity, body, operation)}
        except QBOFault as fault:
            return {"bId": bid, "Fault": fault.fault()}

    def _cdc(self, request: _Request) -> dict:
        names = [n for n in request.query.get("entities", "").split(",") if n.strip()]
        if not names:
            raise QBOFault(
                "2020",
                "Required param missing, need to supply the required value for the API",
                "Required parameter entities is missing in the request",
                element="entities",
            )
        raw = request.query.get("changedSince", "")
        if not raw:
            raise QBOFault(
                "2020",
                "Required param missing, need to supply the required value for the API",
                "Required parameter changedSince is missing in the request",
                element="changedSince",
            )
        try:
            since = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
        except ValueError as exc:
            raise QBOFault(
                "2010",
                "Request has invalid or unsupported property",
                f"Property Name:changedSince {raw!r} is not a date-time",
                element="changedSince",
            ) from exc
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        answers, as_of = self.company.cdc(names, since)
        # the answer's moment, cut to the millisecond: never after a change it left out
        return {"CDCResponse": [{"QueryResponse": answers}], "time": iso_millis(as_of)}

    # --- OAuth --------------------------------------------------------------------------------

    def _oauth(self, request: _Request) -> _Answer:
        path = request.path.rstrip("/") or "/"
        if path == DISCOVERY_PATH.rstrip("/") and request.method == "GET":
            return _Answer(200, json.dumps(self._discovery()).encode())
        if path == AUTHORIZE_PATH and request.method == "GET":
            return self._authorize(request)
        if path == TOKEN_PATH and request.method == "POST":
            return self._token(request)
        if path == REVOKE_PATH and request.method == "POST":
            self.auth.check_client(request.headers.get("Authorization"))
            token = (self._json_body(request.body) or {}).get("token", "")
            self.auth.revoke(str(token))
            return _Answer(200, b"")
        if path == USERINFO_PATH and request.method == "GET":
            return self._userinfo(request)
        if path == JWKS_PATH and request.method == "GET":
            return _Answer(200, b'{"keys": []}')
        return _Answer(404, b'{"error": "not_found"}')

    def _discovery(self) -> dict:
        base = self.base_url
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}{AUTHORIZE_PATH}",
            "token_endpoint": f"{base}{TOKEN_PATH}",
            "userinfo_endpoint": f"{base}{USERINFO_PATH}",
            "revocation_endpoint": f"{base}{REVOKE_PATH}",
            "jwks_uri": f"{base}{JWKS_PATH}",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": [
                "openid",
                "email",
                "profile",
                "address",
                "phone",
                "com.intuit.quickbooks.accounting",
            ],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
        }

    def _authorize(self, request: _Request) -> _Answer:
        """The consent page, already consented: redirect back with a code and the realm."""
        query = request.query
        if query.get("client_id") not in self.auth.apps or not query.get("redirect_uri"):
            return _Answer(400, b'{"error": "invalid_request"}')
        code = self.auth.new_code(self.realm_id, query["redirect_uri"], query["client_id"])
        params = urlencode(
            {"code": code, "state": query.get("state", ""), "realmId": self.realm_id}
        )
        return _Answer(302, b"", headers={"Location": f"{query['redirect_uri']}?{params}"})

    def _token(self, request: _Request) -> _Answer:
        client = self.auth.check_client(request.headers.get("Authorization"))
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        grant = form.get("grant_type")
        if grant == "authorization_code":
            tokens = self.auth.exchange_code(form.get("code", ""), form.get("redirect_uri"), client)
        elif grant == "refresh_token":
            tokens = self.auth.refresh(form.get("refresh_token", ""), client)
        else:
            raise OAuthError(400, "unsupported_grant_type")
        wanted = {
            "token_type",
            "access_token",
            "refresh_token",
            "expires_in",
            "x_refresh_token_expires_in",
        }
        if (request.headers.get("x-include-refresh-token-hard-expires-in") or "").lower() == "true":
            wanted.add("x_refresh_token_hard_expires_in")
        answer = {k: v for k, v in tokens.items() if k in wanted}
        return _Answer(200, json.dumps(answer).encode(), headers={"Cache-Control": "no-store"})

    def _userinfo(self, request: _Request) -> _Answer:
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        realm, _ = (
            self.auth.check_bearer(token.strip()) if scheme.lower() == "bearer" else (None, "")
        )
        if realm is None:
            return _Answer(401, b'{"error": "invalid_token"}')
        return _Answer(
            200,
            json.dumps(
                {
                    "sub": f"emu-user-{realm}",
                    "email": "owner@emulated.example",
                    "emailVerified": True,
                }
            ).encode(),
        )

    # --- admin HTTP prefix --------------------------------------------------------------------

    def _admin(self, method: str, path: str, query: dict[str, str], raw: bytes) -> _Answer:
        """Out-of-process test controls mirroring the Python API."""
        try:
            body = loads(raw) if raw else {}
            return self._admin_route(method, path[len(ADMIN_PREFIX) :].strip("/"), query, body)
        except (ValueError, TypeError, KeyError) as exc:
            return _json_answer(400, {"error": str(exc)})

    def _admin_route(self, method: str, route: str, query: dict[str, str], body: Any) -> _Answer:
        parts = route.split("/")
        handlers = {
            ("GET", "requests"): lambda: {"requests": self.request_log},
            ("DELETE", "requests"): lambda: self.reset_log() or {"ok": True},
            ("GET", "count"): lambda: {
                "count": self.count(
                    query.get("method"),
                    query.get("path_contains"),
                    int(query["status"]) if query.get("status") else None,
                )
            },
            ("POST", "faults"): lambda: {
                "rule": self._rule_dict(
                    self.add_fault(
                        FaultRule(**{k: v for k, v in body.items() if k not in ("seen", "fired")})
                    )
                )
            },
            ("GET", "faults"): lambda: {"rules": [self._rule_dict(r) for r in self._faults]},
            ("DELETE", "faults"): lambda: self.clear_faults() or {"ok": True},
            ("GET", "clock"): lambda: {"now": iso_millis(self.now())},
            ("POST", "clock"): lambda: (
                self.advance_clock(float(body.get("advance", 0))) or {"now": iso_millis(self.now())}
            ),
            ("POST", "seed"): lambda: self.seed(body["entity"], body["object"]),
            ("POST", "seed_default"): lambda: self.seed_default() or {"ok": True},
            ("POST", "tokens"): lambda: self.issue_tokens(body.get("client_id")),
            ("GET", "apps"): lambda: {"apps": self.apps},
            ("POST", "apps"): lambda: (
                self.register_app(body["client_id"], body["client_secret"]) or {"apps": self.apps}
            ),
            ("POST", "authorization_code"): lambda: {
                "code": self.authorization_code(body.get("realm_id"), body.get("redirect_uri"))
            },
            ("POST", "revoke_all"): lambda: self.revoke_all_tokens() or {"ok": True},
            ("GET", "settings"): self._settings,
            ("POST", "settings"): lambda: self._change_settings(body),
            ("POST", "pay_bill"): lambda: self.pay_bill(body["bill_id"], body["amount"]),
            ("POST", "edit"): lambda: self.edit_as_other_user(
                body["entity"], body["id"], body["changes"]
            ),
        }
        action = handlers.get((method, parts[0]))
        if action is not None and len(parts) == 1:
            return _json_answer(200, action())
        if method == "GET" and parts[0] == "objects" and len(parts) in (2, 3):
            return self._admin_objects(parts, query)
        return _json_answer(404, {"error": f"no admin route {method} {route}"})

    def _admin_objects(self, parts: list[str], query: dict[str, str]) -> _Answer:
        entity = parts[1]
        if entity not in ENTITIES.values():
            return _json_answer(404, {"error": f"unknown entity {entity}"})
        if len(parts) == 3:
            found = self.get(entity, parts[2])
            return _json_answer(200 if found else 404, found or {"error": "not found"})
        include = query.get("include_inactive", "true").lower() != "false"
        return _json_answer(200, {entity: self.objects(entity, include)})

    @staticmethod
    def _rule_dict(rule: FaultRule) -> dict:
        return asdict(rule)

    SETTINGS = (
        "requests_per_minute",
        "requests_per_second",
        "max_concurrent",
        "batches_per_minute",
        "realm_batches_per_minute",
        "throttle_xml",
        "latency",
        "requestid_replay",
        "duplicate_docnumber_check",
        "refuse_closed_po_edits",
        "country",
        "edition",
        "book_close_date",
    )

    @staticmethod
    def _setting_value(name: str, value: Any) -> Any:
        """JSON numbers arrive as Decimal: limits are ints, latency a float; names stay text."""
        if value is None or isinstance(value, bool | str):
            return value
        return float(value) if name == "latency" else int(value)

    def _settings(self) -> dict:
        return {name: getattr(self, name) for name in self.SETTINGS}

    def _change_settings(self, body: dict) -> dict:
        for name, value in body.items():
            if name not in self.SETTINGS:
                raise KeyError(f"unknown setting {name}")
            setattr(self, name, self._setting_value(name, value))
        return self._settings()


def _includes(query: dict[str, str]) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in query.get("include", "").split(","))


def _allows_duplicate_docnum(query: dict[str, str]) -> bool:
    """include=allowduplicatedocnum (Intuit's DocNumber docs): skip the 6140 check once."""
    return "allowduplicatedocnum" in _includes(query)


# --- standalone -------------------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="reconciler sandbox qbo", description="Run the QuickBooks Online emulator."
    )
    parser.add_argument("--port", type=int, default=0, help="port (0 picks a free one)")
    parser.add_argument("--realm", default=DEFAULT_REALM, help="realm (company) id")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds added to every API request"
    )
    parser.add_argument(
        "--no-limits", action="store_true", help="turn off every rate and concurrency limit"
    )
    return parser.parse_args(argv)


def serve(argv: list[str] | None = None) -> int:
    """Run the emulator with default data until SIGINT/SIGTERM; print one JSON line to start."""
    args = _parse_args(argv)
    limits = dict.fromkeys(LIMIT_SETTINGS) if args.no_limits else {}
    emulator = QBOEmulator(realm_id=args.realm, latency=args.latency, **limits)
    emulator.start(port=args.port)
    emulator.seed_default()
    tokens = emulator.issue_tokens()
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    sys.stdout.write(
        json.dumps(
            {
                "base_url": emulator.base_url,
                "realm_id": emulator.realm_id,
                "access_token": tokens["access_token"],
                "refresh_token": tokens["refresh_token"],
                "discovery_url": emulator.discovery_url,
                "client_id": emulator.client_id,
                "client_secret": emulator.client_secret,
            }
        )
        + "\n"
    )
    sys.stdout.flush()
    try:
        stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(serve())
