"""QBO emulator: fault injection, request log, clock, admin HTTP prefix, standalone serve."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import datetime

import pytest
import requests

from reconciler.sandbox.qbo.server import FaultRule, QBOEmulator


def test_status_fault_answers_without_committing(qbo):
    """An injected 503 answers QBO's SystemFault and writes nothing."""
    qbo.emu.add_fault(FaultRule(method="POST", path_regex=r"/purchaseorder", status=503))
    response = qbo.post("purchaseorder", qbo.po_body())
    assert response.status_code == 503
    assert response.json()["Fault"]["type"] == "SystemFault"
    assert qbo.emu.objects("PurchaseOrder") == []
    assert qbo.post("purchaseorder", qbo.po_body()).status_code == 200


def test_fault_rule_after_and_times(qbo):
    """after lets matches through first; times bounds how often the rule fires."""
    qbo.emu.add_fault(FaultRule(path_regex="/preferences", status=500, after=1, times=2))
    statuses = [qbo.get("preferences").status_code for _ in range(4)]
    assert statuses == [200, 500, 500, 200]


def test_fault_rule_custom_body_and_429_default(qbo):
    """A rule may carry its own body; a 429 rule answers the throttle fault."""
    qbo.emu.add_fault(FaultRule(path_regex="/vendor", status=502, body="<html>bad gateway</html>"))
    qbo.emu.add_fault(FaultRule(path_regex="/item", status=429))
    gateway = qbo.get("vendor/1")
    throttled = qbo.get("item/1")
    assert gateway.status_code == 502 and gateway.text == "<html>bad gateway</html>"
    assert throttled.json()["Fault"]["Error"][0]["code"] == "3001"


def test_latency_fault_delays_the_answer(qbo):
    """A latency rule adds its seconds to the matching request."""
    qbo.emu.add_fault(FaultRule(path_regex="/preferences", action="latency", latency=0.3))
    started = time.perf_counter()
    assert qbo.get("preferences").status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_drop_after_commit_writes_then_closes_without_answer(qbo):
    """The PO is created and the requestid answer stored, but the client gets no response."""
    qbo.emu.add_fault(
        FaultRule(method="POST", path_regex="/purchaseorder", action="drop_after_commit")
    )
    with pytest.raises(requests.ConnectionError):
        qbo.post("purchaseorder", qbo.po_body(), requestid="crash-1")
    assert len(qbo.emu.objects("PurchaseOrder")) == 1
    retry = qbo.post("purchaseorder", qbo.po_body(), requestid="crash-1")
    assert retry.status_code == 200
    assert retry.json()["PurchaseOrder"]["Id"] == qbo.emu.objects("PurchaseOrder")[0]["Id"]
    assert len(qbo.emu.objects("PurchaseOrder")) == 1


def test_reset_closes_the_connection_before_doing_anything(qbo):
    """A reset rule drops the connection and nothing is written."""
    qbo.emu.add_fault(FaultRule(method="POST", path_regex="/vendor", action="reset"))
    with pytest.raises(requests.ConnectionError):
        qbo.post("vendor", {"DisplayName": "Never Made"})
    assert [v["DisplayName"] for v in qbo.emu.objects("Vendor")].count("Never Made") == 0
    assert qbo.emu.request_log[-1]["outcome"] == "reset"


def test_clear_faults(qbo):
    """clear_faults removes every rule."""
    qbo.emu.add_fault(FaultRule(path_regex="/preferences", status=500, times=None))
    assert qbo.get("preferences").status_code == 500
    qbo.emu.clear_faults()
    assert qbo.get("preferences").status_code == 200


