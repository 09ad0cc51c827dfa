"""OAuth 2.0 tokens for QBO: keep them, refresh them one at a time, never lose a rotated one.

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

Intuit's rules: refresh tokens rotate (a used or revoked one answers 400 `invalid_grant`, and
the user must reconnect), so the new refresh token is saved durably BEFORE the new access token
is handed out; and no tokens in logs: `Tokens.__repr__` hides them, exception messages never
hold them.

Refreshes are serialised by a lock in `OAuthTokenSource`; several threads hitting 401 with the
same rejected token cause one refresh. Across processes there is no lock: run one daemon per
token store.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import requests
from intuitlib.exceptions import AuthClientError

from reconciler import errors
from reconciler.crashpoints import crash_point

if TYPE_CHECKING:
    from intuitlib.client import AuthClient

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"


@dataclass(frozen=True)
class Tokens:
    """One connection's tokens and when they expire (aware UTC); repr shows no secrets."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_expires_at: datetime
    refresh_expires_at: datetime
    realm_id: str

    def to_json(self) -> dict[str, str]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "access_expires_at": self.access_expires_at.isoformat(),
            "refresh_expires_at": self.refresh_expires_at.isoformat(),
            "realm_id": self.realm_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tokens:
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]),
            access_expires_at=_aware(datetime.fromisoformat(data["access_expires_at"])),
            refresh_expires_at=_aware(datetime.fromisoformat(data["refresh_expires_at"])),
            realm_id=str(data["realm_id"]),
        )

    @classmethod
    def from_grant(cls, answer: Any, *, now: datetime, realm_id: str) -> Tokens:
        """From an AuthClient after a grant (or any object/dict with the token fields)."""

        def value(name: str) -> Any:
            return answer.get(name) if isinstance(answer, dict) else getattr(answer, name, None)

        access, refresh = value("access_token"), value("refresh_token")
        if not access or not refresh:
            raise TokenRefreshUnavailable("the token endpoint answered without tokens")
        return cls(
            access_token=str(access),
            refresh_token=str(refresh),
            access_expires_at=now + timedelta(seconds=int(value("expires_in") or 3600)),
            refresh_expires_at=now
            + timedelta(seconds=int(value("x_refresh_token_expires_in") or 8726400)),
            realm_id=str(realm_id),
        )


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("stored token times must carry a zone")
    return moment


# --- errors ----------------------------------------------------------------------------


class TokenRefreshUnavailable(errors.Retryable):
    """The token endpoint is down, throttling or unreachable: try the pass again later."""


class OAuthClientRejected(errors.Fatal):
    """The token endpoint refused our client (invalid_client, bad request): fix configuration."""


class TokenStoreError(errors.Fatal):
    """The token file cannot be read or written; nothing is refreshed until it can."""


# --- stores ----------------------------------------------------------------------------


class TokenStore(Protocol):
    def load(self) -> Tokens | None: ...

    def save(self, tokens: Tokens) -> None: ...


class MemoryTokenStore:
    """For tests and the demo: keeps the last saved tokens and how many saves there were."""

    def __init__(self, tokens: Tokens | None = None) -> None:
        self._tokens = tokens
        self.saves = 0

    def load(self) -> Tokens | None:
        return self._tokens

    def save(self, tokens: Tokens) -> None:
        self._tokens = tokens
        self.saves += 1


