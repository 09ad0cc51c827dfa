"""`reconciler doctor` shows the QBO company (country, edition, tracking) and checks every
configured class, location and tax code against it, through both emulators over HTTP."""

from __future__ import annotations

import os
import socket

import pytest

from reconciler.app.cli import main
from reconciler.app.demo import connect
from reconciler.config.loader import load_settings
from reconciler.sandbox.luminous.server import LuminousEmulator
from reconciler.sandbox.qbo.server import QBOEmulator

CONFIG = """
[accounts]
ap = "Accounts Payable (A/P)"

[classes]
source = "warehouse"
map = { "Main Warehouse" = "East", "Annex" = "Dormant" }
default = "Nowhere"

[locations]
source = "warehouse"
map = { "Main Warehouse" = "Utah" }

[tax]
codes = { "20" = "20.0% S", "0" = "0%" }
zero_rate = "0.0% Z"
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def run_doctor(tmp_path, monkeypatch, capsys):
    started = []

    def run(*, country: str = "GB", edition: str = "Plus", config: str = CONFIG, seed=None):
        qbo = QBOEmulator(country=country, edition=edition).start(port=0)
        lum = LuminousEmulator(token="lum-doctor").start(port=0)
        started.extend([qbo, lum])
        qbo.seed_default()
        if seed is not None:
            seed(qbo)
        path = tmp_path / "reconciler.toml"
        path.write_text(config, encoding="utf-8")
        values = {
            "RECONCILER_CONFIG": str(path),
            "RECONCILER_LUMINOUS__BASE_URL": lum.base_url,
            "RECONCILER_LUMINOUS__API_TOKEN": "lum-doctor",
            "RECONCILER_QBO__ENVIRONMENT": qbo.discovery_url,
            "RECONCILER_QBO__BASE_URL": qbo.api_base,
            "RECONCILER_QBO__REALM_ID": qbo.realm_id,
            "RECONCILER_QBO__CLIENT_ID": qbo.client_id,
            "RECONCILER_QBO__CLIENT_SECRET": qbo.client_secret,
            "RECONCILER_QBO__REDIRECT_URI": f"http://127.0.0.1:{_free_port()}/callback",
            "RECONCILER_QBO__TOKEN_STORE": str(tmp_path / "tokens.json"),
            "RECONCILER_STATE__PATH": str(tmp_path / "state.sqlite"),
        }
        for key in list(os.environ):
            if key.startswith("RECONCILER_"):
                monkeypatch.delenv(key)
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        connect(qbo, load_settings(str(path), os.environ))
        qbo.reset_log()
        code = main(["doctor"])
        return code, capsys.readouterr().out, qbo

    yield run
    for emulator in started:
        emulator.stop()


def _seed_tracking(qbo):
    qbo.seed("Class", {"Name": "East"})
    qbo.seed("Class", {"Name": "Dormant", "Active": False})
    qbo.seed("Department", {"Name": "Utah"})


def test_doctor_shows_the_company_and_checks_each_name(run_doctor):
    """Each configured name has its line: found (with its Id), inactive (made active by the
    sync, in Plus against the limit), missing, or a sales-only tax code; one IN query each."""
    code, out, qbo = run_doctor(seed=_seed_tracking)
    assert code == 2
    assert (
        "[ok  ] quickbooks company: country GB, QuickBooks Online Plus, classes on lines, "
        "locations on, home currency GBP; tax codes on every line"
    ) in out
    assert "[ok  ] class 'East': is Class 5" in out
    assert "[ok  ] class 'Dormant': is inactive: the sync makes it active again (it counts " in out
    assert "[FAIL] class 'Nowhere': is not in QuickBooks (from [classes])" in out
    assert "fix: create it in QuickBooks or change [classes]" in out
    assert "[ok  ] location 'Utah': is Department 1" in out
    assert "[ok  ] tax code '20.0% S': is TaxCode 2" in out
    assert "[FAIL] tax code '0%': has no purchase rate in QuickBooks (a sales-only code)" in out
    assert "fix: map [tax] to a code with a purchase rate" in out
    assert "[ok  ] tax code '0.0% Z': is TaxCode 4" in out
    queries = [e["query"].get("query", "") for e in qbo.request_log if e["path"].endswith("/query")]
    for entity in ("Class", "Department", "TaxCode"):
        assert sum(f"FROM {entity} " in text for text in queries) == 1


def test_doctor_refuses_classes_in_essentials(run_doctor):
    code, out, _ = run_doctor(edition="Essentials", country="US")
    assert code == 2
    assert "[FAIL] quickbooks company: country US, QuickBooks Online Essentials" in out
    assert "has no classes or locations (Plus and Advanced do)" in out


def test_doctor_in_a_us_company_says_tax_is_not_used(run_doctor):
    code, out, _ = run_doctor(country="US", seed=_seed_tracking)
    assert "US tax rule (tax as an account line)" in out
    assert "[ok  ] tax: [tax] is not used: a US company keeps the US rule" in out
    assert "tax code '20.0% S'" not in out
    assert code == 2  # the missing default class still fails
