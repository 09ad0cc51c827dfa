"""OAuth 2.0 as Intuit runs it, on the emulator's clock: codes, bearer tokens, rotation, revoke.

- Access tokens live 3600 s; refresh tokens 100 days from issue (`x_refresh_token_expires_in`
  8726400 s, the figure Intuit answers with), a connection at most 5 years.
- Every refresh answers a new refresh token and retires the one used: a retired, revoked or
  expired refresh token gets HTTP 400 `{"error": "invalid_grant"}` (Intuit's OAuth
  troubleshooting page). Intuit may hand back the same refresh token for a while; always
  rotating is the stricter case and the one a client must survive.
- When a retired refresh token stops working varies with what one reads: Intuit's own
  oauth-jsclient README says "your previous refresh tokens expire 24 hours after you receive a
  new one"; its "Validity of Refresh Token" article says the previous one expires when a new
  one is returned. `refresh_grace` models both: 0 (the default, the less forgiving reading)
  retires it at once; `timedelta(hours=24)` keeps it working that long after its successor
  was issued (each use of it issues another successor).
- Revoking either token of a connection ends the whole connection (Intuit's revoke disconnects
  the app), so its access tokens stop working at once.
- The token endpoint wants HTTP Basic client credentials; wrong ones get 401 `invalid_client`.
- Several apps (OAuth clients) can be registered (`register_app`), as several apps connect to
  one real company. Every connection belongs to the app it was issued to: a code or refresh token
  used with another app's credentials gets `invalid_grant` (Intuit binds both to the client id),
  and the API's per-app limits key on the app of the bearer token (`client_of`).
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

ACCESS_TOKEN_SECONDS = 3600
REFRESH_TOKEN_SECONDS = 8726400
CONNECTION_LIFETIME = timedelta(days=5 * 365)
AUTH_CODE_LIFETIME = timedelta(minutes=5)


class OAuthError(Exception):
    """An OAuth failure: status and the `error` field of the JSON answer."""

    def __init__(self, status: int, error: str, description: str | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict:
        answer = {"error": self.error}
        if self.description:
            answer["error_description"] = self.description
        return answer


@dataclass
class Connection:
    """One app-to-company authorisation (what a revoke ends)."""

    realm_id: str
    created: datetime
    client_id: str = ""
    revoked: bool = False
    access_tokens: dict[str, datetime] = field(default_factory=dict)
    refresh_token: str | None = None
    refresh_expires: datetime | None = None
    retired: dict[str, datetime] = field(default_factory=dict)  # refresh token -> works until


class TokenAuthority:
    """Issues and checks tokens for the registered apps (the first one is the default app)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        clock: Callable[[], datetime],
        refresh_grace: timedelta = timedelta(0),
    ):
        self.client_id = client_id
        self.refresh_grace = refresh_grace
        self.client_secret = client_secret
        self.clock = clock
        self.lock = threading.Lock()
        self.apps: dict[str, str] = {client_id: client_secret}
        self.connections: list[Connection] = []
        self.codes: dict[str, tuple[str, datetime, str | None, str]] = {}

    def register_app(self, client_id: str, client_secret: str) -> None:
        """Add another OAuth client (a second app connecting to the same company)."""
        if not client_id or not client_secret:
            raise ValueError("an app needs a client id and a client secret")
        with self.lock:
            self.apps[client_id] = client_secret

    # --- checks used by the API ---------------------------------------------------------------

    def check_bearer(self, token: str) -> tuple[str | None, str]:
        """(realm id, "") for a live access token, else (None, why) for the 401 detail."""
        with self.lock:
            for connection in self.connections:
                expires = connection.access_tokens.get(token)
                if expires is None:
                    continue
                if connection.revoked:
                    return None, "Token revoked"
                if self.clock() >= expires:
                    return None, "Token expired"
                return connection.realm_id, ""
        return None, "Invalid bearer token"

    def client_of(self, token: str) -> str | None:
        """The client id of the app an access token was issued to (None: unknown token)."""
        with self.lock:
            for connection in self.connections:
                if token in connection.access_tokens:
                    return connection.client_id
        return None

    def check_client(self, authorization: str | None) -> str:
        """The client id whose Basic credentials these are; invalid_client for any other."""
        with self.lock:
            apps = dict(self.apps)
        for client_id, secret in apps.items():
            expected = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
            if authorization and authorization.strip() == f"Basic {expected}":
                return client_id
        raise OAuthError(401, "invalid_client")

    # --- grants -------------------------------------------------------------------------------

    def new_code(
        self, realm_id: str, redirect_uri: str | None = None, client_id: str | None = None
    ) -> str:
        """An authorization code as the consent page would hand to the redirect URI."""
        code = f"AB11{secrets.token_urlsafe(24)}"
        owner = client_id or self.client_id
        with self.lock:
            self.codes[code] = (realm_id, self.clock() + AUTH_CODE_LIFETIME, redirect_uri, owner)
        return code

    def exchange_code(
        self, code: str, redirect_uri: str | None, client_id: str | None = None
    ) -> dict:
        """authorization_code grant: a code works once, before it expires, for its own app."""
        with self.lock:
            entry = self.codes.pop(code, None)
            if entry is None:
                raise OAuthError(400, "invalid_grant")
            realm_id, expires, bound_uri, owner = entry
            if self.clock() >= expires or (client_id or self.client_id) != owner:
                raise OAuthError(400, "invalid_grant")
            if bound_uri is not None and redirect_uri != bound_uri:
                raise OAuthError(400, "invalid_grant", "redirect_uri mismatch")
            connection = Connection(realm_id=realm_id, created=self.clock(), client_id=owner)
            self.connections.append(connection)
            return self._issue(connection)

    def refresh(self, refresh_token: str, client_id: str | None = None) -> dict:
        """refresh_token grant: rotate, retiring the token used (only for the app it is for)."""
        with self.lock:
            connection = self._connection_for_refresh(refresh_token)
            if connection is None or connection.client_id != (client_id or self.client_id):
                raise OAuthError(400, "invalid_grant")
            return self._issue(connection)

    def issue(self, realm_id: str, client_id: str | None = None) -> dict:
        """A fresh connection for an app without the browser flow (test API)."""
        owner = client_id or self.client_id
        with self.lock:
            if owner not in self.apps:
                raise ValueError(f"no app with client id {owner!r}: register_app first")
            connection = Connection(realm_id=realm_id, created=self.clock(), client_id=owner)
            self.connections.append(connection)
            return self._issue(connection)

    def revoke(self, token: str) -> None:
        """End the connection that owns a refresh or access token (unknown tokens: no-op)."""
        with self.lock:
            for connection in self.connections:
                if token == connection.refresh_token or token in connection.access_tokens:
                    connection.revoked = True

    def revoke_all(self) -> None:
        """End every connection (a user disconnecting the app everywhere)."""
        with self.lock:
            for connection in self.connections:
                connection.revoked = True

    # --- internals ----------------------------------------------------------------------------

    def _connection_for_refresh(self, refresh_token: str) -> Connection | None:
        now = self.clock()
        for connection in self.connections:
            if connection.revoked:
                continue
            graced = connection.retired.get(refresh_token)
            if graced is not None and now < graced:
                return connection
            if connection.refresh_token != refresh_token:
                continue
            if connection.refresh_expires is not None and now >= connection.refresh_expires:
                return None
            if now >= connection.created + CONNECTION_LIFETIME:
                return None
            return connection
        return None

    def _issue(self, connection: Connection) -> dict:
        now = self.clock()
        access = f"eyJ.emu.{secrets.token_urlsafe(48)}"
        refresh = f"RT1-emu-{secrets.token_urlsafe(36)}"
        connection.access_tokens[access] = now + timedelta(seconds=ACCESS_TOKEN_SECONDS)
        if connection.refresh_token is not None and self.refresh_grace > timedelta(0):
            connection.retired[connection.refresh_token] = now + self.refresh_grace
        connection.refresh_token = refresh
        connection.refresh_expires = now + timedelta(seconds=REFRESH_TOKEN_SECONDS)
        hard_expiry = connection.created + CONNECTION_LIFETIME - now
        return {
            "token_type": "bearer",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": ACCESS_TOKEN_SECONDS,
            "x_refresh_token_expires_in": REFRESH_TOKEN_SECONDS,
            "x_refresh_token_hard_expires_in": int(hard_expiry.total_seconds()),
            "realm_id": connection.realm_id,
        }
