"""`reconciler run` as a service: long-lived clients, the health server, the daemon loop.

The store, the token source and the HTTP sessions live for the whole process (the token source
holds the refresh lock and the newest tokens); each pass gets a fresh request counter and the
daemon's stop flag.
"""

from __future__ import annotations

from typing import Any

from reconciler import errors, logs
from reconciler.app import wiring
from reconciler.app.daemon import Daemon
from reconciler.app.notify import Notifier
from reconciler.config.loader import Settings
from reconciler.state import StateStore
from reconciler.sync.engine import Deps, PassReport, RequestCounter, run_pass
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
    health = HealthState(settings.poll_interval)
    wiring.register_secrets(settings)
    store = wiring.open_store(settings)
    try:
        server = start_health(settings, health, status_page(settings, store, log, health))
    except errors.ConfigError:
        store.close()
        raise
    tokens = wiring.token_source(settings)
    hooks = RequestHooks(health)
    qbo = wiring.qbo_client(settings, tokens, on_request=hooks)
    luminous = wiring.luminous_client(settings)
    first = {"full": full_sweep_first}
    alerts = wiring.pass_alerts(settings, store, log)  # None without [alerts] webhook_url

    def ready_checks() -> None:
        store.bind_realm(settings.qbo.realm_id)
        try:
            tokens.access_token()  # refreshes (and stores the rotated token) if needed
        except errors.Fatal:
            health.set_authorized(False)
            raise
        health.set_authorized(True)
        log.info("ready", realm_id=settings.qbo.realm_id, state=settings.state.path)

    def one_pass(stop_requested: Any) -> PassReport:
        hooks.counter = RequestCounter()
        deps = Deps(
            settings=settings,
            store=store,
            luminous=luminous,
            qbo=qbo,
            log=log,
            stop_requested=stop_requested,
        )
        full, first["full"] = first["full"], False
        report = run_pass(deps, full_sweep=full, counter=hooks.counter)
        if report.authorization_lost:
            health.set_authorized(False)
        if alerts is not None:
            alerts.after(report)  # queued: the next pass never waits for a webhook
        return report

    try:
        return Daemon(
            one_pass,
            poll_interval=settings.poll_interval,
            notifier=Notifier.from_env(),
            health=health,
            log=log,
            ready_checks=ready_checks,
        ).run()
    finally:
        if alerts is not None:
            alerts.sender.close(wait=ALERT_WAIT_AT_EXIT)
        server.shutdown()
        store.close()
