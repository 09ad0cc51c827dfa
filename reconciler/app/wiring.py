"""Builds the running pieces from `Settings`: sessions, clients, token source, store.

The one place that turns configuration into objects; the CLI, the daemon, the demo and the
integration tests all build through here, so they run the same code. TLS verification is
requests' default and is never turned off: the emulators are plain http on 127.0.0.1.

Time comes in as parameters with the real defaults (`clock` for dates, `monotonic` and
`sleep` for the waits: back-off after a fault, the rate limiter, Luminous's retries), so a test
can run a pass on one fake clock whose sleep moves it instead of waiting.

A session reads the environment once, when it is built (`session`), not at every request as
requests does by default: that re-read (proxies, `no_proxy`, `~/.netrc`) was about a tenth of
the CPU a single QBO write costs, and a `.netrc` entry for the host would have replaced the
bearer token with Basic credentials.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from reconciler import logs
from reconciler.config.loader import Settings
from reconciler.luminous.client import LuminousClient
from reconciler.qbo.auth import FileTokenStore, OAuthTokenSource
from reconciler.qbo.client import QBOClient
from reconciler.qbo.limiter import RealmLimiter
from reconciler.state import StateStore
from reconciler.sync.engine import Deps, RequestCounter

USER_AGENT = "reconciler/0.1 (+https://github.com/)"


def utc_now() -> datetime:
    return datetime.now(UTC)


def session(pool_size: int = 10, *, for_url: str) -> requests.Session:
    """A session for requests to `for_url`'s host, with the environment's proxy for it (after
    `no_proxy`) and CA bundle (`REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`) read now, once: what
    requests would read at every request, without `~/.netrc`."""
    s = requests.Session()
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(pool_size, 2))
    s.mount("https://", adapter)
    s.mount("http://", adapter)
    s.headers["User-Agent"] = USER_AGENT
    s.trust_env = False
    s.proxies = dict(requests.utils.get_environ_proxies(for_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        s.verify = bundle
    return s


def register_secrets(settings: Settings) -> None:
    """Tell the log redactor every secret value we hold, before anything is logged."""
    values = [
        settings.luminous.api_token.reveal() if settings.luminous.api_token else None,
        settings.qbo.client_secret.reveal() if settings.qbo.client_secret else None,
        settings.qbo.token_key.reveal() if settings.qbo.token_key else None,
    ]
    logs.register_secrets(values)


class RedactingTokenStore:
    """Wraps the token store so every token that passes through is known to the redactor."""

    def __init__(self, inner: FileTokenStore) -> None:
        self._inner = inner

    def load(self) -> Any:
        tokens = self._inner.load()
        if tokens is not None:
            logs.register_secrets([tokens.access_token, tokens.refresh_token])
        return tokens

    def save(self, tokens: Any) -> None:
        logs.register_secrets([tokens.access_token, tokens.refresh_token])
        self._inner.save(tokens)

    def reserve(self) -> Any:
        return _RedactingReservation(self._inner.reserve())

    def lock(self, timeout: float) -> Any:
        return self._inner.lock(timeout)

    def recover(self) -> bool:
        return self._inner.recover()

    def clear(self) -> None:
        """Forget the connection locally (after a revoke)."""
        Path(self._inner.path).unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"RedactingTokenStore({self._inner!r})"


class _RedactingReservation:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def commit(self, tokens: Any) -> None:
        logs.register_secrets([tokens.access_token, tokens.refresh_token])
        self._inner.commit(tokens)

    def release(self) -> None:
        self._inner.release()


def token_store(settings: Settings) -> RedactingTokenStore:
    key = settings.qbo.token_key.reveal() if settings.qbo.token_key else None
    return RedactingTokenStore(FileTokenStore(settings.qbo.token_store, key=key))


def auth_client_factory(settings: Settings) -> Callable[[], Any]:
    def make() -> Any:
        from reconciler.qbo.auth_client import BoundedAuthClient  # intuit-oauth when needed

        q = settings.qbo
        return BoundedAuthClient(
            client_id=q.client_id,
            client_secret=q.client_secret.reveal() if q.client_secret else "",
            redirect_uri=q.redirect_uri,
            environment=q.environment,
            timeout=min(q.timeout.total_seconds(), 60.0),
        )

    return make


def token_source(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    on_event: Callable[..., None] | None = None,
) -> OAuthTokenSource:
    return OAuthTokenSource(
        auth_client_factory(settings), token_store(settings), clock=clock, on_event=on_event
    )


def qbo_client(
    settings: Settings,
    tokens: Any,
    *,
    on_request: Callable[[dict[str, Any]], None] | None = None,
    http: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> QBOClient:
    q = settings.qbo
    timeout = q.timeout.total_seconds()
    return QBOClient(
        http or session(q.max_concurrent, for_url=q.base_url),
        q.base_url,
        q.realm_id,
        tokens,
        minorversion=q.minorversion,
        timeout=(min(10.0, timeout), timeout),
        limiter=realm_limiter(settings, sleep=sleep, monotonic=monotonic),
        throttle_wait=q.throttle_wait.total_seconds(),
        on_request=on_request,
        sleep=sleep,
        monotonic=monotonic,
    )


_LIMITERS: dict[tuple[Any, ...], RealmLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def realm_limiter(
    settings: Settings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> RealmLimiter:
    """One limiter per company (and clock) for the whole process: QBO counts a company's
    requests across passes, so a pass that starts as the last one ends must see what that one
    sent."""
    q = settings.qbo
    key = (
        q.base_url,
        q.realm_id,
        q.requests_per_minute,
        q.requests_per_second,
        q.batches_per_minute,
        q.max_concurrent,
        monotonic,
        sleep,
    )
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None:
            limiter = _LIMITERS[key] = RealmLimiter(
                requests_per_minute=q.requests_per_minute,
                requests_per_second=q.requests_per_second,
                batches_per_minute=q.batches_per_minute,
                max_concurrent=q.max_concurrent,
                clock=monotonic,
                sleep=sleep,
            )
        return limiter


def luminous_client(
    settings: Settings,
    *,
    http: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> LuminousClient:
    lum = settings.luminous
    return LuminousClient(
        http or session(for_url=lum.base_url),
        lum.base_url,
        lum.api_token.reveal() if lum.api_token else "",
        per_page=lum.per_page,
        timeout=lum.timeout.total_seconds(),
        sleep=sleep,
    )


def open_store(
    settings: Settings, *, clock: Callable[[], datetime] = utc_now, read_only: bool = False
) -> StateStore:
    return StateStore.open(settings.state.path, clock=clock, read_only=read_only)


def build_deps(
    settings: Settings,
    *,
    log: Any,
    clock: Callable[[], datetime] = utc_now,
    store: StateStore | None = None,
    tokens: Any = None,
    counter: RequestCounter | None = None,
    stop_requested: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Deps:
    """The pieces of one pass; `clock`, `sleep` and `monotonic` are real time unless a test
    hands in its fake clock's."""
    register_secrets(settings)
    store = store or open_store(settings, clock=clock)
    tokens = tokens or token_source(settings, clock=clock, on_event=log.warning)
    return Deps(
        settings=settings,
        store=store,
        luminous=luminous_client(settings, sleep=sleep),
        qbo=qbo_client(settings, tokens, on_request=counter, sleep=sleep, monotonic=monotonic),
        log=log,
        clock=clock,
        rng=random.Random(),  # noqa: S311 (jitter, not secrets)
        stop_requested=stop_requested,
        ready=getattr(tokens, "prepare", lambda: None),
    )


