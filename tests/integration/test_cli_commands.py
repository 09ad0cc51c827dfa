"""Every CLI command as a user runs it, against the emulators, configured by environment."""

import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from support import Clock, wire_to

from reconciler.app.cli import main
from reconciler.app.demo import connect
from reconciler.sandbox.luminous.server import LuminousEmulator
from reconciler.sandbox.qbo.server import QBOEmulator
from reconciler.state import StateStore


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def env(tmp_path, monkeypatch):
    clock = Clock()  # the in-process passes' waits and the QBO emulator's windows
    wire_to(clock, monkeypatch)
    qbo = QBOEmulator(limits_clock=clock.monotonic).start(port=0)
    lum = LuminousEmulator(token="lum-cli-token", approval_field="approval_status").start(port=0)
    qbo.seed_default()
    lum.seed_default()
    values = {
        "RECONCILER_LUMINOUS__BASE_URL": lum.base_url,
        "RECONCILER_LUMINOUS__API_TOKEN": "lum-cli-token",
        "RECONCILER_LUMINOUS__SETTLE_LAG": "0",
        "RECONCILER_QBO__ENVIRONMENT": qbo.discovery_url,
        "RECONCILER_QBO__BASE_URL": qbo.api_base,
        "RECONCILER_QBO__REALM_ID": qbo.realm_id,
        "RECONCILER_QBO__CLIENT_ID": qbo.client_id,
        "RECONCILER_QBO__CLIENT_SECRET": qbo.client_secret,
        "RECONCILER_QBO__REDIRECT_URI": f"http://127.0.0.1:{_free_port()}/callback",
        "RECONCILER_QBO__TOKEN_STORE": str(tmp_path / "tokens.json"),
        "RECONCILER_STATE__PATH": str(tmp_path / "state.sqlite"),
        "RECONCILER_ACCOUNTS__AP": "Accounts Payable (A/P)",
        # the emulator's windows clear within a second: no need for Intuit's 60 s here
        "RECONCILER_QBO__THROTTLE_WAIT": "1s",
    }
    for key in list(os.environ):
        if key.startswith("RECONCILER_"):
            monkeypatch.delenv(key)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    yield {"qbo": qbo, "lum": lum, "vars": values, "tmp": tmp_path}
    lum.stop()
    qbo.stop()


def _connect_directly(env):
    from reconciler.config.loader import load_settings

    connect(env["qbo"], load_settings(None, os.environ))


