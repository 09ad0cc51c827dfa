"""Intuit's API call limits, for the emulator: sliding windows and in-flight counts.

The limits, as developer.intuit.com "API call limits and throttles"
(https://developer.intuit.com/app/developer/qbo/docs/learn/limits-and-throttles) sets them for
production and sandbox alike, all enforced at once:

- 500 requests a minute per realm, every app together (batch requests included, as Intuit's
  2016 concurrent-use blog says);
- 10 requests a second per realm and app;
- 10 requests in flight per realm and app (the 2016 blog: "based on an application and realmId
  combination");
- 40 batch requests a minute per realm and app, and 120 a minute per realm over all apps.

Where the page is silent, what this does and why:

- A batch request is one request for the per-minute, per-second and in-flight limits too (the
  page lists the batch limits apart; the blog counts batches in the 500).
- Windows slide: no span of 60 s (1 s) holds more than the limit. Intuit does not say whether
  its windows are fixed or sliding; sliding is the strict reading (a fixed window lets twice the
  limit through across its edge).
- A request is counted the moment it is admitted, before any work (so a slow request counts from
  its start, not its end), against every limit at once; one over any limit is refused and
  counted against none. None turns a limit off.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

MINUTE = 60.0
SECOND = 1.0


@dataclass(frozen=True)
class LimitSettings:
    """The limits in force for one request (None: off). Defaults are Intuit's."""

    requests_per_minute: int | None = 500  # per realm, all apps
    requests_per_second: int | None = 10  # per realm and app
    max_concurrent: int | None = 10  # in flight, per realm and app
    batches_per_minute: int | None = 40  # per realm and app
    realm_batches_per_minute: int | None = 120  # per realm, all apps


class RateLimits:
    """Every window and in-flight count of the emulator; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, ...], deque[float]] = {}
        self._in_flight: dict[tuple[str, str], int] = {}

    def admit(self, realm: str, app: str, is_batch: bool, limits: LimitSettings) -> float | None:
        """Count a request in and answer the moment it was counted; None if a limit refuses it."""
        with self._lock:
            now = self.clock()
            if not self._has_slot(realm, app, limits.max_concurrent):
                return None
            windows = []
            for key, span, limit in self._rules(realm, app, is_batch, limits):
                window = self._window(key, span, now)
                if len(window) >= limit:
                    return None
                windows.append(window)
            for window in windows:
                window.append(now)
            self._in_flight[(realm, app)] = self._in_flight.get((realm, app), 0) + 1
            return now

    def in_flight(self, realm: str, app: str) -> int:
        """Requests of one app on one realm admitted and not yet answered."""
        with self._lock:
            return self._in_flight.get((realm, app), 0)

    def release(self, realm: str, app: str) -> None:
        """The admitted request is done: free its in-flight slot."""
        with self._lock:
            self._in_flight[(realm, app)] -= 1

    def _has_slot(self, realm: str, app: str, max_concurrent: int | None) -> bool:
        return max_concurrent is None or self._in_flight.get((realm, app), 0) < max_concurrent

    @staticmethod
    def _rules(
        realm: str, app: str, is_batch: bool, limits: LimitSettings
    ) -> list[tuple[tuple[str, ...], float, int]]:
        """(window key, span, limit) for every limit that applies to this request and is on."""
        rules = [
            (("requests", realm), MINUTE, limits.requests_per_minute),
            (("per-second", realm, app), SECOND, limits.requests_per_second),
        ]
        if is_batch:
            rules.append((("batches", realm, app), MINUTE, limits.batches_per_minute))
            rules.append((("realm-batches", realm), MINUTE, limits.realm_batches_per_minute))
        return [(key, span, limit) for key, span, limit in rules if limit is not None]

    def _window(self, key: tuple[str, ...], span: float, now: float) -> deque[float]:
        window = self._windows.setdefault(key, deque())
        while window and window[0] <= now - span:
            window.popleft()
        return window