EPISODES_KEY = "alerts.episodes"  # meta: syncing stopped or resumed (`alerts.stops`)


def pass_alerts(
    settings: Settings,
    store: StateStore,
    log: Any,
    *,
    clock: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Any:
    """The alerts after each pass (`alerts.PassAlerts`), or None without a webhook URL."""
    config = settings.alerts
    if not config.webhook_url:
        return None
    from reconciler.alerts.webhook import PassAlerts, WebhookSender
    from reconciler.model import SyncStatus
    from reconciler.state.run_lines import RunLines

    sender = WebhookSender(
        config.webhook_url,
        log=log,
        timeout=config.timeout.total_seconds(),
        max_attempts=config.max_attempts,
        give_up_after=config.give_up_after.total_seconds(),
        sleep=sleep,
        monotonic=monotonic,
    )
    return PassAlerts(
        sender,
        realm_id=settings.qbo.realm_id,
        newly_failed=RunLines(store.db).newly_failed,
        failed_in_ledger=lambda: store.ledger.count(status=SyncStatus.FAILED),
        max_listed=config.max_listed,
        log=log,
        episodes=(
            lambda: store.get_meta(EPISODES_KEY),
            lambda value: store.set_meta(EPISODES_KEY, value),
        ),
        threshold=config.aborted_passes,
        clock=clock,
    )
