"""QBO emulator: the per-second, per-app and per-realm limits, several apps, the XML 429 body.

Every limit here is from developer.intuit.com "API call limits and throttles"
(https://developer.intuit.com/app/developer/qbo/docs/learn/limits-and-throttles): 500 requests a
minute per realm, 10 a second per realm and app, 40 batch requests a minute per realm and app,
120 per realm; the in-flight cap per realm and app is Intuit's 2016 concurrent-use blog. Most
tests freeze the limits' monotonic clock (`limits_clock`), so they count requests, not time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from reconciler import errors
from reconciler.qbo.auth import StaticTokenSource
from reconciler.qbo.client import QBOClient
from reconciler.sandbox.qbo.server import FaultRule

APP_B, SECRET_B = "emu-client-b", "emu-secret-b"
BATCH = {"BatchItemRequest": [{"bId": "1", "Query": "select * from Vendor"}]}
NS = "{http://schema.intuit.com/finance/v3}"


class FrozenClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def assert_throttled(response) -> None:
    """429 with QBO's 3001 ThrottleExceeded fault (python-quickbooks #83, quickbooks-ruby #348)."""
    assert response.status_code == 429, response.text
    error = response.json()["Fault"]["Error"][0]
    assert error["code"] == "3001"
    assert error["Message"] == "message=ThrottleExceeded; errorCode=003001; statusCode=429"


def second_app(qbo):
    """A session on the same company through another registered app."""
    qbo.emu.register_app(APP_B, SECRET_B)
    return type(qbo)(qbo.emu, qbo.emu.issue_tokens(APP_B)["access_token"])


def test_eleventh_request_in_one_second_is_throttled(make_emu):
    """10 requests a second per realm and app (Intuit's limits page): the 11th in the same second
    is 429 3001; once the second has passed the window has room again."""
    clock = FrozenClock()
    qbo = make_emu(limits_clock=clock)
    statuses = [qbo.get("preferences").status_code for _ in range(10)]
    assert statuses == [200] * 10
    assert_throttled(qbo.get("preferences"))
    clock.advance(0.999)
    assert_throttled(qbo.get("preferences"))
    clock.advance(0.001)
    assert qbo.get("preferences").status_code == 200


def test_per_second_limit_holds_under_real_concurrency(make_emu):
    """10 requests a second per realm and app, on the real clock (Intuit's limits page): bursts
    from 8 threads get a 429, and no 11 admitted requests ever fall inside one second."""
    qbo = make_emu(requests_per_minute=None)
    throttled = 0
    with ThreadPoolExecutor(max_workers=8) as pool:  # under the in-flight cap of 10
        for _ in range(20):  # bounded: at most 20 bursts of 16
            answers = list(pool.map(lambda _: qbo.get("preferences"), range(16)))
            throttled += sum(a.status_code == 429 for a in answers)
            if throttled:
                break
    assert throttled >= 1
    admitted = sorted(e["admitted_at"] for e in qbo.emu.request_log if "admitted_at" in e)
    assert all(admitted[i] <= admitted[i + 10] - 1.0 for i in range(len(admitted) - 10))


def test_per_second_limit_is_per_app(make_emu):
    """The 10 a second is "per realm ID and app" (Intuit's limits page): one app's burst does not
    throttle another app on the same company."""
    qbo = make_emu(limits_clock=FrozenClock())
    other = second_app(qbo)
    assert [qbo.get("preferences").status_code for _ in range(10)] == [200] * 10
    assert_throttled(qbo.get("preferences"))
    assert [other.get("preferences").status_code for _ in range(10)] == [200] * 10
    assert_throttled(other.get("preferences"))


def test_requests_per_minute_is_shared_by_every_app(make_emu):
    """500 a minute is "per realm ID" (Intuit's limits page), whichever app sends: here 3."""
    qbo = make_emu(requests_per_minute=3, limits_clock=FrozenClock())
    other = second_app(qbo)
    assert [s.get("preferences").status_code for s in (qbo, qbo, other)] == [200, 200, 200]
    assert_throttled(other.get("preferences"))
    assert_throttled(qbo.get("preferences"))


def test_batch_limits_per_app_and_per_realm(make_emu):
    """40 batch requests a minute per realm and app, 120 per realm (Intuit's limits page), here 2
    and 3: the app limit stops one app alone, the realm limit stops every app, a refused batch
    counts against neither, and the minute slides on."""
    clock = FrozenClock()
    qbo = make_emu(batches_per_minute=2, realm_batches_per_minute=3, limits_clock=clock)
    other = second_app(qbo)
    assert [qbo.post("batch", BATCH).status_code for _ in range(2)] == [200, 200]
    assert_throttled(qbo.post("batch", BATCH))
    assert other.post("batch", BATCH).status_code == 200  # the refused one did not count
    assert_throttled(other.post("batch", BATCH))  # realm: 3 in this minute
    assert other.get("preferences").status_code == 200
    clock.advance(60)
    assert other.post("batch", BATCH).status_code == 200


