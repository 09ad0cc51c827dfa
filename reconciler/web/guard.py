"""Who may use the status page's one write, the retry: the checks, each a small pure piece.

The page has no login. A retry needs all of:

- the configured retry token, typed into the form (or sent as a header), compared in
  constant time on digests (so neither content nor length leaks);
- a CSRF token from the document's own page: an HMAC, under a secret made fresh for each
  process, of the document and an expiry a few minutes ahead, so a token is good for one
  document, briefly, and only from this process (the bulk retry's is bound the same way to
  the filtered view it was shown with: `mint_for("set:" + query)`);
- a request from the page's own origin: `Origin` (else `Referer`) names the `Host` asked for,
  and that Host is the server's own loopback name or one configured (a DNS-rebinding page
  asks with its own name);
- fewer than `MAX_FAILURES` wrong tokens in the last `LOCKOUT` seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from reconciler.model import DocKind

CSRF_TTL = 15 * 60  # seconds a retry form stays usable
MAX_FAILURES = 5
LOCKOUT = 60  # seconds
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})


class CsrfTokens:
    """Tokens bound to one document, good for `ttl` seconds, under a per-process secret."""

    def __init__(
        self, *, ttl: int = CSRF_TTL, clock: Callable[[], float] = time.monotonic, key: bytes = b""
    ) -> None:
        """The monotonic clock by default: the secret lives and dies with the process, and a
        wall clock set back or forward would make every form useless or long-lived."""
        self._key = key or secrets.token_bytes(32)
        self._ttl = ttl
        self._clock = clock

    def mint(self, kind: DocKind, doc_id: int) -> str:
        return self.mint_for(f"{kind}:{doc_id}")

    def valid(self, token: str, kind: DocKind, doc_id: int) -> bool:
        return self.valid_for(token, f"{kind}:{doc_id}")

    def mint_for(self, subject: str) -> str:
        """A token for one subject (a document, a filtered view)."""
        expires = int(self._clock()) + self._ttl
        return f"{expires}.{self._mac(subject, expires)}"

    def valid_for(self, token: str, subject: str) -> bool:
        expires_text, _, mac = token.partition(".")
        if not (expires_text.isascii() and expires_text.isdigit() and len(expires_text) <= 12):
            return False
        expires, now = int(expires_text), self._clock()
        if not now <= expires <= now + self._ttl + 1:
            return False
        expected = self._mac(subject, expires)
        return hmac.compare_digest(mac.encode(), expected.encode())

    def _mac(self, subject: str, expires: int) -> str:
        message = f"retry:{subject}:{expires}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_matches(given: str, expected: str) -> bool:
    """Constant time, whatever the lengths: the digests are compared, not the strings."""
    if not given or not expected:
        return False
    a = hashlib.sha256(given.encode()).digest()
    b = hashlib.sha256(expected.encode()).digest()
    return hmac.compare_digest(a, b)


def split_host(host: str) -> tuple[str, int | None]:
    """'Name:port' as the Host header has it, the name lower-cased ('[::1]:8787' too)."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host.partition("]")
        name, port = name + "]", rest.removeprefix(":")
    elif host.count(":") == 1:
        name, _, port = host.partition(":")
    else:
        name, port = host, ""
    if not port:
        return name, None
    return name, int(port) if port.isascii() and port.isdigit() and len(port) <= 5 else -1


def host_allowed(host: str | None, bound: str, extra: Iterable[str] = ()) -> bool:
    """The Host asked for is this server: a loopback name or the bound address (on any
    port: a container's published port is not ours), or one of the configured names (with
    its port, or any port when it names none). A DNS-rebinding page asks with its own name."""
    if not host:
        return False
    name, asked_port = split_host(host)
    if asked_port == -1:
        return False
    for allowed in extra:
        allowed_name, allowed_port = split_host(allowed)
        if name == allowed_name and allowed_port in (None, asked_port):
            return True
    own = LOOPBACK_NAMES | ({bound.lower()} if bound not in ("", "0.0.0.0", "::") else set())  # noqa: S104
    return name in own


def same_origin(origin: str | None, referer: str | None, hosts: Iterable[str]) -> bool:
    """The request comes from a page of one of these hosts (the Host asked for, and the
    configured names a proxy may keep in Origin while it rewrites Host): Origin when the
    browser sends it (every form POST does), else Referer; neither is a refusal."""
    own = {f"{scheme}://{host.lower()}" for host in hosts for scheme in ("http", "https")}
    if origin:
        return origin.strip().lower() in own
    if referer:
        return any(referer.lower().startswith(o + "/") for o in own)
    return False


class FailureThrottle:
    """Refuse every retry for a while once the token was wrong too often (thread-safe)."""

    def __init__(
        self,
        *,
        limit: int = MAX_FAILURES,
        window: float = LOCKOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit, self._window, self._clock = limit, window, clock
        self._failures: deque[float] = deque()
        self._lock = threading.Lock()

    def locked(self) -> bool:
        with self._lock:
            self._forget_old()
            return len(self._failures) >= self._limit

    def failed(self) -> None:
        with self._lock:
            self._failures.append(self._clock())
            self._forget_old()

    def _forget_old(self) -> None:
        while self._failures and self._failures[0] <= self._clock() - self._window:
            self._failures.popleft()
