"""A daemon whose pass handles fake "POs" slowly, for the signal tests (run as a script).

    python daemon_child.py PROGRESS_FILE STEP_SECONDS STEPS STOP_TIMEOUT_SECONDS

Each step writes `start N` before its work and `end N` after it; the pass polls
`stop_requested` between steps, as the engine does between POs, and writes
`returned stopped=<bool> done=<n>` when it gives back its report. JSON logs go to stderr.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconciler import logs
from reconciler.app.daemon import Daemon
from reconciler.app.notify import Notifier
from reconciler.sync.engine import PassReport
from reconciler.web.health import HealthState


def Report(**fields) -> PassReport:
    """The engine's own PassReport (the daemon reads nothing else)."""
    return PassReport(**fields)


def main(argv: list[str]) -> int:
    progress = Path(argv[0])
    step_seconds, steps, stop_timeout = float(argv[1]), int(argv[2]), float(argv[3])

    def write(line: str) -> None:
        with progress.open("a") as f:
            f.write(line + "\n")

    def one_pass(stop_requested) -> Report:
        report = Report(run_id="child", started_at=datetime.now(UTC))
        done = 0
        for n in range(steps):
            if stop_requested():
                break
            write(f"start {n}")
            time.sleep(step_seconds)  # the work of one PO
            write(f"end {n}")
            report.counts["synced"] += 1
            done += 1
        write(f"returned stopped={stop_requested()} done={done}")
        report.finished_at = datetime.now(UTC)
        return report

    logs.configure(json_output=True, stream=sys.stderr)
    daemon = Daemon(
        one_pass,
        poll_interval=timedelta(hours=1),
        notifier=Notifier.from_env(),
        health=HealthState(timedelta(hours=1)),
        log=logs.get_logger(),
        stop_timeout=timedelta(seconds=stop_timeout),
    )
    return daemon.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