def test_in_flight_cap_is_per_app(make_emu):
    """At most 10 requests in flight per realm and app (Intuit's 2016 concurrent-use blog:
    "based on an application and realmId combination"), here 1: a second request of the same app
    is 429 while another app's passes."""
    qbo = make_emu(max_concurrent=1)
    other = second_app(qbo)
    qbo.emu.add_fault(FaultRule(path_regex="/vendor/", action="latency", latency=2.0))
    with ThreadPoolExecutor(max_workers=1) as pool:
        slow = pool.submit(qbo.get, "vendor/1")
        for _ in range(200):  # bounded wait (at most 2 s) for the slow one to be admitted
            if qbo.emu.in_flight() == 1:
                break
            time.sleep(0.01)
        assert qbo.emu.in_flight() == 1
        assert_throttled(qbo.get("preferences"))
        assert other.get("preferences").status_code == 200
        assert slow.result(timeout=10).status_code == 200
    assert qbo.emu.in_flight() == 0


def test_throttle_can_answer_as_xml(make_emu):
    """QBO has answered 429 as XML to JSON requests (python-quickbooks #43); the body is element
    for element the one quoted in QuickBooks-V3-PHP-SDK #54 and the quickbooks-ruby #348 fixture."""
    qbo = make_emu(requests_per_minute=1, throttle_xml=True)
    assert qbo.get("preferences").status_code == 200
    response = qbo.get("preferences")
    assert response.status_code == 429
    assert response.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == f"{NS}IntuitResponse" and root.get("time")
    fault = root.find(f"{NS}Fault")
    error = fault.find(f"{NS}Error")
    assert fault.get("type") == "SERVICE" and error.get("code") == "3001"
    message = error.find(f"{NS}Message").text
    assert message == "message=ThrottleExceeded; errorCode=003001; statusCode=429"
    assert error.find(f"{NS}Detail").text == "The request limit was reached.  Try again later"


def test_injected_429_follows_the_xml_setting(qbo):
    """A FaultRule 429 without a body answers the same throttle body as the real limits do
    (QuickBooks-V3-PHP-SDK #54 for the XML shape)."""
    qbo.emu.throttle_xml = True
    qbo.emu.add_fault(FaultRule(path_regex="/preferences", status=429))
    response = qbo.get("preferences")
    assert response.status_code == 429 and response.text.startswith("<?xml")


def test_client_reads_an_xml_429_as_throttled(make_emu):
    """QBOClient against the XML 429 (python-quickbooks #43: XML though JSON was asked): it is a
    ThrottledFault, not a parse error."""
    qbo = make_emu(requests_per_minute=1, throttle_xml=True)
    source = StaticTokenSource(qbo.emu.issue_tokens()["access_token"])
    client = QBOClient(
        requests.Session(), qbo.emu.api_base, qbo.emu.realm_id, source, max_attempts=1
    )
    client.read("Vendor", "1")
    with pytest.raises(errors.ThrottledFault) as info:
        client.read("Vendor", "1")
    assert info.value.http_status == 429


def test_tokens_codes_and_refresh_tokens_belong_to_their_app(emu):
    """A code or refresh token "issued to another client" is invalid_grant (RFC 6749 section
    5.2, which Intuit's OAuth 2.0 server follows); the consent page takes any registered app."""
    emu.register_app(APP_B, SECRET_B)
    refresh_b = emu.issue_tokens(APP_B)["refresh_token"]
    url = f"{emu.base_url}/oauth2/v1/tokens/bearer"
    form = {"grant_type": "refresh_token", "refresh_token": refresh_b}
    wrong = requests.post(url, data=form, auth=(emu.client_id, emu.client_secret), timeout=5)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    right = requests.post(url, data=form, auth=(APP_B, SECRET_B), timeout=5)
    assert right.status_code == 200
    consent = requests.get(
        f"{emu.base_url}/connect/oauth2",
        params={"client_id": APP_B, "redirect_uri": "http://localhost/cb"},
        allow_redirects=False,
        timeout=5,
    )
    assert consent.status_code == 302


def test_admin_routes_for_apps_and_limit_settings(emu):
    """/__admin/ mirrors register_app, issue_tokens(client_id) and the limit settings; None turns
    a limit off (the limits themselves: Intuit's limits page)."""
    admin = f"{emu.base_url}/__admin"
    apps = requests.post(
        f"{admin}/apps", json={"client_id": APP_B, "client_secret": SECRET_B}, timeout=5
    ).json()
    assert apps == {"apps": [emu.client_id, APP_B]}
    assert requests.get(f"{admin}/apps", timeout=5).json() == apps
    tokens = requests.post(f"{admin}/tokens", json={"client_id": APP_B}, timeout=5).json()
    assert emu.auth.client_of(tokens["access_token"]) == APP_B
    settings = requests.get(f"{admin}/settings", timeout=5).json()
    assert {k: settings[k] for k in ("requests_per_second", "realm_batches_per_minute")} == {
        "requests_per_second": 10,
        "realm_batches_per_minute": 120,
    }
    assert settings["max_concurrent"] == 10 and settings["throttle_xml"] is False
    changed = requests.post(
        f"{admin}/settings", json={"requests_per_second": None, "throttle_xml": True}, timeout=5
    ).json()
    assert changed["requests_per_second"] is None and emu.requests_per_second is None
    assert emu.throttle_xml is True


def test_serve_no_limits_turns_every_limit_off():
    """`serve --no-limits` switches off all five limits of Intuit's limits page."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from reconciler.sandbox.qbo.server import serve; "
            "raise SystemExit(serve(['--no-limits']))",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        banner = json.loads(process.stdout.readline())
        settings = requests.get(f"{banner['base_url']}/__admin/settings", timeout=5).json()
        for name in (
            "requests_per_minute",
            "requests_per_second",
            "max_concurrent",
            "batches_per_minute",
            "realm_batches_per_minute",
        ):
            assert settings[name] is None, name
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
