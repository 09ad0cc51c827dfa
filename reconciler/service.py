"""`reconciler run` as a service: long-lived clients, the health server, the daemon loop.

The store, the token source and the HTTP sessions live for the whole process (the token source
holds the refresh lock and the newest tokens); each pass gets a fresh request counter and the
daemon's stop flag.
"""

from __future__ import annotations

from typing import Any

from reconciler import errors, wiring
from reconciler.config import Settings
from reconciler.daemon import Daemon
from reconciler.engine import Deps, PassReport, RequestCounter, run_pass
from reconciler.health import HealthState, serve_health
from reconciler.notify import Notifier


class RequestHooks:
    """The QBO client's one `on_request` hook, fanned out to the live metrics and the
    counter of the pass in hand."""

    def __init__(self, health: HealthState) -> None:
        self.health = health
        self.counter = RequestCounter()

    def __call__(self, event: dict[str, Any]) -> None:
        self.counter(event)
        self.health.on_qbo_request(event)


def run_service(settings: Settings, *, log: Any, full_sweep_first: bool = False) -> int:
    health = HealthState(settings.poll_interval)
    try:
        server = serve_health(health, settings.daemon.health_host, settings.daemon.health_port)
    except OSError as exc:
        raise errors.ConfigError(
            [
                f"cannot serve health on {settings.daemon.health_host}:"
                f"{settings.daemon.health_port} ({exc.strerror or exc}); set [daemon] health_port"
            ]
        ) from None
    wiring.register_secrets(settings)
    store = wiring.open_store(settings)
    tokens = wiring.token_source(settings)
    hooks = RequestHooks(health)
    qbo = wiring.qbo_client(settings, tokens, on_request=hooks)
    luminous = wiring.luminous_client(settings)
    first = {"full": full_sweep_first}

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
        server.shutdown()
        store.close()
