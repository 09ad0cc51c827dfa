"""Client-side limits for one QBO realm, so we slow ourselves down before QBO answers 429.

QBO's documented limits per realm and app: 500 requests a minute, 10 requests in flight, and
40 batch requests a minute. The limiter keeps a sliding 60-second window of start times for
requests and, separately, for batch requests (a batch request counts against both windows), and
a count of requests in flight. `with limiter.slot(): ...` blocks until all three allow it.

Time is injected: `clock` (monotonic seconds) and `sleep`; tests pass a fake clock whose sleep
advances it. Waiting for an in-flight slot uses a condition variable (another thread must finish
its request), which is a real wait on real work, not a schedule.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

WINDOW_S = 60.0


class _Window:
    """Requests inside the last WINDOW_S seconds; full when it holds `limit` of them.

    Each entry is a one-element list: the request's start while it is in flight, its end once
    it is done. QBO counts a request when it arrives, somewhere between our start and our end;
    counting ours from the end keeps a request sent exactly 60 s later from reaching QBO's
    window early (seen in the backfill benchmark: a few 429s at 150 ms latency)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a rate limit must allow at least one request a minute")
        self.limit = limit
        self.starts: deque[list[float]] = deque()

    def wait_needed(self, now: float) -> float:
        while self.starts and self.starts[0][0] <= now - WINDOW_S:
            self.starts.popleft()
        if len(self.starts) < self.limit:
            return 0.0
        return self.starts[0][0] + WINDOW_S - now

    def record(self, now: float) -> list[float]:
        entry = [now]
        self.starts.append(entry)
        return entry


class RealmLimiter:
    """Request rate, batch rate and concurrency for one realm; thread-safe."""

    def __init__(
        self,
        *,
        requests_per_minute: int = 500,
        batches_per_minute: int = 40,
        max_concurrent: int = 10,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.max_concurrent = max_concurrent
        self._requests = _Window(requests_per_minute)
        self._batches = _Window(batches_per_minute)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slot_free = threading.Condition(self._lock)
        self._in_flight = 0
        self.waited_s = 0.0  # total time spent waiting for the rate windows (for metrics)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def _take_concurrency(self) -> None:
        with self._slot_free:
            while self._in_flight >= self.max_concurrent:
                self._slot_free.wait()
            self._in_flight += 1

    def _release_concurrency(self) -> None:
        with self._slot_free:
            self._in_flight -= 1
            self._slot_free.notify()

    def _take_rate(self, batch: bool) -> list[list[float]]:
        while True:
            with self._lock:
                now = self._clock()
                wait = self._requests.wait_needed(now)
                if batch:
                    wait = max(wait, self._batches.wait_needed(now))
                if wait <= 0:
                    entries = [self._requests.record(now)]
                    if batch:
                        entries.append(self._batches.record(now))
                    return entries
                self.waited_s += wait
            self._sleep(wait)

    def _ended(self, entries: list[list[float]]) -> None:
        with self._lock:
            now = self._clock()
            for entry in entries:
                entry[0] = max(entry[0], now)

    @contextmanager
    def slot(self, *, batch: bool = False) -> Iterator[None]:
        """Hold one in-flight slot and one unit of the rate budget while the body runs."""
        self._take_concurrency()
        try:
            entries = self._take_rate(batch)
            try:
                yield
            finally:
                self._ended(entries)
        finally:
            self._release_concurrency()