class FileTokenStore:
    """Tokens as JSON in one file: atomic replace, mode 0600, directory 0700.

    With `key` (a Fernet key, `cryptography.fernet.Fernet.generate_key()`), the file holds
    the Fernet token of the JSON instead; `cryptography` is then imported (lazily).
    """

    def __init__(self, path: str | os.PathLike[str], *, key: bytes | str | None = None) -> None:
        self.path = Path(path)
        self._fernet = _fernet(key) if key is not None else None

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r}, encrypted={self._fernet is not None})"

    def load(self) -> Tokens | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TokenStoreError(f"cannot read token file {self.path}: {exc.strerror}") from None
        try:
            if self._fernet is not None:
                raw = self._fernet.decrypt(raw)
            return Tokens.from_json(json.loads(raw))
        except Exception:
            # never chain: the cause could quote the file's contents
            raise TokenStoreError(
                f"token file {self.path} is unreadable (corrupt, or the wrong key); "
                "run `reconciler auth connect` to start over"
            ) from None

    def save(self, tokens: Tokens) -> None:
        directory = self.path.parent
        if not directory.exists():
            try:
                directory.mkdir(parents=True, mode=0o700)
                os.chmod(directory, 0o700)
            except OSError as exc:
                raise TokenStoreError(f"cannot create {directory}: {exc.strerror}") from None
        data = json.dumps(tokens.to_json()).encode("utf-8")
        if self._fernet is not None:
            data = self._fernet.encrypt(data)
        try:
            handle, temp_name = tempfile.mkstemp(dir=directory, prefix=".tokens-", suffix=".tmp")
        except OSError as exc:
            raise TokenStoreError(f"cannot write token file {self.path}: {exc.strerror}") from None
        try:
            os.fchmod(handle, 0o600)
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temp_name, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise TokenStoreError(f"cannot write token file {self.path}: {exc.strerror}") from None
        _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fernet(key: bytes | str) -> Any:
    from cryptography.fernet import Fernet  # optional dependency, only with a key

    return Fernet(key.encode() if isinstance(key, str) else key)


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
    """Access tokens from the store, refreshed through intuit-oauth when close to expiry."""

    def __init__(
        self,
        auth_client_factory: Callable[[], AuthClient],
        store: TokenStore,
        *,
        clock: Callable[[], datetime],
        refresh_margin: timedelta = timedelta(minutes=5),
    ) -> None:
        self._factory = auth_client_factory
        self._store = store
        self._clock = clock
        self._margin = refresh_margin
        self._lock = threading.Lock()
        self._tokens: Tokens | None = None
        self._unsaved: Tokens | None = None  # refreshed but not yet durably stored
        self.refresh_count = 0

    def __repr__(self) -> str:
        return f"OAuthTokenSource(store={self._store!r}, refreshes={self.refresh_count})"

    def access_token(self) -> str:
        """A token with more than `refresh_margin` left; refreshes first when needed."""
        with self._lock:
            tokens = self._current()
            if self._clock() >= tokens.access_expires_at - self._margin:
                tokens = self._refresh(tokens)
            return tokens.access_token

    def refreshed_after_401(self, rejected_token: str) -> str:
        """A token other than `rejected_token`: one refresh, shared by all threads that ask."""
        with self._lock:
            tokens = self._current()
            if tokens.access_token == rejected_token:
                # another process may have refreshed: look at the store before spending one
                stored = self._store.load()
                if stored is not None and stored.access_token != rejected_token:
                    self._tokens = tokens = stored
            fresh = self._clock() < tokens.access_expires_at - self._margin
            if tokens.access_token != rejected_token and fresh:
                return tokens.access_token
            return self._refresh(tokens).access_token

    def tokens(self) -> Tokens:
        """The current tokens (for status output: expiry times, realm)."""
        with self._lock:
            return self._current()

    # -- internals (called with the lock held) -----------------------------------------

    def _current(self) -> Tokens:
        if self._unsaved is not None:
            self._store.save(self._unsaved)  # raises again if the store still fails
            self._tokens, self._unsaved = self._unsaved, None
        if self._tokens is None:
            self._tokens = self._store.load()
        if self._tokens is None:
            raise errors.AuthorizationLost("no QuickBooks tokens are stored")
        return self._tokens

    def _refresh(self, tokens: Tokens) -> Tokens:
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
        fresh = Tokens.from_grant(client, now=self._clock(), realm_id=tokens.realm_id)
        self._unsaved = fresh
        self._store.save(fresh)  # durable BEFORE anyone uses the new access token
        self._tokens, self._unsaved = fresh, None
        return fresh


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
    """Trade the redirect's code for tokens and store them before returning."""
    try:
        auth_client.get_bearer_token(code, realm_id=realm_id)
    except requests.RequestException as exc:
        raise TokenRefreshUnavailable(
            f"cannot reach Intuit's token endpoint ({type(exc).__name__})"
        ) from None
    except AuthClientError as exc:
        raise _classify_auth_error(exc, "the authorization code") from None
    tokens = Tokens.from_grant(auth_client, now=clock(), realm_id=realm_id)
    store.save(tokens)
    return tokens
