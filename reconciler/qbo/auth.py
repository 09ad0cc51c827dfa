"""OAuth 2.0 tokens for QBO: refresh them one at a time, from the newest pair, never lose one.

What intuit-oauth (`intuitlib`, 1.2.7, read in .venv) does, which this module relies on:

- `AuthClient(client_id, client_secret, redirect_uri, environment, ...)` is a `requests.Session`
  that fetches the OpenID discovery document in its constructor. `environment` other than
  sandbox/production is used as the discovery URL as is: plain `http://127.0.0.1:PORT/...` works
  (no scheme check), which is how the tests point it at the emulator.
- `refresh(refresh_token=...)` and `get_bearer_token(code, realm_id=...)` POST to the token
  endpoint and, on 200, copy every JSON field onto the client as attributes: `access_token`,
  `refresh_token`, `expires_in`, `x_refresh_token_expires_in` (and `realm_id` when given).
- A non-200 answer raises `intuitlib.exceptions.AuthClientError` with `status_code`, `content`
  (the raw body, e.g. `{"error": "invalid_grant"}`), `headers` and `intuit_tid`. Its message
  embeds the body, so we never chain it into our exceptions (`from None`).
- Network failures are NOT wrapped: `requests.ConnectionError`/`Timeout` escape as they are.

Intuit's rules (its OAuth FAQ and "OAuth token management done the right way", 2024): refresh
tokens rotate, "always store and use the LATEST refresh token returned", a retired or revoked
one answers 400 `invalid_grant`; no tokens in logs. The failure integrations hit most is a
rotated pair lost (two workers refreshing at once, or a save that failed). So a refresh
(`OAuthTokenSource._renew`) goes:

1. under the store's cross-process lock (`token_store.FileTokenStore.lock`), read the store:
   another process may have refreshed already; a fresh stored pair is taken as it is;
2. reserve room for the new pair (`reserve`): a full disk stops here, nothing spent;
3. refresh from the newest pair (one kept in memory and not yet saved, else the stored one);
   an `invalid_grant` reads the store again and tries once more with a newer pair found there;
4. write the new pair into the reservation and rename it over the store, before the new
   access token is handed out. If even that fails, the pair is kept in memory, used, and saved
   again before every pass until it lands (`save_pending`; `unsaved` says so meanwhile).

Within one process a thread lock serialises refreshes: several threads hitting 401 with the
same rejected token cause one refresh.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests
from intuitlib.exceptions import AuthClientError

from reconciler import errors
from reconciler.crashpoints import crash_point
from reconciler.qbo.token_store import (
    FileTokenStore,
    MemoryTokenStore,
    TokenRefreshUnavailable,
    Tokens,
    TokenStore,
    TokenStoreError,
    TokenStoreFull,
)

if TYPE_CHECKING:
    from intuitlib.client import AuthClient

__all__ = [
    "ACCOUNTING_SCOPE",
    "FileTokenStore",
    "MemoryTokenStore",
    "OAuthClientRejected",
    "OAuthTokenSource",
    "StaticTokenSource",
    "TokenRefreshUnavailable",
    "TokenStore",
    "TokenStoreError",
    "TokenStoreFull",
    "Tokens",
    "connect_url",
    "exchange_code",
]

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
LOCK_TIMEOUT_S = 90.0  # longer than one refresh can take (the token endpoint's timeout)


class OAuthClientRejected(errors.Fatal):
    """The token endpoint refused our client (invalid_client, bad request): fix configuration."""


# --- token sources ---------------------------------------------------------------------


class StaticTokenSource:
    """A fixed bearer token (demo, one-off scripts): a 401 cannot be cured by refreshing."""

    def __init__(self, access_token: str) -> None:
        self._token = access_token

    def __repr__(self) -> str:
        return "StaticTokenSource(<hidden>)"

    def access_token(self) -> str:
        return self._token

    def refreshed_after_401(self, rejected_token: str) -> str:
        raise errors.AuthorizationLost("the fixed access token was rejected")


class OAuthTokenSource:
    """Access tokens from the store, refreshed through intuit-oauth when close to expiry
    (the module docstring says how a refresh goes)."""

    def __init__(
        self,
        auth_client_factory: Callable[[], AuthClient],
        store: TokenStore,
        *,
        clock: Callable[[], datetime],
        refresh_margin: timedelta = timedelta(minutes=5),
        lock_timeout: float = LOCK_TIMEOUT_S,
        on_event: Callable[..., None] | None = None,
    ) -> None:
        self._factory = auth_client_factory
        self._store = store
        self._clock = clock
        self._margin = refresh_margin
        self._lock_timeout = lock_timeout
        self._event = on_event or (lambda event, **fields: None)
        self._lock = threading.Lock()
        self._tokens: Tokens | None = None
        self._unsaved: Tokens | None = None  # refreshed, in use, not yet durably stored
        self.unsaved_reason: str | None = None  # why it is not (for health and alerts)
        self.refresh_count = 0

    def __repr__(self) -> str:
        return f"OAuthTokenSource(store={self._store!r}, refreshes={self.refresh_count})"

    def access_token(self) -> str:
        """A token with more than `refresh_margin` left; refreshes first when needed."""
        with self._lock:
            tokens = self._current()
            if self._fresh(tokens):
                return tokens.access_token
            return self._renew(tokens.access_token).access_token

    def refreshed_after_401(self, rejected_token: str) -> str:
        """A token other than `rejected_token`: one refresh, shared by all threads that ask."""
        with self._lock:
            tokens = self._current()
            if tokens.access_token != rejected_token and self._fresh(tokens):
                return tokens.access_token
            return self._renew(rejected_token).access_token

    def tokens(self) -> Tokens:
        """The current tokens (for status output: expiry times, realm)."""
        with self._lock:
            return self._current()

    @property
    def unsaved(self) -> bool:
        """True while a rotated pair lives only in this process's memory."""
        return self._unsaved is not None

    def save_pending(self) -> bool:
        """Save a rotated pair kept in memory; True when nothing is left unsaved."""
        with self._lock:
            return self._save_unsaved()

    def prepare(self) -> None:
        """Before a pass: a pair kept in memory is saved again, and a usable access token is
        at hand (refreshed now if due: a failure stops the pass before any document)."""
        self.save_pending()
        self.access_token()

    # -- internals (called with the thread lock held) ----------------------------------

    def _fresh(self, tokens: Tokens) -> bool:
        return self._clock() < tokens.access_expires_at - self._margin

    def _current(self) -> Tokens:
        if self._tokens is None:
            self._tokens = self._store.load()
        if self._tokens is None:
            raise errors.AuthorizationLost("no QuickBooks tokens are stored")
        return self._tokens

    def _newest(self) -> Tokens:
        """The pair a refresh starts from: ours when the store does not have it yet, else
        whatever the store holds now (another process may have rotated it)."""
        if self._unsaved is not None:
            return self._unsaved
        stored = self._store.load()
        if stored is None:
            raise errors.AuthorizationLost("no QuickBooks tokens are stored")
        return stored

    def _renew(self, stale_access: str) -> Tokens:
        """A pair whose access token is fresh and not `stale_access`: the stored one when
        another process refreshed already, else a refresh (one process at a time)."""
        with self._store.lock(self._lock_timeout):
            if self._store.recover():
                self._event("tokens_recovered", reason="a killed process's save was finished")
            newest = self._newest()
            if newest.access_token != stale_access and self._fresh(newest):
                self._tokens = newest
                return newest
            try:
                reservation = self._store.reserve()
            except (TokenStoreError, TokenRefreshUnavailable):
                if self._unsaved is None:
                    raise  # nothing spent: the stored refresh token is still the live one
                reservation = None  # the live token is in memory already: refresh anyway
            crash_point("token_refresh_start")
            try:
                fresh, from_store = self._grant_from(newest)
            except BaseException:
                if reservation is not None:
                    reservation.release()
                raise
            if from_store:
                if reservation is not None:
                    reservation.release()
                self._tokens = fresh
                return fresh
            self._keep(fresh, reservation)
            return fresh

    def _grant_from(self, newest: Tokens) -> tuple[Tokens, bool]:
        """A refresh from `newest`; after an `invalid_grant`, the store is read again and a
        newer pair found there is used (as it is when fresh, else refreshed once more).
        Returns the pair and whether it came from the store as it was."""
        try:
            return self._grant(newest), False
        except errors.AuthorizationLost:
            again = self._store.load()
            if again is None or again.refresh_token == newest.refresh_token:
                raise
            self._event("token_refresh_retried", reason="invalid_grant; the store had a newer pair")
            self._unsaved = None  # the store is newer than what we held
            if self._fresh(again):
                return again, True
            return self._grant(again), False

    def _grant(self, tokens: Tokens) -> Tokens:
        try:
            client = self._factory()
            client.refresh(refresh_token=tokens.refresh_token)
        except requests.RequestException as exc:
            raise TokenRefreshUnavailable(
                f"cannot reach Intuit's token endpoint ({type(exc).__name__})"
            ) from None
        except AuthClientError as exc:
            raise _classify_auth_error(exc, "the refresh token") from None
        self.refresh_count += 1
        crash_point("token_issued")
        return Tokens.from_grant(client, now=self._clock(), realm_id=tokens.realm_id)

    def _keep(self, fresh: Tokens, reservation: Any) -> None:
        """The new pair is ours from now on: stored if it can be, else held in memory."""
        self._tokens = self._unsaved = fresh
        if reservation is None:
            self._save_unsaved()
            return
        try:
            reservation.commit(fresh)
        except errors.ReconcilerError as exc:
            self._not_saved(exc)
            return
        self._saved()

    def _save_unsaved(self) -> bool:
        if self._unsaved is None:
            return True
        try:
            self._store.save(self._unsaved)
        except errors.ReconcilerError as exc:
            self._not_saved(exc)
            return False
        self._saved()
        return True

    def _not_saved(self, exc: errors.ReconcilerError) -> None:
        self.unsaved_reason = str(exc)
        self._event("tokens_unsaved", reason=str(exc), fix="free space or fix the permissions")

    def _saved(self) -> None:
        if self.unsaved_reason is not None:
            self._event("tokens_saved", after=self.unsaved_reason)
        self._unsaved, self.unsaved_reason = None, None


