"""`reconciler run --once`: one pass (unless a service asked for quiet), then its alerts.

The run lock is held by the caller. A hold (`sync.holds`: Luminous or QBO answered
`Retry-After`) skips the pass: it is logged with the time it ends and exits 1, like a pass
that did not finish, and counts towards the "interrupted" alert as one. The alerts are sent
before the process exits, each bounded by `alerts.give_up_after`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.alerts.stops import SYNC, TOKENS, Trouble
from reconciler.app import wiring
from reconciler.app.watch import HOLD_FIX, TOKENS_FIX
from reconciler.sync.engine import RequestCounter, run_pass
from reconciler.sync.holds import Holds

EXIT_HELD = 1


def run_once(
    settings: Any,
    *,
    log: Any,
    full_sweep: bool,
    stop_requested: Callable[[], bool],
    progress: Any = None,
) -> int:
    counter = RequestCounter()
    tokens = wiring.token_source(settings, on_event=log.warning)
    deps = wiring.build_deps(
        settings, log=log, counter=counter, stop_requested=stop_requested, tokens=tokens
    )
    alerts = None
    try:
        alerts = wiring.pass_alerts(settings, deps.store, log)
        hold = Holds(deps.store, wiring.utc_now).active()
        if hold is not None:
            log.warning(
                "pass_held",
                service=hold.service,
                until=hold.until.isoformat(),
                reason=hold.describe(),
            )
            if alerts is not None:
                alerts.trouble(SYNC, Trouble("interrupted", hold.describe(), HOLD_FIX))
            return EXIT_HELD
        if progress is not None:  # the read's meta.total, for the estimate of time left
            progress.expected = lambda: getattr(deps.luminous.last_read, "expected", None)
        report = run_pass(deps, full_sweep=full_sweep, counter=counter)
        if alerts is not None:
            alerts.after(report)
            unsaved = tokens.unsaved_reason if tokens.unsaved else None
            alerts.trouble(TOKENS, Trouble("tokens", unsaved, TOKENS_FIX) if unsaved else None)
        return report.exit_code()
    finally:
        if tokens.unsaved and not tokens.save_pending():  # the last chance before they go
            log.error("tokens_unsaved_at_exit", reason=tokens.unsaved_reason)
        if alerts is not None:  # bounded: give_up_after at most
            alerts.sender.close(wait=settings.alerts.give_up_after.total_seconds())
        deps.store.close()
