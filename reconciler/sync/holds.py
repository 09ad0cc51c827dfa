"""Back-off that lasts: a service that asked for quiet (`Retry-After`) is left alone until then.

Luminous and QBO answer 429 (and QBO sometimes 503) with `Retry-After`. Within a pass the
clients wait a short one out (`luminous.http`, `qbo.transport`); a long one stops the pass.
Either way each client remembers until when it was asked to stay away (`quiet_for`), and at
the end of the pass what is still ahead becomes a hold in the state file (`meta`, one key per
service), so the next pass, in this process or after a restart, does not start before it ends.
The daemon and `run --once` ask `Holds.active()` before a pass and skip it while one holds;
the daemon logs a hold once, with the time it ends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

SERVICES = ("luminous", "qbo")
LABELS = {"luminous": "Luminous", "qbo": "QuickBooks"}
MAX_HOLD = timedelta(days=1)  # a Retry-After beyond this is taken as a day (a typo or a lie)
KEY = "hold.{}"


@dataclass(frozen=True)
class Hold:
    service: str
    until: datetime
    reason: str

    def describe(self) -> str:
        return (
            f"{LABELS.get(self.service, self.service)} asked for quiet until "
            f"{self.until.strftime('%Y-%m-%dT%H:%M:%SZ')} ({self.reason})"
        )


class Holds:
    """The holds kept in the state file's `meta` (any object with get_meta/set_meta)."""

    def __init__(self, store: Any, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    def active(self) -> Hold | None:
        """The hold that ends last among those not over yet, or None."""
        now = self._clock()
        holds = [h for h in (self._read(s) for s in SERVICES) if h is not None and h.until > now]
        return max(holds, key=lambda h: h.until, default=None)

    def record(self, service: str, seconds: float, reason: str) -> Hold | None:
        """Keep `service` quiet for `seconds` from now (None when there is nothing to keep)."""
        if seconds <= 0:
            return None
        until = self._clock() + min(timedelta(seconds=seconds), MAX_HOLD)
        current = self._read(service)
        if current is not None and current.until >= until:
            return current
        hold = Hold(service, until.replace(microsecond=0) + timedelta(seconds=1), reason)
        self._store.set_meta(
            KEY.format(service), json.dumps({"until": hold.until.isoformat(), "reason": reason})
        )
        return hold

    def _read(self, service: str) -> Hold | None:
        raw = self._store.get_meta(KEY.format(service))
        if not raw:
            return None
        try:
            data = json.loads(raw)
            return Hold(service, datetime.fromisoformat(data["until"]), str(data["reason"]))
        except (ValueError, KeyError, TypeError):
            return None  # a damaged entry holds nothing


def record_quiet(holds: Holds, clients: dict[str, Any]) -> list[Hold]:
    """After a pass: each client's remaining `quiet_for()` becomes a hold."""
    kept = []
    for service, client in clients.items():
        quiet = getattr(client, "quiet_for", None)
        seconds, reason = quiet() if callable(quiet) else (0.0, "")
        hold = holds.record(service, seconds, reason)
        if hold is not None:
            kept.append(hold)
    return kept