def test_run_once_then_status_and_po_history(env, capsys):
    """`run --once` exits 1 with a failed sample PO; `status` and `status PO` explain it."""
    _connect_directly(env)
    assert main(["run", "--once"]) == 1
    capsys.readouterr()
    assert main(["status"]) == 0
    table = capsys.readouterr().out
    assert "PO-00011" in table and "no lines" in table
    assert "synced" in table
    assert main(["status", "PO-00011"]) == 0
    detail = capsys.readouterr().out
    assert "invalid_source_record" in detail and "history:" in detail
    assert main(["status", "--json", "--failed"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["number"] for r in rows} == {"PO-00011"}
    assert main(["status", "PO-99999"]) == 1


def test_dry_run_previews_then_run_once_does_it(env, capsys):
    """`run --once --dry-run --json` lists the sample data's outcomes without writing (no
    state file, no QBO write); `run --once` then ends each PO as listed. The preview runs
    while another process holds the run lock, and says so."""
    from reconciler.state.lock import run_lock

    _connect_directly(env)
    state = env["tmp"] / "state.sqlite"
    assert main(["run", "--json"]) == 2  # --json belongs to --dry-run
    capsys.readouterr()
    writes_before = env["qbo"].count(method="POST") - env["qbo"].count("POST", "/query")
    with run_lock(env["tmp"] / "held.sqlite"):
        assert main(["run", "--once", "--dry-run", "--json"]) == 1  # PO-00011 would fail
    captured = capsys.readouterr()
    shown = json.loads(captured.out)
    assert shown["dry_run"] is True and shown["running_pid"] is None
    assert '"dry_run": true' in captured.err  # every log line says it was a preview
    assert not state.exists()
    writes = env["qbo"].count(method="POST") - env["qbo"].count("POST", "/query")
    assert writes == writes_before
    with run_lock(state):
        assert main(["run", "--once", "--dry-run"]) == 1
    text = capsys.readouterr().out
    assert f"Process {os.getpid()} is running the sync on this state file" in text
    assert "fail       PO-00011" in text
    assert main(["run", "--once"]) == 1
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    rows = {r["number"]: r for r in json.loads(capsys.readouterr().out)}
    for planned in shown["documents"]:
        row = rows[planned["number"]]
        status = {"create": "synced", "adopt": "synced", "fail": "failed", "skip": "skipped"}
        assert row["status"] == status[planned["action"]], (planned, row)
    assert {r["number"] for r in rows.values() if r["status"] == "synced"} == {
        d["number"] for d in shown["documents"] if d["action"] in ("create", "adopt")
    }


def test_run_once_alerts_the_webhook_and_waits_for_it(env, capsys, monkeypatch):
    """With [alerts] webhook_url, `run --once` posts its new failures before it exits; a dead
    webhook changes nothing about the pass or its exit code."""
    from test_alerts import receiver

    _connect_directly(env)
    with receiver() as hook:
        monkeypatch.setenv("RECONCILER_ALERTS__WEBHOOK_URL", hook.url)
        assert main(["run", "--once"]) == 1
        assert len(hook.received) == 1
    assert "PO PO-00011" in json.loads(hook.received[0]["body"])["text"]
    assert hook.url not in capsys.readouterr().out  # the URL is a secret, even in the logs
    monkeypatch.setenv("RECONCILER_ALERTS__WEBHOOK_URL", "http://127.0.0.1:9/hook")
    stamp = datetime.now(UTC) - timedelta(seconds=5)  # behind the pull's ceiling
    env["lum"].create_po({"supplier_id": 1, "order_status": "active", "items": []}, stamp)
    started = time.monotonic()
    assert main(["run", "--once"]) == 1
    assert time.monotonic() - started < 30
    assert '"event": "alert_failed"' in capsys.readouterr().out


def test_retry_marks_a_parked_po_for_the_next_pass(env, capsys):
    """`retry PO` makes the next pass take a parked PO again."""
    _connect_directly(env)
    main(["run", "--once"])
    assert main(["retry", "PO-00011"]) == 0
    assert "will be retried" in capsys.readouterr().out
    env["lum"].edit_po(
        11, {"items": [{"product_id": 1, "quantity": 1, "unit_price": 1}]}, updated_at=None
    )
    assert main(["run", "--once"]) == 0
    capsys.readouterr()
    main(["status", "PO-00011", "--json"])
    assert json.loads(capsys.readouterr().out)["status"] == "synced"


def test_auth_connect_receives_the_redirect_and_stores_tokens(env, tmp_path):
    """`auth connect` prints the consent URL, catches the redirect, stores tokens 0600."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "auth", "connect", "--timeout", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        url = None
        deadline = time.monotonic() + 15
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("http"):
                url = line.strip()
        assert url is not None, proc.stderr.read()
        time.sleep(0.2)  # the listener starts right after printing
        answer = requests.get(url, timeout=10)  # the emulator's consent page redirects back
        assert answer.status_code == 200
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Connected to QuickBooks company" in out
    token_file = Path(env["vars"]["RECONCILER_QBO__TOKEN_STORE"])
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    stored = json.loads(token_file.read_text())
    assert stored["realm_id"] == env["qbo"].realm_id
    assert stored["refresh_token"] not in out + err


def test_auth_connect_paste_refuses_a_foreign_state(env, monkeypatch, capsys):
    """A pasted redirect with another attempt's state is refused (CSRF guard)."""
    code = env["qbo"].authorization_code()
    monkeypatch.setattr(
        "builtins.input",
        lambda: (
            f"{env['vars']['RECONCILER_QBO__REDIRECT_URI']}?code={code}&state=other"
            f"&realmId={env['qbo'].realm_id}"
        ),
    )
    assert main(["auth", "connect", "--paste"]) == 2
    assert "state does not match" in capsys.readouterr().err
    assert not Path(env["vars"]["RECONCILER_QBO__TOKEN_STORE"]).exists()


def test_auth_status_shows_expiry_without_secrets_and_revoke_disconnects(env, capsys):
    """`auth status` names the company and expiry times; `auth revoke` ends the connection."""
    assert main(["auth", "status"]) == 2
    assert "not connected" in capsys.readouterr().out
    _connect_directly(env)
    assert main(["auth", "status"]) == 0
    out = capsys.readouterr().out
    assert env["qbo"].realm_id in out and "refresh token expires" in out
    stored = json.loads(Path(env["vars"]["RECONCILER_QBO__TOKEN_STORE"]).read_text())
    assert stored["access_token"] not in out and stored["refresh_token"] not in out
    assert main(["auth", "revoke"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert not Path(env["vars"]["RECONCILER_QBO__TOKEN_STORE"]).exists()
    assert main(["run", "--once"]) == 2


def test_doctor_passes_then_names_the_fix_for_each_failure(env, capsys, monkeypatch):
    """`doctor` is green when all is well and says what to do when something is not."""
    _connect_directly(env)
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "all checks passed" in out and "[ok  ] luminous" in out
    monkeypatch.setenv("RECONCILER_LUMINOUS__API_TOKEN", "wrong-token-value")
    monkeypatch.setenv("RECONCILER_ACCOUNTS__SHIPPING", "Freight That Does Not Exist")
    assert main(["doctor"]) == 2
    out = capsys.readouterr().out
    assert "[FAIL] luminous" in out and "API token" in out
    assert "[FAIL] account accounts.shipping" in out and "fix:" in out
    assert "wrong-token-value" not in out


def test_bad_configuration_exits_2_with_every_problem(env, capsys, monkeypatch, tmp_path):
    """Invalid values are all reported at once, with exit code 2."""
    monkeypatch.setenv("RECONCILER_SYNC__ON_CANCEL", "explode")
    monkeypatch.setenv("RECONCILER_QBO__MINORVERSION", "40")
    assert main(["run", "--once"]) == 2
    err = capsys.readouterr().err
    assert "ON_CANCEL" in err and "minorversion" in err
    assert "2 problem(s)" in err


def test_status_needs_only_the_state_path(tmp_path, monkeypatch, capsys):
    """`status` on a host with only state.path configured: no API settings, no secrets."""
    for key in list(os.environ):
        if key.startswith("RECONCILER_"):
            monkeypatch.delenv(key)
    state = tmp_path / "state.sqlite"
    monkeypatch.setenv("RECONCILER_STATE__PATH", str(state))
    monkeypatch.chdir(tmp_path)  # (no ./reconciler.toml here)
    assert main(["status"]) == 2  # no state yet: it says where it looked, and creates none
    assert f"no state file at {state}" in capsys.readouterr().err and not state.exists()
    StateStore.open(str(state)).close()
    assert main(["status"]) == 0
    assert "no purchase orders or bills recorded yet" in capsys.readouterr().out
    assert main(["run", "--once"]) == 2  # but a pass needs the rest
    assert "luminous.base_url is required" in capsys.readouterr().err


def test_auth_status_reads_the_wall_clock_for_expiry(env, capsys):
    """Two hours after connecting, `auth status` says the access token has expired (frozen)."""
    from datetime import UTC, datetime, timedelta

    from freezegun import freeze_time

    _connect_directly(env)
    with freeze_time(datetime.now(UTC) + timedelta(hours=2)):
        assert main(["auth", "status"]) == 0
    out = capsys.readouterr().out
    assert "(expired; refreshed on next use)" in out
    assert "EXPIRED" not in out  # the refresh token lives ~100 days


def test_status_lists_bills_beside_pos_and_tells_one_bills_and_one_pos_story(
    env, capsys, monkeypatch
):
    """With `[bills] from = "bills"` on the sample company: `status` lists bills with POs,
    `status NC-INV-1001` is that bill's history, and its PO's history names the bill and says
    QBO closed the PO (the seed's PO 12 is billed in full)."""
    monkeypatch.setenv("RECONCILER_BILLS__FROM", "bills")
    _connect_directly(env)
    main(["run", "--once"])
    capsys.readouterr()
    assert main(["status"]) == 0
    table = capsys.readouterr().out
    assert "KIND" in table and "NC-INV-1001" in table and "PO-00001" in table
    assert main(["status", "NC-INV-1012"]) == 0
    bill = capsys.readouterr().out
    assert bill.startswith("bill NC-INV-1012") and "create" in bill and "synced" in bill
    assert main(["status", "PO-00012"]) == 0
    po = capsys.readouterr().out
    assert "billed" in po and "NC-INV-1012" in po and "QBO closed this PO" in po
    assert main(["status", "--json", "--failed"]) == 0
    assert {r["kind"] for r in json.loads(capsys.readouterr().out)} == {"po"}
    # the sample's bills whose POs are not pushed by design wait for them: skipped, not failed
    assert main(["status", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    behind = [r for r in rows if r["kind"] == "bill" and r["error_code"] == "po_not_pushed"]
    assert behind and {r["status"] for r in behind} == {"skipped"}
