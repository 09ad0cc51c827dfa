"""`reconciler run` for real: a subprocess against both emulators, stopped by SIGTERM."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from reconciler.app.demo import connect
from reconciler.sandbox.luminous.server import LuminousEmulator
from reconciler.sandbox.qbo.server import QBOEmulator


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(qbo, lum, tmp_path: Path, health_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    env.update(
        {
            "RECONCILER_LUMINOUS__BASE_URL": lum.base_url,
            "RECONCILER_LUMINOUS__API_TOKEN": "lum-service-token",
            "RECONCILER_LUMINOUS__SETTLE_LAG": "0",
            "RECONCILER_QBO__ENVIRONMENT": qbo.discovery_url,
            "RECONCILER_QBO__BASE_URL": qbo.api_base,
            "RECONCILER_QBO__REALM_ID": qbo.realm_id,
            "RECONCILER_QBO__CLIENT_ID": qbo.client_id,
            "RECONCILER_QBO__CLIENT_SECRET": qbo.client_secret,
            "RECONCILER_QBO__TOKEN_STORE": str(tmp_path / "tokens.json"),
            "RECONCILER_STATE__PATH": str(tmp_path / "state.sqlite"),
            "RECONCILER_SYNC__POLL_INTERVAL": "1s",
            "RECONCILER_ACCOUNTS__AP": "Accounts Payable (A/P)",
            "RECONCILER_DAEMON__HEALTH_PORT": str(health_port),
        }
    )
    return env


@pytest.fixture
def emulators(tmp_path):
    qbo = QBOEmulator().start(port=0)
    lum = LuminousEmulator(token="lum-service-token", approval_field="approval_status").start(
        port=0
    )
    qbo.seed_default()
    lum.seed_default()
    yield qbo, lum
    lum.stop()
    qbo.stop()


def _wait(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_daemon_syncs_serves_health_and_stops_on_sigterm(emulators, tmp_path):
    """The daemon syncs on its schedule, /healthz goes green, SIGTERM exits 0 quickly."""
    qbo, lum = emulators
    from reconciler.config.loader import load_settings

    port = _free_port()
    env = _env(qbo, lum, tmp_path, port)
    connect(qbo, load_settings(None, env))
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait(lambda: len(qbo.objects("PurchaseOrder")) >= 4), "no POs synced"

        def healthy():
            try:
                return (
                    requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
                )
            except requests.ConnectionError:
                return False

        assert _wait(healthy)
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        assert "reconciler_passes_total" in metrics
        # a later edit is picked up by a later scheduled pass
        first = next(p for p in lum.po_ids())
        lum.edit_po(first, {"private_note": "edited while the daemon runs"})
        assert _wait(
            lambda: any(
                p.get("PrivateNote") == "edited while the daemon runs"
                for p in qbo.objects("PurchaseOrder")
            )
        )
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert any(e.get("event") == "pass_finished" for e in events)
    assert "lum-service-token" not in out + err
    assert "emu-secret" not in out + err


def test_revoked_connection_stops_with_exit_2_and_the_fix(emulators, tmp_path):
    """A revoked QBO connection stops the daemon before READY with a message naming the fix."""
    qbo, lum = emulators
    from reconciler.config.loader import load_settings

    env = _env(qbo, lum, tmp_path, _free_port())
    connect(qbo, load_settings(None, env))
    qbo.revoke_all_tokens()
    qbo.advance_clock(2 * 3600)  # the stored access token has expired: a refresh is needed
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "reconciler auth connect" in proc.stdout + proc.stderr
