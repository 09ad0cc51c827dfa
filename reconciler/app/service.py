"""`reconciler run` as a service: long-lived clients, the health server, the daemon loop.

The store, the token source and the HTTP sessions live for the whole process (the token source
holds the refresh lock and the newest tokens); each pass gets a fresh request counter and the
daemon's stop flag.
"""

from __future__ import annotations

from typing import Any

from reconciler import errors, logs
from reconciler.app import wiring
from reconciler.app.daemon import EXIT_FATAL, Daemon
from reconciler.app.notify import Notifier
from reconciler.app.watch import PassWatch
from reconciler.config.loader import Settings
from reconciler.state import StateStore
from reconciler.sync.engine import Deps, PassReport, RequestCounter, run_pass
from reconciler.sync.holds import Holds
from reconciler.web.health import HealthServer, HealthState, serve_health
from reconciler.web.links import luminous_template_problem
from reconciler.web.routes import StatusPage
from reconciler.web.zones import zone_named

ALERT_WAIT_AT_EXIT = 5.0  # seconds a queued alert may hold up a stop (TimeoutStopSec=20)
MIN_RETRY_TOKEN = 16  # characters; the token is all that stands between a browser and a retry


class RequestHooks:
    """The QBO client's one `on_request` hook, fanned out to the live metrics and the
    counter of the pass in hand."""

    def __init__(self, health: HealthState) -> None:
        self.health = health
        self.counter = RequestCounter()

    def __call__(self, event: dict[str, Any]) -> None:
        self.counter(event)
        self.health.on_qbo_request(event)


def status_page(
    settings: Settings, store: StateStore, log: Any, health: HealthState | None = None
) -> StatusPage | None:
    """The status page over the daemon's own store (its header from `health`), or None when
    it is turned off."""
    config = settings.status_page
    if not config.enabled:
        return None
    token = config.retry_token
    problems = []
    if token and len(token.reveal().strip()) < MIN_RETRY_TOKEN:
        problems.append(f"status_page.retry_token must be at least {MIN_RETRY_TOKEN} characters")
    if config.timezone and zone_named(config.timezone) is None:
        problems.append(
            f"status_page.timezone: {config.timezone!r} is not a time zone this machine knows "
            "(an IANA name, e.g. America/Chicago)"
        )
    if problem := luminous_template_problem(config.luminous_url):
        problems.append(problem)
    if problems:
        raise errors.ConfigError(problems)
    logs.register_secrets([token.reveal() if token else None])
    return StatusPage(
        store,
        environment=settings.qbo.environment,
        realm_id=settings.qbo.realm_id,
        luminous_url=config.luminous_url,
        timezone=config.timezone,
        retry_token=token,
        allowed_hosts=config.allowed_hosts,
        on_event=lambda event, **fields: log.info(event, **fields),
        health=health,
    )


def start_health(settings: Settings, health: HealthState, page: StatusPage | None) -> HealthServer:
    host, port = settings.daemon.health_host, settings.daemon.health_port
    try:
        return serve_health(health, host, port, status_page=page)
    except OSError as exc:
        raise errors.ConfigError(
            [
                f"cannot serve health on {host}:{port} ({exc.strerror or exc});"
                " set [daemon] health_port"
            ]
        ) from None


def run_service(settings: Settings, *, log: Any, full_sweep_first: bool = False) -> int:
    wiring.register_secrets(settings)
    store = wiring.open_store(settings)
    health = HealthState(settings.poll_interval)
    try:
        server = start_health(settings, health, status_page(settings, store, log, health))
    except errors.ConfigError:
        store.close()
        raise
    log.info("health_listening", host=server.host, port=server.port)
    service = Service(settings, store, health, log, full_sweep_first=full_sweep_first)
    code = EXIT_FATAL
    try:
        code = service.daemon().run()
        return code
    finally:
        service.close(fatal=code == EXIT_FATAL)
        server.shutdown()
        store.close()


class Service:
    """The long-lived pieces of `reconciler run` and what the daemon calls on them."""

    def __init__(
        self,
        settings: Settings,
        store: StateStore,
        health: HealthState,
        log: Any,
        *,
        full_sweep_first: bool,
    ) -> None:
        self.settings, self.store, self.health, self.log = settings, store, health, log
        self.tokens = wiring.token_source(settings, on_event=log.warning)
        self.hooks = RequestHooks(health)
        self.qbo = wiring.qbo_client(settings, self.tokens, on_request=self.hooks)
        self.luminous = wiring.luminous_client(settings)
        self.full_next = full_sweep_first
        self.alerts = wiring.pass_alerts(settings, store, log)  # None without a webhook_url
        self.holds = Holds(store, wiring.utc_now)

    def daemon(self) -> Daemon:
        notifier = Notifier.from_env()
        watch = PassWatch(
            self.one_pass,
            health=self.health,
            notifier=notifier,
            log=self.log,
            alerts=self.alerts,
            hold=self.holds.active,
            tokens_unsaved=lambda: self.tokens.unsaved_reason if self.tokens.unsaved else None,
        )
        return Daemon(
            self.one_pass,
            poll_interval=self.settings.poll_interval,
            notifier=notifier,
            health=self.health,
            log=self.log,
            ready_checks=self.ready_checks,
            watch=watch,
        )

    def ready_checks(self) -> None:
        self.store.bind_realm(self.settings.qbo.realm_id)
        self.health.set_documents(self.store.ledger.status_counts())  # before any pass
        if self.holds.active() is None:  # (during a hold, the first pass waits; so does this)
            try:
                self.tokens.prepare()  # refreshes (and stores the rotated pair) if needed
            except errors.Fatal:
                self.health.set_authorized(False)
                raise
            except errors.Retryable as exc:  # no token just now: the passes will say so
                self.log.warning("not_ready_yet", reason=str(exc))
        self.health.set_authorized(True)
        self.log.info("ready", realm_id=self.settings.qbo.realm_id, state=self.settings.state.path)

    def one_pass(self, stop_requested: Any) -> PassReport:
        self.hooks.counter = RequestCounter()
        deps = Deps(
            settings=self.settings,
            store=self.store,
            luminous=self.luminous,
            qbo=self.qbo,
            log=self.log,
            stop_requested=stop_requested,
            ready=self.tokens.prepare,
        )
        full, self.full_next = self.full_next, False
        report = run_pass(deps, full_sweep=full, counter=self.hooks.counter)
        if report.authorization_lost:
            self.health.set_authorized(False)
        return report

    def close(self, *, fatal: bool) -> None:
        if self.tokens.unsaved and not self.tokens.save_pending():
            self.log.error("tokens_unsaved_at_exit", reason=self.tokens.unsaved_reason)
        if self.alerts is not None:  # a stop for good waits for its alert (give_up_after)
            wait = self.settings.alerts.give_up_after.total_seconds()
            self.alerts.sender.close(wait=wait if fatal else ALERT_WAIT_AT_EXIT)
