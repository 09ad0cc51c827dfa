"""QBO emulator: OpenID discovery, token endpoint, rotation, revoke, bearer checks."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError

REDIRECT = "http://localhost:8000/callback"


def basic(emu) -> str:
    return "Basic " + base64.b64encode(f"{emu.client_id}:{emu.client_secret}".encode()).decode()


def token_call(emu, **form: str) -> requests.Response:
    return requests.post(
        f"{emu.base_url}/oauth2/v1/tokens/bearer",
        data=form,
        headers={"Authorization": basic(emu), "Accept": "application/json"},
        timeout=5,
    )


def api_call(emu, access_token: str) -> requests.Response:
    return requests.get(
        f"{emu.api_base}/{emu.realm_id}/preferences",
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        timeout=5,
    )


def test_discovery_document_names_every_endpoint_intuitlib_reads(emu):
    """The discovery document carries the six keys AuthClient's constructor reads."""
    document = requests.get(emu.discovery_url, timeout=5).json()
    for key in (
        "authorization_endpoint",
        "token_endpoint",
        "revocation_endpoint",
        "issuer",
        "jwks_uri",
        "userinfo_endpoint",
    ):
        assert document[key].startswith(emu.base_url), key


def test_authorization_code_grant_issues_a_working_token_pair(emu):
    """A code from the consent redirect exchanges once for tokens that call the API."""
    consent = requests.get(
        f"{emu.base_url}/connect/oauth2",
        params={"client_id": emu.client_id, "redirect_uri": REDIRECT, "state": "s1"},
        allow_redirects=False,
        timeout=5,
    )
    assert consent.status_code == 302
    params = parse_qs(urlsplit(consent.headers["Location"]).query)
    assert params["state"] == ["s1"] and params["realmId"] == [emu.realm_id]
    code = params["code"][0]
    first = token_call(emu, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert first.status_code == 200
    tokens = first.json()
    assert tokens["expires_in"] == 3600 and tokens["token_type"] == "bearer"
    assert api_call(emu, tokens["access_token"]).status_code == 200
    again = token_call(emu, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_refresh_rotates_and_a_used_refresh_token_is_invalid_grant(emu):
    """Each refresh answers a new refresh token; the old one is then invalid_grant."""
    old = emu.issue_tokens()["refresh_token"]
    fresh = token_call(emu, grant_type="refresh_token", refresh_token=old)
    assert fresh.status_code == 200
    assert fresh.json()["refresh_token"] != old
    reused = token_call(emu, grant_type="refresh_token", refresh_token=old)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_invalid_client(emu):
    """The token endpoint checks the Basic client credentials."""
    response = requests.post(
        f"{emu.base_url}/oauth2/v1/tokens/bearer",
        data={"grant_type": "refresh_token", "refresh_token": emu.issue_tokens()["refresh_token"]},
        auth=(emu.client_id, "wrong"),
        timeout=5,
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_access_token_expires_after_an_hour_on_the_emulator_clock(emu):
    """At 3600 s the bearer token is refused with 401 AuthenticationFailed (code 3200)."""
    access = emu.issue_tokens()["access_token"]
    emu.advance_clock(3599)
    assert api_call(emu, access).status_code == 200
    emu.advance_clock(1)
    expired = api_call(emu, access)
    assert expired.status_code == 401
    error = expired.json()["fault"]["error"][0]
    assert error["code"] == "3200" and "AuthenticationFailed" in error["message"]
    assert expired.json()["fault"]["type"] == "AUTHENTICATION"


def test_bad_or_missing_bearer_token_is_401(emu):
    """A made-up token and no Authorization header both answer 401 3200."""
    assert api_call(emu, "not-a-token").status_code == 401
    bare = requests.get(f"{emu.api_base}/{emu.realm_id}/preferences", timeout=5)
    assert bare.status_code == 401
    assert bare.json()["fault"]["error"][0]["code"] == "3200"


def test_token_for_another_realm_is_403(emu):
    """A valid token used on a different realm id is 403 AuthorizationFailed (3100)."""
    access = emu.issue_tokens()["access_token"]
    response = requests.get(
        f"{emu.api_base}/123456/preferences",
        headers={"Authorization": f"Bearer {access}"},
        timeout=5,
    )
    assert response.status_code == 403
    assert response.json()["fault"]["error"][0]["code"] == "3100"


def test_revoke_endpoint_ends_the_connection(emu):
    """Revoking the refresh token kills refresh and the connection's access tokens."""
    tokens = emu.issue_tokens()
    response = requests.post(
        f"{emu.base_url}/v2/oauth2/tokens/revoke",
        json={"token": tokens["refresh_token"]},
        headers={"Authorization": basic(emu)},
        timeout=5,
    )
    assert response.status_code == 200
    assert api_call(emu, tokens["access_token"]).status_code == 401
    refresh = token_call(emu, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refresh.json()["error"] == "invalid_grant"


def test_revoke_all_tokens_from_the_python_api(emu):
    """revoke_all_tokens disconnects every connection."""
    tokens = emu.issue_tokens()
    emu.revoke_all_tokens()
    assert api_call(emu, tokens["access_token"]).status_code == 401


def test_refresh_token_expires_after_100_days(emu):
    """A refresh token unused for its lifetime is invalid_grant."""
    tokens = emu.issue_tokens()
    emu.advance_clock(tokens["x_refresh_token_expires_in"])
    refresh = token_call(emu, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refresh.status_code == 400


def test_real_intuitlib_authclient_runs_the_refresh_flow(emu):
    """intuitlib.AuthClient with environment=discovery URL: code, refresh, rotation, reuse."""
    client = AuthClient(emu.client_id, emu.client_secret, REDIRECT, emu.discovery_url)
    assert client.token_endpoint == f"{emu.base_url}/oauth2/v1/tokens/bearer"
    url = client.get_authorization_url([Scopes.ACCOUNTING])
    assert url.startswith(f"{emu.base_url}/connect/oauth2?")
    client.get_bearer_token(emu.authorization_code(), realm_id=emu.realm_id)
    first_refresh = client.refresh_token
    assert api_call(emu, client.access_token).status_code == 200
    emu.advance_clock(3600)
    assert api_call(emu, client.access_token).status_code == 401
    client.refresh()
    assert client.refresh_token != first_refresh and client.expires_in == 3600
    assert api_call(emu, client.access_token).status_code == 200
    with pytest.raises(AuthClientError) as caught:
        client.refresh(refresh_token=first_refresh)
    assert caught.value.status_code == 400 and caught.value.intuit_tid
    assert client.revoke() is True
    assert api_call(emu, client.access_token).status_code == 401
