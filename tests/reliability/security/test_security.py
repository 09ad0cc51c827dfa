"""Security: no QBO query injection, TLS checks never off, no secret in any output, private files.

The sentinel scan runs after every test of the reliability suite (tests/reliability/conftest.py)
over every subprocess output and in-process event it recorded; here, dedicated runs with a
sentinel in every secret, including the tokens, and a check that the scan finds a planted one.
"""

from __future__ import annotations

import ast
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from reliability_kit import (
    CAPTURED,
    CLIENT_SECRET,
    LUMINOUS_TOKEN,
    SENTINEL,
    Capture,
    InProcessDaemon,
    assert_invariants,
    connect,
    run_once,
    world,
)

from reconciler.qbo.auth import FileTokenStore, Tokens

PACKAGE = Path(__file__).resolve().parents[3] / "reconciler"
INJECTIONS = [
    "x' OR Name = 'y",
    "x\\' OR DisplayName LIKE '%",
    "trailing backslash\\",
    "'; DROP TABLE Vendor; --",
    "a' AND Active IN (true, false) AND DisplayName = 'b",
]


@pytest.mark.parametrize("name", INJECTIONS, ids=[f"injection-{i}" for i in range(len(INJECTIONS))])
def test_supplier_name_cannot_change_the_qbo_query(tmp_path, name):
    """The query carries the name as one quoted literal; exactly one vendor has that name."""
    with world(tmp_path) as w:
        w.qbo.seed("Vendor", {"DisplayName": "y"})
        connect(w)
        daemon = InProcessDaemon(w)
        w.source.po(name, "Item", "1", "1.00")
        report = daemon.run()
        assert report is not None and report.fatal is None and report.failed == 0
        literal = "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"
        vendor_queries = [
            e["query"]["query"]
            for e in w.qbo.request_log
            if e["path"].endswith("/query") and "FROM Vendor" in e["query"].get("query", "")
        ]
        expected = f"SELECT * FROM Vendor WHERE DisplayName = {literal} AND Active IN (true, false)"
        assert [q for q in vendor_queries if q.startswith(expected + " ")], vendor_queries
        assert all(e["status"] != 400 for e in w.qbo.request_log), "a query failed to parse"
        vendors = [v for v in w.qbo.objects("Vendor") if v["DisplayName"] == name]
        assert len(vendors) == 1
        assert [v["DisplayName"] for v in w.qbo.objects("Vendor")].count("y") == 1
        qpo = w.qbo.objects("PurchaseOrder")[0]
        assert qpo["VendorRef"]["value"] == vendors[0]["Id"]


class _VerifyFalse(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: list[int] = []

    def visit_keyword(self, node: ast.keyword) -> None:
        if node.arg == "verify" and isinstance(node.value, ast.Constant) and not node.value.value:
            self.found.append(node.lineno)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if (
                isinstance(target, ast.Attribute)
                and target.attr == "verify"
                and isinstance(node.value, ast.Constant)
                and not node.value.value
            ):
                self.found.append(node.lineno)
        self.generic_visit(node)


def test_tls_verification_is_never_turned_off_outside_the_sandbox():
    """No `verify=False` (argument or `session.verify = False`) in the package but sandbox/."""
    offenders = []
    checked = 0
    for path in sorted(PACKAGE.rglob("*.py")):
        if "sandbox" in path.relative_to(PACKAGE).parts:
            continue
        visitor = _VerifyFalse()
        visitor.visit(ast.parse(path.read_text(), filename=str(path)))
        checked += 1
        offenders += [f"{path.relative_to(PACKAGE)}:{line}" for line in visitor.found]
    assert checked > 20
    assert offenders == []
    # and the checker does catch one
    planted = _VerifyFalse()
    planted.visit(ast.parse("s.get(u, verify=False)\ns.verify = False\n"))
    assert len(planted.found) == 2


def _sentinel_tokens(path: Path) -> None:
    """A token store whose tokens are sentinels; the access token looks expired."""
    now = datetime.now(UTC)
    tokens = Tokens(
        access_token=f"{SENTINEL}-access-token",
        refresh_token=f"{SENTINEL}-refresh-token",
        access_expires_at=now - timedelta(hours=1),
        refresh_expires_at=now + timedelta(days=90),
        realm_id="9341453172",
    )
    FileTokenStore(path).save(tokens)


def test_sentinel_secrets_never_appear_in_output_of_a_failing_daemon(tmp_path):
    """Every secret a sentinel (API token, client secret, access and refresh token), DEBUG logs,
    and a refresh that fails: exit 2, and no sentinel in stdout or stderr."""
    with world(tmp_path) as w:
        w.source.po("Nutricost", "Item", "1", "1.00")
        _sentinel_tokens(w.token_path)
        proc = run_once(w.env, label="sentinel daemon")
        assert proc.returncode == 2
        output = proc.stdout + proc.stderr
        assert "invalid_grant" in output  # it did try: the refresh token was sent and refused
        assert SENTINEL not in output


def test_sentinel_secrets_never_appear_when_the_daemon_works(tmp_path):
    """A good pass at DEBUG with a sentinel API token and client secret leaks neither."""
    with world(tmp_path) as w:
        connect(w)
        w.source.po("Nutricost", "Item", "1", "1.00")
        proc = run_once(w.env, label="sentinel good pass")
        assert proc.returncode == 0, proc.stderr
        issued = json.loads(w.token_path.read_text())
        output = proc.stdout + proc.stderr
        for secret in (
            LUMINOUS_TOKEN,
            CLIENT_SECRET,
            issued["access_token"],
            issued["refresh_token"],
        ):
            assert secret not in output
        assert "pass_finished" in output  # the output is the real log, not empty
        assert_invariants(w)


def test_state_file_and_token_store_are_private(tmp_path):
    """State file 0600, token file 0600 in a 0700 directory, after a real pass."""
    with world(tmp_path) as w:
        connect(w)
        w.source.po()
        assert run_once(w.env, label="permissions").returncode == 0
        assert stat.S_IMODE(os.stat(w.state_path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(w.token_path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(w.token_path.parent).st_mode) == 0o700
        for extra in w.state_path.parent.glob("state.sqlite-*"):  # WAL and shared memory
            assert not stat.S_IMODE(os.stat(extra).st_mode) & 0o077, extra


def test_the_sentinel_scan_finds_a_secret_in_what_a_test_recorded(tmp_path):
    """tests/reliability/conftest.py scans what every test recorded when it ends; here it
    reads a real in-process pass's events (no secret) and finds one planted in a copy."""
    with world(tmp_path) as w:
        connect(w)
        w.source.po()
        start = len(CAPTURED.outputs)
        assert InProcessDaemon(w).run() is not None
    recorded = CAPTURED.outputs[start:]
    assert recorded and "pass_finished" in recorded[-1][1]
    assert CAPTURED.leaks(since=start) == []
    token = next(iter(CAPTURED.issued_secrets))
    planted = Capture()
    planted.issued_secrets = {token}
    planted.output("planted", recorded[-1][1] + f" token={token} secret={CLIENT_SECRET}")
    found = {secret for _label, secret in planted.leaks()}
    assert found == {token[:20], CLIENT_SECRET[:20], SENTINEL[:20]}
