"""`reconciler auth connect|status|revoke`: the QuickBooks OAuth 2.0 connection.

`connect` prints Intuit's consent URL and waits for the redirect on the configured
`qbo.redirect_uri` (a small one-shot HTTP listener on its host and port), or, on a headless
host, takes the redirect URL pasted back by the user (`--paste`). The `state` value is checked,
the code exchanged through intuit-oauth, and the tokens written to the token store before
anything else happens. A company other than the configured `qbo.realm_id` is refused: syncing
into the wrong books is worse than not syncing.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

from reconciler import errors
from reconciler.app import wiring
from reconciler.config.loader import Settings
from reconciler.qbo.auth import Tokens, connect_url, exchange_code

DEFAULT_TIMEOUT_S = 600.0


def parse_redirect(url: str) -> dict[str, str]:
    """code, state and realmId (or error) from the URL Intuit redirected the browser to."""
    query = parse_qs(urlsplit(url.strip()).query)
    return {key: values[0] for key, values in query.items() if values}


PASTE_HINT = (
    "paste the whole address the browser was sent to after you approved (it starts with "
    "qbo.redirect_uri and holds code=, state= and realmId=), then run `reconciler auth "
    "connect --paste` again"
)


def _pasted(paste: Callable[[], str]) -> str:
    """The pasted redirect URL; a clear Fatal when there is none (standard input closed, as
    under a service manager or a pipe, or an empty line)."""
    try:
        text = paste()
    except EOFError:
        raise errors.Fatal(
            f"nothing could be read from standard input (it is closed); {PASTE_HINT}",
            code="oauth_paste",
        ) from None
    if not text.strip():
        raise errors.Fatal(f"nothing was pasted; {PASTE_HINT}", code="oauth_paste")
    return text


def _check_redirect(params: dict[str, str], state: str, realm_id: str) -> tuple[str, str]:
    if "error" in params:
        raise errors.AuthorizationLost(f"the consent was not given ({params['error']})")
    if not secrets.compare_digest(params.get("state", ""), state):
        raise errors.Fatal(
            "the redirect's state does not match this connect attempt; start again",
            code="oauth_state",
        )
    code, got_realm = params.get("code"), params.get("realmId")
    if not code or not got_realm:
        raise errors.Fatal("the redirect URL has no code or realmId", code="oauth_redirect")
    if realm_id and got_realm != realm_id:
        raise errors.Fatal(
            f"you connected QuickBooks company {got_realm}, but qbo.realm_id is {realm_id}; "
            "connect the configured company or change qbo.realm_id",
            code="wrong_realm",
        )
    return code, got_realm


class _RedirectCatcher(BaseHTTPRequestHandler):
    captured: dict[str, str] | None = None
    path_expected = "/"

    def do_GET(self) -> None:
        if urlsplit(self.path).path != self.path_expected:
            self.send_error(404)
            return
        type(self).captured = parse_redirect(self.path)
        body = b"reconciler: QuickBooks connected. You can close this window.\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return  # the query string holds the authorization code: keep it out of stderr


def wait_for_redirect(redirect_uri: str, timeout: float) -> dict[str, str]:
    """Serve the redirect URI's host and port until the browser arrives (one request)."""
    parts = urlsplit(redirect_uri)
    handler = type("Catcher", (_RedirectCatcher,), {"path_expected": parts.path or "/"})
    server = HTTPServer((parts.hostname or "127.0.0.1", parts.port or 80), handler)
    deadline = threading.Event()
    timer = threading.Timer(timeout, deadline.set)
    timer.start()
    server.timeout = 0.5
    try:
        while handler.captured is None and not deadline.is_set():
            server.handle_request()
    finally:
        timer.cancel()
        server.server_close()
    if handler.captured is None:
        raise errors.Fatal(
            f"no redirect arrived within {timeout:.0f} s; run `reconciler auth connect` again",
            code="oauth_timeout",
        )
    return handler.captured


def connect(
    settings: Settings,
    *,
    out: TextIO,
    paste: Callable[[], str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Tokens:
    wiring.register_secrets(settings)
    auth_client = wiring.auth_client_factory(settings)()
    state = secrets.token_urlsafe(24)
    print("Open this URL in a browser and approve access to your QuickBooks company:", file=out)
    print(connect_url(auth_client, state), file=out)
    out.flush()
    if paste is not None:
        print("Then paste the full URL the browser was sent to:", file=out)
        out.flush()
        params = parse_redirect(_pasted(paste))
    else:
        print(f"Waiting for the redirect on {settings.qbo.redirect_uri} ...", file=out)
        out.flush()
        params = wait_for_redirect(settings.qbo.redirect_uri, timeout)
    code, realm_id = _check_redirect(params, state, settings.qbo.realm_id)
    tokens = exchange_code(auth_client, code, realm_id, wiring.token_store(settings), clock)
    print(
        f"Connected to QuickBooks company {tokens.realm_id}. Tokens stored in "
        f"{settings.qbo.token_store}; the connection must be renewed before "
        f"{tokens.refresh_expires_at:%Y-%m-%d} if the daemon does not run until then.",
        file=out,
    )
    return tokens


def status_lines(settings: Settings, *, now: datetime) -> list[str]:
    """Realm and expiry times; never a token."""
    tokens = wiring.token_store(settings).load()
    if tokens is None:
        return [
            f"not connected (no tokens in {settings.qbo.token_store}); "
            "run `reconciler auth connect`"
        ]
    access_left = tokens.access_expires_at - now
    refresh_left = tokens.refresh_expires_at - now
    return [
        f"company (realm):        {tokens.realm_id}",
        f"token store:            {settings.qbo.token_store}",
        f"access token expires:   {tokens.access_expires_at:%Y-%m-%d %H:%M:%SZ}"
        + (" (expired; refreshed on next use)" if access_left.total_seconds() <= 0 else ""),
        f"refresh token expires:  {tokens.refresh_expires_at:%Y-%m-%d %H:%M:%SZ}"
        + (
            " (EXPIRED: run `reconciler auth connect`)" if refresh_left.total_seconds() <= 0 else ""
        ),
    ]


def revoke(settings: Settings) -> str:
    """Revoke the refresh token at Intuit and forget the local tokens."""
    wiring.register_secrets(settings)
    store = wiring.token_store(settings)
    tokens = store.load()
    if tokens is None:
        return "not connected; nothing to revoke"
    auth_client = wiring.auth_client_factory(settings)()
    try:
        auth_client.revoke(token=tokens.refresh_token)
    except Exception as exc:  # intuitlib raises AuthClientError; network errors pass through
        raise errors.Fatal(
            f"Intuit did not confirm the revocation ({type(exc).__name__}); tokens kept",
            code="revoke_failed",
        ) from None
    store.clear()
    return f"revoked the connection to company {tokens.realm_id}; local tokens removed"
