"""The progress line of `run --once`: on a pseudo-terminal it is drawn on stderr (read, synced,
failed, rate, time left from Luminous's meta.total); without one the JSON logs are as always.
A real `reconciler` process against both emulators on 127.0.0.1."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.app.demo import connect
from reconciler.sandbox.luminous.server import LuminousEmulator
from reconciler.sandbox.qbo.server import QBOEmulator

ROOT = Path(__file__).resolve().parents[2]
POS = 300


@pytest.fixture
def env(tmp_path):
    qbo = QBOEmulator().start(port=0)
    lum = LuminousEmulator(token="lum-progress-token").start(port=0)
    qbo.seed_default()
    supplier = lum.add_supplier("Nutricost")
    product = lum.add_product("Whey Protein 5lb", "NC-WHEY-5")
    stamp = datetime.now(UTC) - timedelta(hours=1)
    for n in range(POS):
        lum.create_po(
            {
                "supplier_id": supplier["id"],
                "order_status": "active",
                "approval_status": "approved",
                "order_numbers": [f"PO-{n:05d}"],
                "items": [{"product_id": product["id"], "quantity": "2", "unit_price": "9.50"}],
            },
            updated_at=stamp + timedelta(seconds=n),
        )
    values = {
        "RECONCILER_LUMINOUS__BASE_URL": lum.base_url,
        "RECONCILER_LUMINOUS__API_TOKEN": "lum-progress-token",
        "RECONCILER_QBO__ENVIRONMENT": qbo.discovery_url,
        "RECONCILER_QBO__BASE_URL": qbo.api_base,
        "RECONCILER_QBO__REALM_ID": qbo.realm_id,
        "RECONCILER_QBO__CLIENT_ID": qbo.client_id,
        "RECONCILER_QBO__CLIENT_SECRET": qbo.client_secret,
        "RECONCILER_QBO__TOKEN_STORE": str(tmp_path / "tokens.json"),
        "RECONCILER_QBO__THROTTLE_WAIT": "1s",
        "RECONCILER_STATE__PATH": str(tmp_path / "state.sqlite"),
        "RECONCILER_ACCOUNTS__AP": "Accounts Payable (A/P)",
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    environ = {**base, **values, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    from reconciler.config.loader import load_settings

    connect(qbo, load_settings(None, environ))
    yield environ
    lum.stop()
    qbo.stop()


COMMAND = [sys.executable, "-m", "reconciler", "run", "--once"]


def _run_on_a_terminal(environ: dict[str, str], timeout: float = 240) -> tuple[int, str]:
    """The command with stdin, stdout and stderr on one pseudo-terminal; all it wrote."""
    master, slave = pty.openpty()
    child = subprocess.Popen(COMMAND, stdin=slave, stdout=slave, stderr=slave, env=environ)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif child.poll() is not None:
            break
    os.close(master)
    return child.wait(timeout=30), out.decode("utf-8", "replace")


def test_a_terminal_gets_a_progress_line_and_a_summary(env):
    code, out = _run_on_a_terminal(env)
    assert code == 0, out[-2000:]
    frames = [f for f in out.replace("\r\n", "\n").split("\r\x1b[K") if f.strip()]
    lines = [f for f in frames if f.startswith("reconciler: ")]
    assert len(lines) >= 2, out[-2000:]
    assert any(f"of ~{POS} read" in f for f in lines), lines
    assert any(" left" in f and "/s" in f for f in lines), lines
    assert "pass ok in " in out and f"{POS} read, {POS} created" in out
    assert '"event": "po_synced"' not in out  # info events stay off the terminal


def test_without_a_terminal_the_json_logs_are_unchanged(env):
    result = subprocess.run(COMMAND, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "\r" not in result.stderr and "\r" not in result.stdout
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert sum(e["event"] == "po_synced" for e in events) == POS
    assert [e["processed"] for e in events if e["event"] == "pass_progress"] == [100, 200, 300]
    assert events[-1]["event"] == "pass_finished" and events[-1]["counts"]["created"] == POS
