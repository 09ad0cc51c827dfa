"""`reconciler run`: the same pass as `--once`, on a schedule, until a signal or a Fatal.

The schedule is `app.scheduling` (APScheduler: one pass at a time, missed runs collapse into
one); what happens around each pass (holds, health, systemd status, alerts) is
`app.watch.PassWatch`. This class owns the threads and the stopping.

Threads: the main thread installs the SIGTERM/SIGINT handlers and waits for the stop event;
APScheduler's scheduler thread fires the job; the job runs on a daemon thread of our own
executor so that a pass stuck in a network call can be abandoned at shutdown without holding
the process open; a watchdog thread sends `WATCHDOG=1` every half `WatchdogSec`, independent
of pass length, but only while the pass in hand shows progress (it polls `stop_requested`
between POs; silence longer than `stall_timeout` withholds the keep-alive, so systemd
restarts a hung daemon instead of being told all is well).

Stopping: the signal sets the stop flag; the pass returns once it sees it (between POs, after
the ledger has recorded the PO in hand), the scheduler is shut down, `STOPPING=1` goes out and
`run` returns 0, within `stop_timeout` (8 s; systemd's `TimeoutStopSec` and Docker's stop
grace are longer). A pass that does not come back in time is abandoned: the engine wrote the
write's requestid to the ledger before sending, so the next start resumes it safely.

Exit codes: 0 stopped by a signal, 2 a `Fatal` (configuration, authorization; the log line
and the alert say how to fix it, and the unit's RestartPreventExitStatus=2 keeps systemd from
looping), 1 an unexpected error in the start-up checks.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler import errors
from reconciler.app.notify import Notifier
from reconciler.app.scheduling import DaemonThreadExecutor, job_options, start_scheduler
from reconciler.app.watch import PassWatch, fix_hint, pass_summary
from reconciler.web.health import HealthState, PassReportLike

__all__ = ["Daemon", "DaemonThreadExecutor", "fix_hint", "job_options", "pass_summary"]

EXIT_STOPPED = 0
EXIT_ERROR = 1
EXIT_FATAL = 2


class Daemon:
    """Runs passes on a schedule and answers to systemd, signals and health probes."""

    def __init__(
        self,
        run_one_pass: Callable[[Callable[[], bool]], PassReportLike],
        *,
        poll_interval: timedelta,
        notifier: Notifier,
        health: HealthState,
        log: Any,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ready_checks: Callable[[], None] = lambda: None,
        stop_timeout: timedelta = timedelta(seconds=8),
        stall_timeout: timedelta = timedelta(minutes=15),
        monotonic: Callable[[], float] = time.monotonic,
        watch: PassWatch | None = None,
    ) -> None:
        if poll_interval <= timedelta(0):
            raise ValueError("poll_interval must be positive")
        self.poll_interval = poll_interval
        self.notifier = notifier
        self.health = health
        self.log = log
        self.clock = clock
        self.watch = watch or PassWatch(run_one_pass, health=health, notifier=notifier, log=log)
        self._ready_checks = ready_checks
        self._stop_timeout = stop_timeout
        self._stall_timeout = stall_timeout
        self._monotonic = monotonic

        self._state_lock = threading.Lock()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._exit_code = EXIT_STOPPED
        self._stop_reason: str | None = None
        self._signal: int | None = None
        self._in_pass = False
        self._last_progress = monotonic()
        self._stall_logged = False
        self.passes_started = 0

    # --- called by the pass, the scheduler and the watchdog -----------------------------

    def stop_requested(self) -> bool:
        """Polled by the pass between POs; each poll also counts as a sign of progress."""
        self._last_progress = self._monotonic()
        return self._stop.is_set()

    def request_stop(self, reason: str, exit_code: int = EXIT_STOPPED) -> None:
        with self._state_lock:
            if not self._stop.is_set():
                self._stop_reason = reason
                self._exit_code = exit_code
            self._stop.set()

    def is_alive(self) -> bool:
        """False only while a pass has shown no progress for `stall_timeout`."""
        if not self._in_pass:
            return True
        silent = self._monotonic() - self._last_progress
        return silent < self._stall_timeout.total_seconds()

    def _pass_job(self) -> None:
        with self._state_lock:
            if self._stop.is_set():
                return
            self._idle.clear()
            self._in_pass = True
            self._last_progress = self._monotonic()
            self._stall_logged = False
            self.passes_started += 1
        try:
            self._one_pass()
        finally:
            with self._state_lock:
                self._in_pass = False
                self._idle.set()

    def _one_pass(self) -> None:
        stopping = self.watch.one(self.stop_requested)
        if stopping is not None:
            self._fatal(*stopping)

    def _fatal(self, exc: errors.Fatal | None, reason: str) -> None:
        self.watch.stopped(exc, reason)
        self.log.error(
            "daemon_fatal",
            error=type(exc).__name__ if exc else "Fatal",
            error_code=getattr(exc, "code", None),
            reason=reason,
            fix=fix_hint(exc) if exc is not None else self._report_fix(),
            exit_code=EXIT_FATAL,
        )
        self.request_stop(f"fatal: {reason}", EXIT_FATAL)

    def _report_fix(self) -> str:
        return getattr(self.watch, "last_fix", None) or fix_hint(errors.Fatal(""))

    def _watchdog_loop(self, every: float) -> None:
        while not self._stop.wait(every):
            if self.is_alive():
                self.notifier.watchdog()
            elif not self._stall_logged:
                self._stall_logged = True
                self.log.error(
                    "pass_stalled",
                    silent_s=round(self._monotonic() - self._last_progress, 1),
                    action="withholding WATCHDOG=1 so the service manager restarts us",
                )

    # --- the main thread ----------------------------------------------------------------

    def _on_signal(self, signum: int, _frame: Any) -> None:
        # No logging here: the handler may interrupt a write to the same stream.
        self._signal = signum
        self.request_stop(f"signal {signal.Signals(signum).name}")

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}  # only the main thread may; tests drive request_stop instead
        previous = {}
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, self._on_signal)
        return previous

    def run(self) -> int:
        previous = self._install_signals()
        try:
            return self._run()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _run(self) -> int:
        interval_s = self.poll_interval.total_seconds()
        try:
            self._ready_checks()
        except errors.Fatal as exc:
            self.watch.stopped(exc, str(exc))
            self.log.error(
                "daemon_not_ready",
                error=type(exc).__name__,
                error_code=exc.code,
                reason=str(exc),
                fix=fix_hint(exc),
                exit_code=EXIT_FATAL,
            )
            return EXIT_FATAL
        except Exception as exc:
            self.log.error(
                "daemon_not_ready", error=type(exc).__name__, reason=str(exc), exc_info=True
            )
            return EXIT_ERROR
        if self._stop.is_set():  # a signal during the checks
            return self._finish(scheduler=None, watchdog=None)
        self.health.set_authorized(True)

        scheduler = start_scheduler(self._pass_job, self.poll_interval, self.log)
        watchdog, watchdog_thread = self._start_watchdog()
        self.notifier.ready(status=f"ready; passing every {interval_s:g}s")
        self.log.info(
            "daemon_ready",
            poll_interval_s=interval_s,
            watchdog_s=watchdog.total_seconds() if watchdog else None,
            notify=self.notifier.enabled,
        )
        while not self._stop.wait(timeout=1.0):
            pass
        return self._finish(scheduler=scheduler, watchdog=watchdog_thread)

    def _start_watchdog(self) -> tuple[timedelta | None, threading.Thread | None]:
        watchdog = self.notifier.watchdog_interval()
        if watchdog is None:
            return None, None
        self.notifier.watchdog()
        thread = threading.Thread(
            target=self._watchdog_loop,
            args=(watchdog.total_seconds() / 2,),
            name="sd-watchdog",
            daemon=True,
        )
        thread.start()
        return watchdog, thread

    def _finish(self, *, scheduler: Any, watchdog: threading.Thread | None) -> int:
        started = self._monotonic()
        if self._signal is not None:
            self.log.info("stop_requested", signal=signal.Signals(self._signal).name)
        self.notifier.stopping(status=f"stopping: {self._stop_reason}")
        if scheduler is not None:
            scheduler.shutdown(wait=False)  # no new passes; we wait for the one in hand below
        finished = self._idle.wait(timeout=self._stop_timeout.total_seconds())
        if not finished:
            self.log.warning(
                "pass_abandoned",
                waited_s=self._stop_timeout.total_seconds(),
                note="the PO in hand stays pending with its requestid; the next start resumes it",
            )
        if watchdog is not None:
            watchdog.join(timeout=1)
        self.log.info(
            "daemon_stopped",
            reason=self._stop_reason,
            exit_code=self._exit_code,
            passes=self.passes_started,
            shutdown_s=round(self._monotonic() - started, 2),
        )
        return self._exit_code
