"""The client under 429 / 5xx / reset storms and a bad token: retries, waits, giving up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from luminous_fixtures import T0, Ledger, add_po, emu, make_client, run_pass

from reconciler.errors import Fatal, LuminousAuthError, LuminousUnavailable, Retryable
from reconciler.sandbox.luminous.server import LuminousFault

__all__ = ["emu"]


def test_429_storm_waits_retry_after_then_reads_everything_once(emu):
    """Three 429s with Retry-After: 2 are waited out exactly; every PO comes out once."""
    ids = [add_po(emu, T0 + timedelta(seconds=i)) for i in range(120)]
    emu.add_fault(LuminousFault(r"/purchase-orders$", status=429, retry_after=2, times=3))
    sleeps: list[float] = []
    run = run_pass(make_client(emu, sleeps), Ledger(), None)
    assert run.counts == {po_id: 1 for po_id in ids}
    assert sleeps == [2.0, 2.0, 2.0]
    assert emu.count(status=429) == 3


def test_5xx_and_reset_storm_backs_off_exponentially_with_jitter(emu):
    """503, 502, a reset and 500 in a row: four capped, growing, jittered waits, then success."""
    ids = [add_po(emu, T0 + timedelta(seconds=i)) for i in range(5)]
    for fault in (
        LuminousFault(r"/purchase-orders$", status=503),
        LuminousFault(r"/purchase-orders$", status=502),
        LuminousFault(r"/purchase-orders$", action="reset"),
        LuminousFault(r"/purchase-orders$", status=500),
    ):
        emu.add_fault(fault)
    sleeps: list[float] = []
    client = make_client(emu, sleeps, backoff_base=0.5, backoff_cap=3.0, max_attempts=5)
    run = run_pass(client, Ledger(), None)
    assert run.counts == {po_id: 1 for po_id in ids}
    assert len(sleeps) == 4
    for attempt, slept in enumerate(sleeps, start=1):
        ceiling = min(3.0, 0.5 * 2 ** (attempt - 1))
        assert ceiling / 2 <= slept <= ceiling


def test_endless_5xx_gives_up_as_retryable_after_max_attempts(emu):
    """A server that always fails raises LuminousUnavailable after max_attempts tries."""
    emu.add_fault(LuminousFault(r"/purchase-orders", status=503, times=None))
    sleeps: list[float] = []
    client = make_client(emu, sleeps, max_attempts=4)
    with pytest.raises(LuminousUnavailable) as caught:
        client.server_now()
    assert isinstance(caught.value, Retryable) and caught.value.status == 503
    assert emu.count(status=503) == 4 and len(sleeps) == 3


def test_retry_after_beyond_the_cap_is_handed_to_the_scheduler(emu):
    """Retry-After: 600 is not slept inside a pass: the error carries it for the scheduler."""
    emu.add_fault(LuminousFault(r"/purchase-orders", status=429, retry_after=600))
    sleeps: list[float] = []
    with pytest.raises(LuminousUnavailable) as caught:
        make_client(emu, sleeps, backoff_cap=30).server_now()
    assert caught.value.retry_after == 600 and sleeps == []


def test_bad_token_is_a_fatal_configuration_error_without_retries(emu):
    """401 stops at once with a clear message and is never retried."""
    sleeps: list[float] = []
    client = make_client(emu, sleeps)
    emu.token = "rotated"
    with pytest.raises(LuminousAuthError) as caught:
        client.server_now()
    assert isinstance(caught.value, Fatal) and "API token" in str(caught.value)
    assert emu.count() == 1 and sleeps == []


def test_mid_pass_outage_keeps_the_checkpoint_behind_the_unread(emu):
    """An outage after page 1 ends the pass with what it settled; the next pass reads the rest
    exactly once."""
    ids = [add_po(emu, T0 + timedelta(seconds=i)) for i in range(250)]
    client, ledger = make_client(emu, max_attempts=2), Ledger()
    outage = LuminousFault(r"/purchase-orders$", times=None)
    # the last requests before page 2 are the two probes (sent together); after both, all fail
    probed: set[str] = set()

    def outage_after_the_probes(e, q, n):
        if q.get("per_page") == "1":
            probed.add(str(q.get("sort")))
        if {"updated_at:desc", "id:desc"} <= probed:
            e.add_fault(outage)

    emu.after_page(outage_after_the_probes)
    handled = []
    with pytest.raises(LuminousUnavailable):
        run_pass(client, ledger, None, on_record=handled.append)
    assert len(handled) == 100 and set(ledger.versions) == set(ids[:100])
    emu.after_page(None)
    emu.clear_faults()
    checkpoint = None  # the pass died before advancing: the engine's checkpoint is unchanged
    resumed = run_pass(client, ledger, checkpoint)
    assert resumed.counts == {po_id: 1 for po_id in ids[100:]}
    assert resumed.result.skipped_handled == 100
