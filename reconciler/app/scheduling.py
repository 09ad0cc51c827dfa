"""The daemon's schedule: one APScheduler (3.x) job that runs a pass every `poll_interval`.

The only module that imports APScheduler. The job runs on an `IntervalTrigger` starting now,
with explicit options (`job_options`): `max_instances=1` (a pass never overlaps another: a run
falling due while a pass is still going is skipped), `coalesce=True` (runs missed while asleep
or busy collapse into one) and `misfire_grace_time` of one interval (a run later than that is
dropped; the next one comes). The job runs on a daemon thread of our own executor
(`DaemonThreadExecutor`), so a pass stuck in a network call can be abandoned at shutdown.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.base import BaseExecutor, run_job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

JOB_ID = "reconcile-pass"


def job_options(poll_interval: timedelta) -> dict[str, Any]:
    """APScheduler job options, explicit: one pass at a time, missed runs collapse to one."""
    seconds = poll_interval.total_seconds()
    return {
        "id": JOB_ID,
        "name": "reconcile pass",
        "max_instances": 1,
        "coalesce": True,
        "misfire_grace_time": max(1, round(seconds)),  # APScheduler wants a positive int
        "replace_existing": True,
    }


class DaemonThreadExecutor(BaseExecutor):
    """Runs each job on a fresh daemon thread.

    APScheduler's ThreadPoolExecutor uses concurrent.futures, whose worker threads the
    interpreter joins at exit: a pass stuck in a socket read would then keep a stopped daemon
    alive past systemd's stop timeout. Instance counting (max_instances) stays in BaseExecutor.
    """

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        def target() -> None:
            try:
                events = run_job(job, job._jobstore_alias, run_times, self._logger.name)
            except BaseException:
                self._run_job_error(job.id, *sys.exc_info()[1:])
            else:
                self._run_job_success(job.id, events)

        threading.Thread(target=target, name="reconcile-pass", daemon=True).start()


def start_scheduler(
    job: Callable[[], None], poll_interval: timedelta, log: Any
) -> BackgroundScheduler:
    """The running schedule: `job` now, then every `poll_interval`; skips are logged."""

    def on_event(event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MAX_INSTANCES:
            log.info("pass_skipped", reason="previous pass still running")
        elif event.code == EVENT_JOB_MISSED:
            log.info("pass_skipped", reason="run time missed by more than one interval")

    # APScheduler reports skips and misfires through stdlib logging as WARNINGs; we log them
    # ourselves (JSON) from the listener above and keep its plain-text lines out.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    scheduler = BackgroundScheduler(
        timezone=UTC, executors={"default": DaemonThreadExecutor()}, daemon=True
    )
    scheduler.add_listener(on_event, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
    scheduler.add_job(
        job,
        trigger=IntervalTrigger(seconds=poll_interval.total_seconds(), timezone=UTC),
        next_run_time=datetime.now(UTC),  # APScheduler runs on real time: first pass now
        **job_options(poll_interval),
    )
    scheduler.start()
    return scheduler
