"""One JSON POST that cannot take longer than its deadline, whatever the receiver does.

requests (and urllib3 below it) bound each socket operation, not the whole exchange: a
receiver that trickles its answer a byte a second never trips a 5 s read timeout, and held an
alert for a minute. Here the exchange has one deadline: every socket operation waits at most
what is left of it, and a timer shuts the socket down when it passes, which ends a blocked
read at once. Redirects are never followed (a moved webhook should be reconfigured).

The proxy (`HTTPS_PROXY`, `NO_PROXY`, as requests reads them) and the CA bundle
(`REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`, else certifi's, as requests uses) are read once, when
the `Poster` is made. TLS is always verified.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

USER_AGENT = "reconciler-alerts/0.1"
MAX_ANSWER = 64 * 1024  # bytes of an answer read (its body is not used)


class PostTimeout(Exception):
    """The deadline passed before the receiver answered (its text never names the URL)."""


class PostFailed(Exception):
    """No answer: refused, reset, a TLS or proxy failure (its text never names the URL)."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]


class Poster:
    """POSTs JSON to one URL, each exchange bounded by `deadline` seconds in all."""

    def __init__(self, url: str, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the webhook URL must be http(s)://host/...")
        self._parts = parts
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._proxy = _proxy_for(url)
        self._tls = _tls_context() if parts.scheme == "https" or self._proxy else None
        self._monotonic = monotonic

    def post(self, payload: Any, deadline: float, *, per_read: float) -> Answer:
        """One exchange; PostTimeout past `deadline` seconds, PostFailed without an answer."""
        body = json.dumps(payload).encode("utf-8")
        ends = self._monotonic() + deadline
        conn = self._connection(min(per_read, deadline))
        timer = threading.Timer(max(deadline, 0.0), _shut, args=(conn,))
        timer.daemon = True
        timer.start()
        try:
            conn.request("POST", self._request_target(), body=body, headers=self._headers())
            response = conn.getresponse()
            response.read(MAX_ANSWER)
            return Answer(response.status, {k.title(): v for k, v in response.getheaders()})
        except (OSError, http.client.HTTPException) as exc:
            if self._monotonic() >= ends or isinstance(exc, TimeoutError | socket.timeout):
                raise PostTimeout(type(exc).__name__) from None
            raise PostFailed(type(exc).__name__) from None
        finally:
            timer.cancel()
            conn.close()

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        host = self._parts.hostname or ""
        if self._proxy is not None:
            proxy = urlsplit(self._proxy)
            proxy_host, proxy_port = proxy.hostname or "", proxy.port or 8080
            if self._parts.scheme == "https":
                conn = http.client.HTTPSConnection(
                    proxy_host, proxy_port, timeout=timeout, context=self._tls
                )
                conn.set_tunnel(host, self._port)
                return conn
            return http.client.HTTPConnection(proxy_host, proxy_port, timeout=timeout)
        if self._parts.scheme == "https":
            return http.client.HTTPSConnection(host, self._port, timeout=timeout, context=self._tls)
        return http.client.HTTPConnection(host, self._port, timeout=timeout)

    def _request_target(self) -> str:
        if self._proxy is not None and self._parts.scheme == "http":
            return self._parts.geturl()  # a plain-HTTP proxy takes the absolute URL
        return self._target

    def _headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Connection": "close",
        }


def _shut(conn: http.client.HTTPConnection) -> None:
    """The deadline passed: end whatever read or write is blocked on the socket."""
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _proxy_for(url: str) -> str | None:
    host = urlsplit(url).hostname or ""
    if urllib.request.proxy_bypass(host):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(urlsplit(url).scheme) or None


def _tls_context() -> ssl.SSLContext:
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if not bundle:
        import certifi  # requests' own CA bundle (a dependency of requests)

        bundle = certifi.where()
    return ssl.create_default_context(cafile=bundle)
