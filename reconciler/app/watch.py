"""Around one scheduled pass: run it (or wait out a hold), and tell everyone how it went.

`PassWatch.one` is what the daemon's job does each time it falls due:

- a service asked for quiet (`sync.holds`): no pass; the hold is logged once, with its end,
  and counts as an interrupted pass for the alerts;
- otherwise the pass runs, and its report (or the exception it died of) goes to `/healthz`
  and `/metrics` (`HealthState`), to systemd's STATUS= line, to the log and to the alerts
  (`alerts.webhook.PassAlerts`: failures, drift, stops and recoveries);
- new QuickBooks tokens living only in memory are said so, to `/healthz` and the alerts.

It returns what must stop the daemon (a `Fatal`, with its reason), or None.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler import errors
from reconciler.alerts.stops import SYNC, TOKENS, Trouble
from reconciler.app.notify import Notifier
from reconciler.web.health import HealthState, PassReportLike, pass_outcome

HOLD_FIX = "nothing: the sync waits until then by itself (a restart waits too)"
TOKENS_FIX = "free space or fix the permissions where the token store is (qbo.token_store)"


def fix_hint(exc: BaseException | None) -> str:
    return errors.fix_for(exc)


def pass_summary(report: PassReportLike) -> str:
    """One line for STATUS= (systemctl status) and the log."""
    counts = report.counts
    finished = report.finished_at or report.started_at
    seconds = (finished - report.started_at).total_seconds()
    parts = [f"{counts.get(k, 0)} {k}" for k in ("synced", "failed", "retrying", "skipped")]
    text = (
        f"last pass {finished.strftime('%Y-%m-%dT%H:%M:%SZ')} {pass_outcome(report)}: "
        f"{', '.join(parts)}; {getattr(report, 'qbo_requests', 0)} QBO requests "
        f"({getattr(report, 'throttled', 0)} throttled) in {seconds:.1f}s"
    )
    if report.fatal:
        text += f"; stopped: {report.fatal}"
    return text


class PassWatch:
    """Runs a pass when due and reports it; see the module docstring."""

    def __init__(
        self,
        run_one_pass: Callable[[Callable[[], bool]], PassReportLike],
        *,
        health: HealthState,
        notifier: Notifier,
        log: Any,
        alerts: Any = None,
        hold: Callable[[], Any] = lambda: None,
        tokens_unsaved: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._run_one_pass = run_one_pass
        self.health = health
        self.notifier = notifier
        self.log = log
        self.alerts = alerts
        self._hold = hold
        self._tokens_unsaved = tokens_unsaved
        self._hold_logged: Any = None
        self.last_fix: str | None = None  # what the last fatal report said to do

    def one(self, stop_requested: Callable[[], bool]) -> tuple[errors.Fatal | None, str] | None:
        hold = self._hold()
        self.health.set_held(hold.describe() if hold is not None else None)
        if hold is not None:
            self._held(hold)
            return None
        try:
            report = self._run_one_pass(stop_requested)
        except errors.Fatal as exc:
            self.health.record_error()
            return exc, str(exc)
        except Exception as exc:
            self.health.record_error()
            self.log.error("pass_crashed", error=type(exc).__name__, reason=str(exc), exc_info=True)
            self.notifier.status(f"last pass crashed: {type(exc).__name__}: {exc}")
            self._alert(SYNC, Trouble("crashed", f"{type(exc).__name__}: {exc}", fix_hint(exc)))
            return None
        finally:
            self._tokens()
        self.health.record_pass(report)
        self.notifier.status(pass_summary(report))
        if self.alerts is not None:
            self.alerts.after(report)  # queued: the next pass never waits for a webhook
        if report.fatal:
            self.last_fix = getattr(report, "fix", None)
            return None, report.fatal
        return None

    def stopped(self, exc: errors.Fatal | None, reason: str) -> None:
        """The daemon stops for good: `/healthz` and the alerts say why and what to do."""
        if isinstance(exc, errors.AuthorizationLost | errors.QBOFatalFault):
            self.health.set_authorized(False)
        if exc is not None:  # (a fatal report was alerted with the report)
            self._alert(SYNC, Trouble("fatal", reason, fix_hint(exc)))

    def _held(self, hold: Any) -> None:
        if hold != self._hold_logged:  # once per hold, with the time it ends
            self._hold_logged = hold
            self.log.warning(
                "pass_held",
                service=hold.service,
                until=hold.until.isoformat(),
                reason=hold.describe(),
            )
            self.notifier.status(f"waiting: {hold.describe()}")
        else:  # each later poll: a debug line only (what a test or a curious operator counts)
            self.log.debug("pass_still_held", service=hold.service)
        self._alert(SYNC, Trouble("interrupted", hold.describe(), HOLD_FIX))

    def _tokens(self) -> None:
        reason = self._tokens_unsaved()
        self.health.set_tokens_unsaved(reason)
        self._alert(TOKENS, Trouble("tokens", reason, TOKENS_FIX) if reason else None)

    def _alert(self, track: str, trouble: Trouble | None) -> None:
        if self.alerts is not None:
            self.alerts.trouble(track, trouble)
