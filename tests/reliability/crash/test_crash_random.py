"""SIGKILL at seeded random moments: a random crash point and hit, or a timer mid-pass.

Each seed drives a few rounds of source changes (new POs, edits, completions), each followed
by a killed pass and restarts until the pass settles; the invariants hold after every round.
Bounded: 3 seeds; RECONCILER_LONG_TESTS=1: 16 seeds with more rounds.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys

import pytest
from reliability_kit import (
    CAPTURED,
    REPO,
    World,
    assert_invariants,
    connect,
    run_once,
    scaled,
    settle,
    world,
)

from reconciler.sandbox.qbo.server import FaultRule

SEEDS = range(scaled(3, 16))
ROUNDS = scaled(2, 4)
ARMABLE = (
    "page_read",
    "ledger_pending",
    "qbo_no_reply",
    "qbo_answered",
    "before_checkpoint",
    "vendor_created",
)
SUPPLIERS = ("Nutricost", "O'Brien & Sons", "Ünïcode GmbH", "Acme: West")
PRODUCTS = ("Whey Protein 5lb", "Creatine 1kg", "Shaker Bottle")


def _timed_kill(w: World, delay: float, label: str) -> int:
    """Start a pass and SIGKILL it after `delay` seconds (if it is still running)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "run", "--once"],
        env=w.env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    CAPTURED.output(f"{label} stdout", out)
    CAPTURED.output(f"{label} stderr", err)
    return proc.returncode


def _mutate(w: World, rng: random.Random, ids: list[int]) -> None:
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        if choice < 0.35 or not ids:
            po = w.source.po(
                rng.choice(SUPPLIERS),
                rng.choice(PRODUCTS),
                str(rng.randint(1, 20)),
                f"{rng.randint(1, 9999) / 100:.2f}",
            )
            ids.append(po["id"])
        elif choice < 0.7:
            w.source.edit(rng.choice(ids), private_note=f"note {rng.randint(0, 10**6)}")
        elif choice < 0.85:
            po_id = rng.choice(ids)
            product = (w.lum.get_po(po_id)["items"][0]["product"] or {}).get("name")
            w.source.set_qty(po_id, str(rng.randint(1, 50)), product or PRODUCTS[0])
        else:
            w.source.edit(rng.choice(ids), order_status="completed")


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed-{s}" for s in SEEDS])
def test_sigkill_at_seeded_random_moments_keeps_every_po_exactly_once(tmp_path, seed):
    """Random points, hits and timers: after each restart-until-settled round, all invariants."""
    rng = random.Random(seed)
    replay = seed % 2 == 0
    with world(tmp_path, requestid_replay=replay, qbo_options={"latency": 0.02}) as w:
        w.qbo.duplicate_docnumber_check = replay
        connect(w)
        ids: list[int] = []
        for round_no in range(ROUNDS):
            _mutate(w, rng, ids)
            label = f"random seed {seed} round {round_no}"
            if rng.random() < 0.5:
                point = rng.choice(ARMABLE)
                if point == "qbo_no_reply":
                    w.qbo.add_fault(
                        FaultRule(
                            method="POST",
                            path_regex=r"/(purchaseorder|batch)",
                            action="drop_after_commit",
                        )
                    )
                code = run_once(
                    w.env, crash_at=f"{point}:{rng.randint(1, 3)}", label=label
                ).returncode
                w.qbo.clear_faults()
            else:
                code = _timed_kill(w, rng.uniform(0.3, 1.6), label)
            assert code in (0, 1, -signal.SIGKILL)
            settle(w.env, label=f"{label} settle")
            assert_invariants(w)
