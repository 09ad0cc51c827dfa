"""A progress line for `run --once` (and `--full`, `--dry-run`) on a terminal.

    reconciler: 1,200 of ~5,000 read · 1,150 synced · 3 failed · 24.1/s · ~2m36s left

Fed from the pass's own log events (`ProgressLog` wraps the logger the pass is handed, so the
engine needs nothing new): `pass_progress` says how many records were read, each document's
outcome event (`po_synced`, `bill_failed`, …) counts it, `full_sweep` starts the sweep's own
count, `pass_finished` prints the summary and ends the line. The total, for the estimate of time
left, is the Luminous read's `meta.total` when the server gave one (`ReadReport.expected`);
without it there is no estimate. Drawn on stderr with `\\r`, at most every `every` seconds and
cut to the terminal's width; a warning or error clears the line, is printed, and the line comes
back. Without a terminal there is no progress line and the logs are as they always are.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TextIO

OUTCOMES = frozenset({"synced", "failed", "retrying", "skipped", "pending"})
CLEAR = "\r\x1b[K"


def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class Progress:
    """Counts from events, and the line they make."""

    def __init__(
        self,
        stream: TextIO,
        *,
        every: float = 0.5,
        monotonic: Callable[[], float] = time.monotonic,
        width: Callable[[], int] = lambda: shutil.get_terminal_size((100, 20)).columns,
    ) -> None:
        self.stream = stream
        self.every = every
        self.monotonic = monotonic
        self.width = width
        self.expected: Callable[[], int | None] = lambda: None
        self.counts: Counter[str] = Counter()
        self.phase = "reconciler"
        self.started = monotonic()
        self._drawn_at: float | None = None
        self._shown = False
        self._lock = threading.Lock()

    # --- events -------------------------------------------------------------------------

    def on_event(self, event: str, fields: dict[str, Any]) -> None:
        with self._lock:
            if event == "pass_started":
                self._restart("reconciler")
            elif event == "full_sweep":
                self._restart("sweep")
            elif event == "pass_progress":
                self.counts["read"] = max(self.counts["read"], int(fields.get("processed") or 0))
            elif event == "pass_finished":
                self._finish(fields)
                return
            elif "action" in fields and event.rpartition("_")[2] in OUTCOMES:
                self._count(event.rpartition("_")[2], fields.get("action"))
            else:
                return
            self._draw()

    def _restart(self, phase: str) -> None:
        self.phase, self.counts, self.started = phase, Counter(), self.monotonic()

    def _count(self, status: str, action: Any) -> None:
        self.counts["done"] += 1
        self.counts["read"] = max(self.counts["read"], self.counts["done"])
        if status == "synced":
            self.counts["unchanged" if action == "none" else "synced"] += 1
        elif status in ("failed", "retrying"):
            self.counts["failed"] += 1

    # --- the line -----------------------------------------------------------------------

    def line(self) -> str:
        c = self.counts
        elapsed = max(self.monotonic() - self.started, 1e-6)
        rate = c["done"] / elapsed
        expected = self.expected()
        read = f"{c['read']:,}" + (f" of ~{expected:,}" if expected else "") + " read"
        parts = [read, f"{c['synced']:,} synced", f"{c['failed']:,} failed"]
        if c["unchanged"]:
            parts.append(f"{c['unchanged']:,} unchanged")
        parts.append(f"{rate:.1f}/s")
        if expected and rate > 0 and expected > c["done"]:  # at the rate outcomes come
            parts.append(f"~{_duration((expected - c['done']) / rate)} left")
        return f"{self.phase}: " + " · ".join(parts)

    def _draw(self, *, force: bool = False) -> None:
        now = self.monotonic()
        if not force and self._drawn_at is not None and now - self._drawn_at < self.every:
            return
        self._drawn_at = now
        text = self.line()[: max(10, self.width() - 1)]
        self._write(CLEAR + text)
        self._shown = True

    def _finish(self, fields: dict[str, Any]) -> None:
        counts = fields.get("counts") or {}
        done = ", ".join(
            f"{counts[k]:,} {k}"
            for k in ("read", "created", "updated", "adopted", "closed", "deleted", "failed")
            if counts.get(k)
        )
        took = _duration(self.monotonic() - self.started)
        what = "preview" if fields.get("dry_run") else "pass"
        outcome = fields.get("outcome", "?")
        self._write(f"{CLEAR}{what} {outcome} in {took}: {done or 'nothing to do'}\n")
        self._shown = False

    def clear(self) -> None:
        with self._lock:
            if self._shown:
                self._write(CLEAR)

    def redraw(self) -> None:
        with self._lock:
            if self._shown:
                self._draw(force=True)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed terminal never stops a pass


class ProgressLog:
    """The pass's logger, with every event shown to `Progress` first; warnings and errors
    clear the line while they print."""

    def __init__(self, inner: Any, progress: Progress, context: dict[str, Any] | None = None):
        self._inner = inner
        self._progress = progress
        self._context = context or {}

    def bind(self, **kw: Any) -> ProgressLog:
        inner = self._inner.bind(**kw) if hasattr(self._inner, "bind") else self._inner
        return ProgressLog(inner, self._progress, {**self._context, **kw})

    def _emit(self, level: str, event: str, kw: dict[str, Any]) -> None:
        self._progress.on_event(event, {**self._context, **kw})
        loud = level in ("warning", "error", "exception", "critical")
        if loud:
            self._progress.clear()
        getattr(self._inner, level)(event, **kw)
        if loud:
            self._progress.redraw()

    def debug(self, event: str, **kw: Any) -> None:
        self._emit("debug", event, kw)

    def info(self, event: str, **kw: Any) -> None:
        self._emit("info", event, kw)

    def warning(self, event: str, **kw: Any) -> None:
        self._emit("warning", event, kw)

    def error(self, event: str, **kw: Any) -> None:
        self._emit("error", event, kw)

    def exception(self, event: str, **kw: Any) -> None:
        self._emit("exception", event, kw)


def on_terminal(stream: TextIO) -> Progress | None:
    """A Progress for `stream` when it is a terminal; None otherwise."""
    try:
        return Progress(stream) if stream.isatty() else None
    except (AttributeError, ValueError):
        return None
