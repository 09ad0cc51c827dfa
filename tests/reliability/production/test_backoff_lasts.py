"""Issue 32, case 6: a `Retry-After` from Luminous or QBO holds the passes that would call it
until it has passed, across restarts, and the hold is logged once with its end.

Luminous's official CLI (LuminousInventory/luminous-cli, client/http.py) retries 429 by
`Retry-After`; Intuit's throttling page says to wait before retrying after a 429. A service
that asked for an hour of quiet and got a request every poll risks a longer block.
"""

from __future__ import annotations

import time

from life_kit import life

from reconciler.sandbox.luminous.server import LuminousFault
from reconciler.sandbox.qbo.server import FaultRule


def test_luminous_asking_for_an_hour_of_quiet_gets_it_even_across_a_restart(tmp_path):
    """Before: polling every second, each pass sent Luminous another request and logged
    `aborted` (11 passes, 10 more requests in 30 s). After: the first answer holds every pass
    until its end; no request reaches Luminous meanwhile, a restart included; `pass_held` is
    logged once per process with the time it ends; /healthz says it is waiting."""
    with life(tmp_path) as w:
        w.connect()
        w.po()
        assert w.cli("run", "--once").returncode == 0
        w.lum.add_fault(LuminousFault(path_regex=".*", status=429, retry_after=3600, times=None))
        before = w.lum.count()
        daemon = w.daemon(RECONCILER_LOGGING__LEVEL="DEBUG")
        held = daemon.wait_event("pass_held")
        asked = w.lum.count() - before
        assert asked >= 1
        daemon.wait_event("pass_still_held", count=4)  # four more polls
        assert w.lum.count() - before == asked  # not one more request
        assert len(daemon.events("pass_held")) == 1
        assert len(daemon.events("pass_aborted")) == 1
        assert "Luminous asked for quiet until" in held["reason"]
        assert held["until"] > time.strftime("%Y-%m-%dT%H", time.gmtime(time.time() + 3500))
        port = daemon.port
        health = w.health(port).json()
        assert health["healthy"] and health["reason"].startswith("waiting: Luminous asked")
        daemon.stop()
        again = w.daemon(name="daemon-again", RECONCILER_LOGGING__LEVEL="DEBUG")
        again.wait_event("pass_held")
        again.wait_event("pass_still_held", count=2)
        assert w.lum.count() - before == asked  # the restart honoured it too
        assert not again.events("pass_started")
        again.stop()
        once = w.cli("run", "--once")
        assert once.returncode == 1 and '"event": "pass_held"' in once.stdout
        preview = w.cli("run", "--once", "--dry-run")  # a preview would ask Luminous too
        assert preview.returncode == 1 and "Luminous asked for quiet until" in preview.stdout
        assert w.lum.count() - before == asked


def test_qbo_asking_for_quiet_holds_the_next_pass(tmp_path):
    """QBO's `Retry-After` past what a pass waits (120 s): the write is not slept through,
    nothing else is sent to QBO in that pass, and the next run waits until it has passed."""
    with life(tmp_path) as w:
        w.connect()
        po = w.po()
        assert w.cli("run", "--once").returncode == 0
        w.qbo.add_fault(
            FaultRule(
                method="POST",
                path_regex="/(purchaseorder|batch)",
                status=429,
                times=None,
                headers={"Retry-After": "3600"},
            )
        )
        w.edit(po["id"], private_note="while QBO throttles")
        w.po(supplier="Another Supplier")
        started = time.monotonic()
        first = w.cli("run", "--once")
        assert time.monotonic() - started < 60  # not an hour asleep in the pass
        assert first.returncode == 1
        assert '"event": "service_hold"' in first.stdout and "QuickBooks asked" in first.stdout
        throttled = w.qbo.count(status=429)
        assert throttled == 1  # the second write was not sent into the throttle
        sent = w.qbo.count()
        second = w.cli("run", "--once")
        assert second.returncode == 1 and '"event": "pass_held"' in second.stdout
        assert w.qbo.count() == sent  # not one request
