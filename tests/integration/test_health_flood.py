"""The health server under a flood of idle sockets, in a process held to 128 descriptors.

The defect this guards: the stdlib threading server kept every idle connection (a thread and
a descriptor each), so 150 idle sockets at a limit of 128 made /healthz hang and the accept
loop spin a core on EMFILE. The server runs in `health_child.py` (the limit is set there,
never in the pytest process); every wait here is bounded.
"""

from __future__ import annotations

import json
import os
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("health_child.py")
FLOOD = 500
SUSTAIN_ROUNDS = 8  # about 4 s of /healthz and work while the flood lands
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Child:
    """The server process and its one-line JSON commands."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        hello = self._read(20)
        self.port, self.pid = hello["port"], hello["pid"]

    def _read(self, timeout: float) -> dict:
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                raise AssertionError(f"no answer from the child in {timeout}s")
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"the child ended: {self.proc.stderr.read()}")
        return json.loads(line)

    def ask(self, command: str, timeout: float = 10) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self._read(timeout)
        assert "error" not in answer, answer
        return answer

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def child():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < FLOOD + 200:  # the client side needs room for the flood (raised, never lowered)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    server = Child()
    yield server
    server.stop()


@pytest.fixture
def other_server():
    """Another local HTTP server, standing for Luminous or QBO."""

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def flood(port: int, count: int, timeout: float = 20) -> list[socket.socket]:
    """`count` sockets connected (or refused) to the port, none of which says a word."""
    socks, pending = [], selectors.DefaultSelector()
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        socks.append(sock)
        pending.register(sock, selectors.EVENT_WRITE)
    deadline = time.monotonic() + timeout
    while pending.get_map() and time.monotonic() < deadline:
        for key, _ in pending.select(0.5):
            pending.unregister(key.fileobj)
    left = len(pending.get_map())
    pending.close()
    assert left == 0, f"{left} of {count} sockets still connecting after {timeout}s"
    return socks


def timed_healthz(port: int) -> float:
    started = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
        assert response.status == 200
    return time.monotonic() - started


def test_500_idle_sockets_neither_block_healthz_nor_starve_the_process(
    child, other_server, tmp_path
):
    """500 idle sockets at a limit of 128: /healthz answers within 1 s, the process still
    opens its state file and makes an HTTP request, and it holds few descriptors and threads."""
    socks = flood(child.port, FLOOD)
    try:
        # Connections the kernel could not queue at once keep arriving for seconds after
        # the flood (retransmitted handshakes): keep asking while they do.
        for _ in range(SUSTAIN_ROUNDS):
            assert timed_healthz(child.port) < 1.0
            done = child.ask(f"work {tmp_path / 'state.sqlite'} {other_server}")
            assert done == {"sqlite": "survived", "http": 200}
            time.sleep(0.5)
        census = child.ask("census")
        assert census["fds"] <= 128 // 4 + 24, census  # the server's quarter, and the rest
        assert census["threads"] <= 8, census  # main, loop, 4 workers (not one per socket)
    finally:
        for sock in socks:
            sock.close()


def test_accept_does_not_spin_when_descriptors_run_out(child):
    """At EMFILE with connections waiting, the server backs off (little CPU over a second),
    and /healthz answers within 1 s once descriptors are free again."""
    assert child.ask("exhaust")["held"] > 0
    socks = flood(child.port, 20)
    try:
        before = child.cpu_seconds()
        time.sleep(1.0)
        used = child.cpu_seconds() - before
        assert used < 0.3, f"the accept loop used {used:.2f}s of CPU in 1s"
        child.ask("release")
        assert timed_healthz(child.port) < 1.0
    finally:
        for sock in socks:
            sock.close()
