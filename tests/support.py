"""Small test doubles shared by the integration, crash and fault suites (importable as
`support`: pytest puts tests/ on sys.path for its conftest)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any


class Clock:
    """Real time plus an offset the tests move forward (back-off and retries)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **kw: float) -> None:
        self.offset += timedelta(**kw)


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
