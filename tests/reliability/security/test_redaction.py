"""One redaction for everything persisted or printed: fault bodies of both APIs that echo the
request's credentials (QBO's Detail, Luminous's message), then the bytes of the state file and
every CLI output are scanned for every secret the daemon held, and for foreign ones by shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from reliability_kit import (
    CAPTURED,
    CLIENT_SECRET,
    LUMINOUS_TOKEN,
    REPO,
    SENTINEL,
    connect,
    run_once,
    world,
)

from reconciler.sandbox.luminous.server import LuminousFault
from reconciler.sandbox.qbo.server import FaultRule

FOREIGN = f"{SENTINEL}-foreign-token-0123456789"  # a token this process never held


def _qbo_fault(detail: str, code: str = "6000") -> dict:
    return {
        "Fault": {
            "Error": [{"Message": "A business validation error has occurred", "Detail": detail,
                       "code": code, "element": ""}],
            "type": "ValidationFault",
        },
        "time": "2026-12-01T10:00:00.000-08:00",
    }  # fmt: skip


def _cli(w, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        env=w.env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    CAPTURED.output(f"cli {' '.join(args)}", proc.stdout + proc.stderr)
    return proc.stdout + proc.stderr


def test_echoed_credentials_never_reach_the_state_file_or_any_output(tmp_path):
    """QBO faults (a PO create, a whole batch, a 5xx) and a Luminous 422 all echo the bearer
    token, a foreign token and a refresh_token parameter; none of it is stored or printed."""
    with world(tmp_path) as w:
        connect(w)
        access = json.loads(w.token_path.read_text())["access_token"]
        echoes = (
            f"Authorization: Bearer {access}; Authorization: Bearer {FOREIGN}; "
            f"body refresh_token={FOREIGN}&client_secret={CLIENT_SECRET}"
        )
        first = w.source.po("Nutricost", "Whey", "1", "10.00")
        for n in range(4):
            w.source.po("Nutricost", f"Item {n}", "1", "10.00")
        # the single create of PO 1 echoes the header in its Detail
        w.qbo.add_fault(
            FaultRule(
                method="POST", path_regex=r"/purchaseorder\?", status=400,
                body=_qbo_fault(echoes), times=None,
            )
        )  # fmt: skip
        # the batches (the references', then the POs') are refused as a whole with the same
        # echo, so every PO goes alone and meets the single create's echo; then a 500 does
        w.qbo.add_fault(
            FaultRule(
                method="POST", path_regex=r"/batch", status=400, body=_qbo_fault(echoes), times=2
            )
        )
        w.qbo.add_fault(
            FaultRule(method="GET", path_regex=r"/query", status=500,
                      body=_qbo_fault(echoes, code="10000"), times=2)
        )  # fmt: skip
        run_once(w.env, label="echoing QBO")
        w.qbo.clear_faults()
        # Luminous refuses a read with a message that echoes its API token: a Fatal
        w.lum.add_fault(
            LuminousFault(
                path_regex=r"/purchase-orders", status=422, times=None,
                body={"message": f"bad request; Authorization: Bearer {LUMINOUS_TOKEN}"},
            )
        )  # fmt: skip
        proc = run_once(w.env, label="echoing Luminous")
        assert proc.returncode == 2
        w.lum.clear_faults()
        outputs = [
            proc.stdout + proc.stderr,
            _cli(w, "status"),
            _cli(w, "status", "--json"),
            _cli(w, "status", "--failed"),
            _cli(w, "status", first["order_numbers"][0]),
            _cli(w, "status", first["order_numbers"][0], "--json"),
            _cli(w, "doctor"),
        ]
        assert "Bearer ***" in outputs[4]  # (`status PO`) the echo was there, redacted
        stored = b"".join(
            Path(f"{w.state_path}{suffix}").read_bytes()
            for suffix in ("", "-wal", "-shm")
            if Path(f"{w.state_path}{suffix}").exists()
        )
        secrets = {access, FOREIGN, LUMINOUS_TOKEN, CLIENT_SECRET, SENTINEL}
        for secret in secrets:
            assert secret.encode() not in stored, secret[:24]
            for text in outputs:
                assert secret not in text, (secret[:24], text[:500])
