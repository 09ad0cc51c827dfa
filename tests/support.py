"""Small test doubles shared by the integration, crash and fault suites (importable as
`support`: pytest puts tests/ on sys.path for its conftest)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

# The settings every configuration needs, as RECONCILER_* variables (its two secrets included).
MINIMAL_ENV = {
    "RECONCILER_LUMINOUS__API_TOKEN": "lum-token-123",
    "RECONCILER_QBO__CLIENT_SECRET": "qbo-secret-456",
    "RECONCILER_LUMINOUS__BASE_URL": "https://acme.api.joinluminous.com/external/api/v1",
    "RECONCILER_QBO__REALM_ID": "9130355",
    "RECONCILER_QBO__CLIENT_ID": "client",
}


class Clock:
    """One fake time for a test: the wall clock (call it), the monotonic clock and `sleep`.

    Real time plus an offset the test moves forward (`advance`, back-off and retries); `sleep`
    moves the offset instead of waiting, so every wait of an in-process pass (the back-off
    after a fault, the rate limiter, Luminous's retries) is instant and still counted: what
    was slept is in `slept`. Hand the same clock to the QBO emulator's `limits_clock` so its
    windows see the time the client slept. Threads may sleep at once: each moves the clock
    by what it asked, so time runs at least as fast as every waiter needs.
    """

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset.total_seconds()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.offset += timedelta(seconds=max(0.0, seconds))

    def advance(self, **kw: float) -> None:
        with self._lock:
            self.offset += timedelta(**kw)


def wire_to(clock: Clock, monkeypatch: Any) -> None:
    """The passes the code under test builds itself (`main(["run", ...])`, the preview) wait
    on `clock` too: `wiring.build_deps` and `wiring.pass_alerts` get its sleep and monotonic
    clock (dates stay the caller's). Give the QBO emulator the same `limits_clock`."""
    import functools

    from reconciler.app import wiring

    waits = {"sleep": clock.sleep, "monotonic": clock.monotonic}
    monkeypatch.setattr(wiring, "build_deps", functools.partial(wiring.build_deps, **waits))
    monkeypatch.setattr(wiring, "pass_alerts", functools.partial(wiring.pass_alerts, **waits))


class EventLog:
    """A structlog-shaped logger keeping every event as a JSON line (scanned for secrets)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def _add(self, level: str, event: str, **kw: Any) -> None:
        self.lines.append(json.dumps({"level": level, "event": event, **kw}, default=str))

    def info(self, event: str, **kw: Any) -> None:
        self._add("info", event, **kw)

    def warning(self, event: str, **kw: Any) -> None:
        self._add("warning", event, **kw)

    def error(self, event: str, **kw: Any) -> None:
        self._add("error", event, **kw)

    def debug(self, event: str, **kw: Any) -> None:
        self._add("debug", event, **kw)


def rules(**changes: Any):
    """The mapping rules a default configuration gives, with `changes`."""
    import dataclasses

    from reconciler.config.loader import Settings

    return dataclasses.replace(Settings().mapping_rules(), **changes)


def policy(**changes: Any):
    """The planning policy a default configuration gives, with `changes`."""
    import dataclasses

    from reconciler.config.loader import Settings

    return dataclasses.replace(Settings().plan_policy(), **changes)
