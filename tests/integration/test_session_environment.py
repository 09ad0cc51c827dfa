"""`wiring.session` reads the environment once, for its own host: a proxy (after `no_proxy`)
and a CA bundle are honoured as requests would honour them, and `~/.netrc` never replaces the
bearer token. Real requests to a real HTTP server on 127.0.0.1, acting as origin or as proxy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from reconciler.app import wiring

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


class Echo:
    """Answers every GET with 200 and keeps its request line and Authorization header."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        echo = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                echo.seen.append((self.requestline, self.headers.get("Authorization")))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # (a short poll: `shutdown` waits for the loop to look, 0.5 s by default)
        loop = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        loop.start()


@pytest.fixture
def echo() -> Iterator[Echo]:
    server = Echo()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture(autouse=True)
def _no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def test_a_proxy_in_the_environment_carries_the_requests(echo: Echo, monkeypatch) -> None:
    monkeypatch.setenv("http_proxy", echo.url)  # the echo server plays the proxy
    s = wiring.session(for_url="http://qbo.example.invalid/v3/company")
    answer = s.get("http://qbo.example.invalid/v3/company/1/query", timeout=5)
    assert answer.status_code == 200
    assert echo.seen[0][0] == "GET http://qbo.example.invalid/v3/company/1/query HTTP/1.1"


def test_no_proxy_sends_the_host_direct(echo: Echo, monkeypatch) -> None:
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # nothing listens: would fail
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    s = wiring.session(for_url=echo.url)
    assert s.get(f"{echo.url}/v3/x", timeout=5).status_code == 200
    assert echo.seen[0][0] == "GET /v3/x HTTP/1.1"


def test_the_environment_is_read_when_the_session_is_built(echo: Echo, monkeypatch) -> None:
    s = wiring.session(for_url=echo.url)
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # later: not read
    assert s.get(f"{echo.url}/v3/x", timeout=5).status_code == 200


def test_a_netrc_entry_does_not_replace_the_bearer_token(
    echo: Echo, monkeypatch, tmp_path: Path
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    bearer = {"Authorization": "Bearer the-access-token"}
    # what requests does by default, and why the session does not read the environment then
    requests.Session().get(f"{echo.url}/default", headers=bearer, timeout=5)
    wiring.session(for_url=echo.url).get(f"{echo.url}/ours", headers=bearer, timeout=5)
    assert echo.seen[0][1].startswith("Basic ")
    assert echo.seen[1][1] == "Bearer the-access-token"


def test_a_ca_bundle_in_the_environment_is_the_one_verified_against(
    monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "corporate.pem"))
    assert wiring.session(for_url="https://quickbooks.api.intuit.com").verify == str(
        tmp_path / "corporate.pem"
    )
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    assert wiring.session(for_url="https://quickbooks.api.intuit.com").verify is True