def _oauth_error_code(exc: Any) -> str | None:
    content = getattr(exc, "content", None)
    try:
        body = json.loads(content) if content else None
    except (TypeError, ValueError):
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"]
    return None


def _classify_auth_error(exc: AuthClientError, what: str) -> errors.ReconcilerError:
    """intuitlib's AuthClientError to what the caller does about it (body never quoted)."""
    status = getattr(exc, "status_code", None)
    code = _oauth_error_code(exc)
    tid = getattr(exc, "intuit_tid", None)
    where = f"HTTP {status}" + (f", intuit_tid {tid}" if tid else "")
    if code == "invalid_grant":
        return errors.AuthorizationLost(f"Intuit refused {what}: invalid_grant ({where})")
    if status is None or status == 429 or status >= 500:
        return TokenRefreshUnavailable(f"Intuit's token endpoint failed ({where})")
    return OAuthClientRejected(
        f"Intuit's token endpoint refused the request: {code or 'no error code'} ({where})",
        code=code,
    )


# --- connecting --------------------------------------------------------------------------


def connect_url(auth_client: AuthClient, state: str) -> str:
    """The consent page URL for `reconciler auth connect` (accounting scope)."""
    from intuitlib.enums import Scopes

    return auth_client.get_authorization_url([Scopes.ACCOUNTING], state_token=state)


def exchange_code(
    auth_client: AuthClient,
    code: str,
    realm_id: str,
    store: TokenStore,
    clock: Callable[[], datetime],
) -> Tokens:
    """Trade the redirect's code for tokens and store them before returning (room for them
    reserved first, under the store's lock, as for a refresh)."""
    with store.lock(LOCK_TIMEOUT_S):
        reservation = store.reserve()
        try:
            auth_client.get_bearer_token(code, realm_id=realm_id)
        except requests.RequestException as exc:
            reservation.release()
            raise TokenRefreshUnavailable(
                f"cannot reach Intuit's token endpoint ({type(exc).__name__})"
            ) from None
        except AuthClientError as exc:
            reservation.release()
            raise _classify_auth_error(exc, "the authorization code") from None
        tokens = Tokens.from_grant(auth_client, now=clock(), realm_id=realm_id)
        reservation.commit(tokens)
    return tokens
