"""The container's HEALTHCHECK: ask `/healthz`, print why, exit 0 (healthy) or 1.

    python -m reconciler.web.probe

Docker keeps what a health command printed (`docker inspect --format '{{json .State.Health}}'`),
so it prints the daemon's own reason ("last successful pass 400s ago (limit 180s)", "QuickBooks
authorization lost: run `reconciler auth connect`") rather than a traceback. Standard library
only, so it starts fast. The address: RECONCILER_DAEMON__HEALTH_PORT (8787), on 127.0.0.1
unless RECONCILER_DAEMON__HEALTH_HOST names another host than "all interfaces".
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

TIMEOUT_S = 4.0  # under the image's HEALTHCHECK --timeout=5s
ANY = ("", "0.0.0.0", "::", "[::]")  # noqa: S104 (names of "every interface", not a bind)


def url_from(env: Mapping[str, str]) -> str:
    host = env.get("RECONCILER_DAEMON__HEALTH_HOST", "").strip()
    host = "127.0.0.1" if host in ANY else host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{env.get('RECONCILER_DAEMON__HEALTH_PORT', '8787').strip()}/healthz"


def probe(url: str, timeout: float = TIMEOUT_S) -> tuple[bool, str]:
    """(healthy, the line to print)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 (http only)
            return True, f"healthy: {_reason(answer.read())}"
    except urllib.error.HTTPError as exc:
        return False, f"unhealthy (HTTP {exc.code}): {_reason(exc.read())}"
    except (OSError, ValueError) as exc:
        why = getattr(exc, "reason", None) or exc
        return False, f"unhealthy: no answer from {url} ({type(exc).__name__}: {why})"


def _reason(body: bytes) -> str:
    try:
        return str(json.loads(body).get("reason") or "(no reason given)")
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace").strip() or "(an empty answer)"


def main() -> int:
    healthy, line = probe(url_from(os.environ))
    sys.stdout.write(line + "\n")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
