"""The health server in a process held to 128 descriptors, for test_health_flood.py.

Commands, one a line on stdin, each answered by one JSON line on stdout:
`work <sqlite path> <url>` (what a pass needs: the state file and an HTTP request),
`exhaust` (open files until EMFILE and hold them), `release`, `census`, `quit`.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading

LIMIT = 128
resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))  # before the server sizes itself

from datetime import timedelta  # noqa: E402

import requests  # noqa: E402

from reconciler.state import StateStore  # noqa: E402
from reconciler.web.health import HealthState, serve_health  # noqa: E402


def say(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def work(path: str, url: str) -> dict:
    store = StateStore.open(path)
    try:
        store.set_meta("flood", "survived")
        value = store.get_meta("flood")
    finally:
        store.close()
    return {"sqlite": value, "http": requests.get(url, timeout=5).status_code}


def exhaust(held: list[int]) -> dict:
    for _ in range(LIMIT):
        try:
            held.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            break
    return {"held": len(held)}


def release(held: list[int]) -> dict:
    while held:
        os.close(held.pop())
    return {"released": True}


def census() -> dict:
    return {"fds": len(os.listdir("/proc/self/fd")), "threads": threading.active_count()}


def main() -> None:
    server = serve_health(HealthState(timedelta(minutes=1)), port=0, timeout=2.0)
    say({"port": server.port, "pid": os.getpid()})
    held: list[int] = []
    for line in sys.stdin:
        command, *args = line.split()
        if command == "quit":
            break
        try:
            if command == "work":
                say(work(*args))
            elif command == "exhaust":
                say(exhaust(held))
            elif command == "release":
                say(release(held))
            elif command == "census":
                say(census())
        except Exception as exc:
            say({"error": repr(exc)})
    release(held)
    server.shutdown()


if __name__ == "__main__":
    main()
