"""Client-side limits for one QBO realm, so we slow ourselves down before QBO answers 429.

QBO's limits per realm and app (developer.intuit.com "API call limits and throttles"): 10
requests a second, 500 a minute, 40 batch requests a minute, and at most 10 in flight. The
limiter keeps one sliding window per rate (a batch request counts against every request window
and the batch window) and a count of requests in flight. `with limiter.slot(): ...` blocks
until every limit allows the request. After a 429 that came anyway, `hold(seconds)` stops every
new request of the realm for as long as QBO asked (Intuit: 60 s), so no other thread keeps
knocking meanwhile.

A batch may come with `patience`: if QBO's batch window will not have room for it within that
many seconds, `slot` raises `BatchWindowFull` instead of waiting, and the caller sends the
writes alone (`QBOClient.send_group`). The check and the take happen under one lock, so two
threads never both count on the window's last free batch.

QBO counts a request when it arrives, somewhere between our start and our end; a request is
counted here from its start while in flight and from its end once done, so a request started
exactly one window later can never reach QBO's window early (seen in the backfill benchmark: a
few 429s at 150 ms latency before this rule).

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

MINUTE_S = 60.0
SECOND_S = 1.0
WINDOW_S = MINUTE_S  # (the window of the per-minute limits)


class BatchWindowFull(Exception):
    """The batch window has no room within the patience given; nothing was counted."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"no batch slot for {wait:.1f} s")
        self.wait = wait


class _Window:
    """Requests inside the last `span` seconds; full when it holds `limit` of them.

    Each entry is a one-element list: the request's start while it is in flight, its end once
    it is done."""

    def __init__(self, limit: int, span: float) -> None:
        if limit < 1:
            raise ValueError("a rate limit must allow at least one request")
        self.limit = limit
        self.span = span
        self.starts: deque[list[float]] = deque()

    def wait_needed(self, now: float) -> float:
        while self.starts and self.starts[0][0] <= now - self.span:
            self.starts.popleft()
        if len(self.starts) < self.limit:
            return 0.0
        return self.starts[0][0] + self.span - now

    def room(self, now: float) -> int:
        self.wait_needed(now)  # (drops what has left the window)
        return max(0, self.limit - len(self.starts))

    def record(self, now: float) -> list[float]:
        entry = [now]
        self.starts.append(entry)
        return entry


class RealmLimiter:
    """Request rates, batch rate, concurrency and throttle holds for one realm; thread-safe."""

    def __init__(
        self,
        *,
        requests_per_minute: int = 500,
        requests_per_second: int = 10,
        batches_per_minute: int = 40,
        max_concurrent: int = 10,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.max_concurrent = max_concurrent
        self._requests = (
            _Window(requests_per_minute, MINUTE_S),
            _Window(requests_per_second, SECOND_S),
        )
        self._batches = _Window(batches_per_minute, MINUTE_S)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slot_free = threading.Condition(self._lock)
        self._in_flight = 0
        self._held_until = 0.0
        self.waited_s = 0.0  # total time spent waiting for the rate windows (for metrics)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def per_second(self) -> int:
        return self._requests[1].limit

    def batch_budget_wait(self) -> float:
        """Seconds until the batch window (or a throttle hold) lets a batch go: what
        `patience` is held against. A sender waiting for a slot asks this, not `slot`, so it
        builds its request only once the window is close enough."""
        with self._lock:
            return self._batch_budget_wait(self._clock())

    def batch_slots_free(self) -> int:
        """Batches the window would take now (none during a throttle hold)."""
        with self._lock:
            now = self._clock()
            return 0 if self._held_until > now else self._batches.room(now)

    def hold(self, seconds: float) -> None:
        """QBO throttled us anyway: no new request of this realm for `seconds`."""
        with self._lock:
            self._held_until = max(self._held_until, self._clock() + max(0.0, seconds))

    def _release_concurrency(self) -> None:
        with self._slot_free:
            self._in_flight -= 1
            self._slot_free.notify()

    def _batch_budget_wait(self, now: float) -> float:
        return max(self._held_until - now, self._batches.wait_needed(now))

    def _wait(self, now: float, *, batch: bool) -> float:
        windows = (*self._requests, self._batches) if batch else self._requests
        return max(self._held_until - now, *(w.wait_needed(now) for w in windows))

    def _acquire(self, batch: bool, patience: float | None) -> list[list[float]]:
        """An in-flight slot and a unit of every rate budget, taken together. A thread waits
        for the rate windows holding no slot (one asleep on the batch window must not keep a
        single request from going), and for a slot only once the windows have room."""
        while True:
            with self._slot_free:
                now = self._clock()
                if batch and patience is not None:
                    batch_wait = self._batch_budget_wait(now)
                    if batch_wait > patience:
                        raise BatchWindowFull(batch_wait)
                wait = self._wait(now, batch=batch)
                if wait <= 0 and self._in_flight < self.max_concurrent:
                    self._in_flight += 1
                    entries = [w.record(now) for w in self._requests]
                    if batch:
                        entries.append(self._batches.record(now))
                    return entries
                if wait <= 0:
                    self._slot_free.wait()  # a request ends: look again
                    continue
                if self._in_flight < self.max_concurrent:
                    self._slot_free.notify()  # the slot this thread was woken for is free
                self.waited_s += wait
            self._sleep(wait)

    def _ended(self, entries: list[list[float]]) -> None:
        with self._lock:
            now = self._clock()
            for entry in entries:
                entry[0] = max(entry[0], now)

    @contextmanager
    def slot(self, *, batch: bool = False, patience: float | None = None) -> Iterator[None]:
        """Hold one in-flight slot and one unit of every rate budget while the body runs
        (`patience`: see the module docstring)."""
        entries = self._acquire(batch, patience)
        try:
            yield
        finally:
            self._ended(entries)
            self._release_concurrency()