def test_request_log_and_count(qbo):
    """Each request is logged with method, path, query, status, requestid, intuit_tid, time."""
    qbo.emu.reset_log()
    qbo.post("purchaseorder", qbo.po_body(), requestid="log-1")
    answer = qbo.get("vendor/9999")
    log = qbo.emu.request_log
    assert len(log) == 2
    first = log[0]
    assert first["method"] == "POST" and first["path"].endswith("/purchaseorder")
    assert first["query"]["requestid"] == "log-1" and first["requestid"] == "log-1"
    assert first["status"] == 200 and first["time"]
    assert log[1]["intuit_tid"] == answer.headers["intuit_tid"]
    assert qbo.emu.count(method="POST") == 1
    assert qbo.emu.count(path_contains="/vendor/", status=400) == 1
    qbo.emu.reset_log()
    assert qbo.emu.count() == 0


def test_advance_clock_moves_now_and_metadata(qbo):
    """advance_clock moves emu.now() and the times stamped on writes."""
    before = qbo.emu.now()
    qbo.emu.advance_clock(1800)
    assert (qbo.emu.now() - before).total_seconds() >= 1800
    created = qbo.create("vendor", {"DisplayName": "Later Co"})
    stamped = datetime.fromisoformat(created["MetaData"]["CreateTime"])
    assert (stamped - before).total_seconds() >= 1799


def test_admin_http_prefix_mirrors_the_python_api(qbo):
    """Faults, log, count, clock, seed, objects and tokens over /__admin/."""
    admin = f"{qbo.emu.base_url}/__admin"
    rule = {"method": "GET", "path_regex": "/preferences", "status": 503}
    assert requests.post(f"{admin}/faults", json=rule, timeout=5).status_code == 200
    assert qbo.get("preferences").status_code == 503
    assert requests.delete(f"{admin}/faults", timeout=5).json() == {"ok": True}
    logged = requests.get(f"{admin}/requests", timeout=5).json()["requests"]
    assert logged[-1]["status"] == 503
    count = requests.get(f"{admin}/count", params={"status": "503"}, timeout=5).json()
    assert count == {"count": 1}
    before = requests.get(f"{admin}/clock", timeout=5).json()["now"]
    after = requests.post(f"{admin}/clock", json={"advance": 3600}, timeout=5).json()["now"]
    assert after > before
    seeded = requests.post(
        f"{admin}/seed",
        json={"entity": "Customer", "object": {"DisplayName": "Nutricost"}},
        timeout=5,
    ).json()
    assert qbo.emu.get("Customer", seeded["Id"])["DisplayName"] == "Nutricost"
    vendors = requests.get(
        f"{admin}/objects/Vendor", params={"include_inactive": "false"}, timeout=5
    ).json()["Vendor"]
    assert len(vendors) == 3
    tokens = requests.post(f"{admin}/tokens", timeout=5).json()
    assert tokens["realm_id"] == qbo.emu.realm_id
    settings = requests.post(f"{admin}/settings", json={"latency": 0.01}, timeout=5).json()
    assert settings["latency"] == 0.01 and qbo.emu.latency == 0.01
    assert requests.delete(f"{admin}/requests", timeout=5).json() == {"ok": True}
    assert qbo.emu.request_log == []


def test_seed_refuses_what_qbo_would_refuse():
    """emu.seed goes through QBO's rules, so seeded data is data QBO could hold."""
    with QBOEmulator() as emu:
        emu.seed_default()
        with pytest.raises(ValueError, match="6240"):
            emu.seed("Vendor", {"DisplayName": "Acme Supply Co"})
        assert emu.seed("Vendor", {"DisplayName": "Seeded", "Id": "500"})["Id"] == "500"


def test_serve_runs_standalone_and_stops_on_sigterm():
    """`serve` prints one JSON line (URL, realm, tokens, discovery) and serves seeded data."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from reconciler.sandbox.qbo.server import serve; raise SystemExit(serve())",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        banner = json.loads(process.stdout.readline())
        response = requests.get(
            f"{banner['base_url']}/v3/company/{banner['realm_id']}/query",
            params={"query": "select count(*) from Vendor"},
            headers={"Authorization": f"Bearer {banner['access_token']}"},
            timeout=5,
        )
        assert response.json()["QueryResponse"]["totalCount"] == 3
        assert requests.get(banner["discovery_url"], timeout=5).status_code == 200
        assert banner["refresh_token"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
