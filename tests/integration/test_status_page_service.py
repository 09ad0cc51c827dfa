"""`reconciler run` serves the status page: the daemon as a subprocess against both emulators,
its retry token from the environment, a retry through the page logged without the token."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from reconciler.app.demo import connect
from reconciler.config.loader import load_settings
from reconciler.sandbox.luminous.server import LuminousEmulator
from reconciler.sandbox.qbo.server import QBOEmulator
from reconciler.state import StateStore

RETRY_TOKEN = "service-retry-token-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(qbo, lum, tmp_path: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    env.update(
        {
            "RECONCILER_LUMINOUS__BASE_URL": lum.base_url,
            "RECONCILER_LUMINOUS__API_TOKEN": "lum-status-token",
            "RECONCILER_LUMINOUS__SETTLE_LAG": "0",
            "RECONCILER_QBO__ENVIRONMENT": qbo.discovery_url,
            "RECONCILER_QBO__BASE_URL": qbo.api_base,
            "RECONCILER_QBO__REALM_ID": qbo.realm_id,
            "RECONCILER_QBO__CLIENT_ID": qbo.client_id,
            "RECONCILER_QBO__CLIENT_SECRET": qbo.client_secret,
            "RECONCILER_QBO__TOKEN_STORE": str(tmp_path / "tokens.json"),
            "RECONCILER_STATE__PATH": str(tmp_path / "state.sqlite"),
            "RECONCILER_SYNC__POLL_INTERVAL": "1h",  # one pass at start, then quiet
            "RECONCILER_ACCOUNTS__AP": "Accounts Payable (A/P)",
            "RECONCILER_DAEMON__HEALTH_PORT": str(port),
            "RECONCILER_STATUS_PAGE__RETRY_TOKEN": RETRY_TOKEN,
        }
    )
    return env


@pytest.fixture
def emulators():
    qbo = QBOEmulator().start(port=0)
    lum = LuminousEmulator(token="lum-status-token", approval_field="approval_status").start(port=0)
    qbo.seed_default()
    lum.seed_default()
    yield qbo, lum
    lum.stop()
    qbo.stop()


def _wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = predicate()
        except requests.ConnectionError:
            found = None
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_the_daemon_serves_the_page_and_its_retry(emulators, tmp_path):
    qbo, lum = emulators
    port = _free_port()
    env = _env(qbo, lum, tmp_path, port)
    connect(qbo, load_settings(None, env))
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # after the first pass, so that pass cannot record over the retry
        _wait_for(lambda: requests.get(f"{base}/healthz", timeout=5).json()["last_outcome"])
        listing = requests.get(f"{base}/status", timeout=5).text
        link = re.search(r'href="(/status/doc/po/\d+)"', listing)
        page = requests.get(base + link.group(1), timeout=5).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        doc_id = int(link.group(1).rsplit("/", 1)[1])
        form = {"kind": "po", "doc_id": str(doc_id), "csrf": csrf, "retry_token": RETRY_TOKEN}
        answer = requests.post(f"{base}/status/retry", data=form, headers={"Origin": base})
        assert answer.status_code == 200, answer.text
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert any(e.get("event") == "status_page_retry" and e["doc_id"] == doc_id for e in events)
    assert RETRY_TOKEN not in out + err
    store = StateStore.open(tmp_path / "state.sqlite")
    try:
        assert store.ledger.entry(doc_id).force_retry is True
    finally:
        store.close()
