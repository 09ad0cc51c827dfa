"""The pieces of issue 32's end-to-end tests ("a production life"), on top of the suite's kit
(`reliability_kit`: its world of both emulators, its sentinels and the per-test secret scan):
the CLI and the daemon as child processes configured by RECONCILER_* variables, and small
faults on 127.0.0.1 and on real filesystems between them.

- `life(tmp_path)`: the kit's world, a work directory and the environment of every child.
- `Life.cli(...)`: one `python -m reconciler ...` run (optionally killed at a crash point).
- `Life.daemon(...)`: `reconciler run` as a child, its JSON log read as it goes.
- `SmallDisk`: the daemon in a private mount namespace (`unshare -rm`) whose state directory
  is a small tmpfs, so "the disk is full" is a real ENOSPC from the kernel; the test fills
  and frees it through /proc/<pid>/root.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from reliability_kit import CAPTURED, CLIENT_SECRET, LUMINOUS_TOKEN, REPO, SIGKILLED, world

from reconciler.sandbox.luminous.server import LuminousEmulator
from reconciler.sandbox.qbo.server import QBOEmulator

__all__ = ["REPO", "SIGKILLED"]  # for the tests, from the suite's one kit


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not within {timeout}s: {predicate}")


class Daemon:
    """`reconciler run` as a child process; its stdout (one JSON event a line) in a file."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.port = int(env["RECONCILER_DAEMON__HEALTH_PORT"])
        self.log_path = log_path
        self._out = log_path.open("w")
        self.proc = subprocess.Popen(
            argv, env=env, cwd=REPO, stdout=self._out, stderr=subprocess.STDOUT, text=True
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        found = []
        for line in self.text().splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    event = json.loads(line)
                    if name is None or event.get("event") == name:
                        found.append(event)
        return found

    def wait_event(self, name: str, count: int = 1, timeout: float = 60.0) -> dict[str, Any]:
        def seen() -> Any:
            assert self.proc.poll() is None or len(self.events(name)) >= count, (
                f"the daemon exited {self.proc.returncode} before {name}: {self.text()[-3000:]}"
            )
            events = self.events(name)
            return events[count - 1] if len(events) >= count else None

        return wait_for(seen, timeout)

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        return self.proc.returncode


@dataclass
class Life:
    qbo: QBOEmulator
    lum: LuminousEmulator
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    stamp: datetime = field(
        default_factory=lambda: datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    )
    daemons: list[Daemon] = field(default_factory=list)

    @property
    def token_path(self) -> Path:
        return Path(self.env["RECONCILER_QBO__TOKEN_STORE"])

    @property
    def state_path(self) -> Path:
        return Path(self.env["RECONCILER_STATE__PATH"])

    # --- Luminous data --------------------------------------------------------------------

    def next_stamp(self) -> datetime:
        self.stamp += timedelta(seconds=1)
        return self.stamp

    def po(
        self, supplier: str = "Nutricost", qty: str = "10", *, lines: int = 1, **fields: Any
    ) -> dict[str, Any]:
        sup = self.lum.add_supplier(supplier)
        items = []
        for n in range(1, lines + 1):
            prod = self.lum.add_product(f"Whey {supplier} {n}", f"SKU-{supplier[:6]}-{n}")
            items.append({"product_id": prod["id"], "quantity": qty, "unit_price": "42.50"})
        record = {
            "supplier_id": sup["id"],
            "order_status": "active",
            "approval_status": "approved",
            "items": items,
            **fields,
        }
        return self.lum.create_po(record, updated_at=self.next_stamp())

    def edit(self, po_id: int, **changes: Any) -> dict[str, Any]:
        return self.lum.edit_po(po_id, changes, updated_at=self.next_stamp())

    def bill(self, po: dict[str, Any], number: str, **fields: Any) -> dict[str, Any]:
        """A posted Luminous bill for every line of `po` (bill_fixtures.bill's shape)."""
        items = [
            {"purchase_order_id": po["id"], "purchase_order_item_id": line["id"]}
            for line in po["items"]
        ]
        record = {
            "status": "posted",
            "vendor_id": po["supplier_id"],
            "bill_number": number,
            "items": items,
            **fields,
        }
        return self.lum.bills.create(record, updated_at=self.next_stamp())

    def qbo_notes(self) -> set[str]:
        return {p.get("PrivateNote") or "" for p in self.qbo.objects("PurchaseOrder")}

    # --- the QuickBooks connection ----------------------------------------------------------

    def connect(self) -> None:
        """What `reconciler auth connect` stores, without the browser."""
        from reconciler.app.demo import connect as demo_connect
        from reconciler.config.loader import load_settings

        demo_connect(self.qbo, load_settings(None, self.env))

    def stored_tokens(self, path: Path | None = None) -> dict[str, Any]:
        return json.loads((path or self.token_path).read_text())

    def access_expires_in(self, seconds: float, path: Path | None = None) -> None:
        """Rewrite the stored pair's access expiry (the client's own clock), as an hour's
        wait would; when it is past, the emulator's clock moves on so QBO agrees."""
        path = path or self.token_path
        data = self.stored_tokens(path)
        data["access_expires_at"] = (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()
        path.write_text(json.dumps(data))
        if seconds <= 0:
            self.qbo.advance_clock(2 * 3600)

    # --- children ----------------------------------------------------------------------------

    def cli(
        self,
        *args: str,
        crash_at: str | None = None,
        timeout: float = 90,
        prefix: list[str] | None = None,
        **extra: str,
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **extra}
        if crash_at:
            env["RECONCILER_CRASH_AT"] = crash_at
        proc = subprocess.run(
            [*(prefix or []), sys.executable, "-m", "reconciler", *args],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        CAPTURED.output(f"{args[:2]} stdout", proc.stdout)  # for the suite's sentinel scan
        CAPTURED.output(f"{args[:2]} stderr", proc.stderr)
        return proc

    def daemon(self, *, prefix: list[str] | None = None, name: str = "daemon", **extra: str):
        env = {**self.env, "RECONCILER_DAEMON__HEALTH_PORT": str(free_port()), **extra}
        argv = [*(prefix or []), sys.executable, "-m", "reconciler", "run"]
        daemon = Daemon(argv, env, self.workdir / f"{name}.log")
        self.daemons.append(daemon)
        return daemon

    def health(self, port: int, method: str = "GET") -> requests.Response:
        return requests.request(method, f"http://127.0.0.1:{port}/healthz", timeout=5)


def environment(qbo: QBOEmulator, lum: LuminousEmulator, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    env.update(
        {
            "RECONCILER_LUMINOUS__BASE_URL": lum.base_url,
            "RECONCILER_LUMINOUS__API_TOKEN": LUMINOUS_TOKEN,
            "RECONCILER_LUMINOUS__SETTLE_LAG": "0",
            "RECONCILER_LUMINOUS__TIMEOUT": "5s",
            "RECONCILER_QBO__ENVIRONMENT": qbo.discovery_url,
            "RECONCILER_QBO__BASE_URL": qbo.api_base,
            "RECONCILER_QBO__REALM_ID": qbo.realm_id,
            "RECONCILER_QBO__CLIENT_ID": qbo.client_id,
            "RECONCILER_QBO__CLIENT_SECRET": CLIENT_SECRET,
            "RECONCILER_QBO__TOKEN_STORE": str(workdir / "var" / "tokens.json"),
            "RECONCILER_QBO__TIMEOUT": "5s",
            "RECONCILER_QBO__THROTTLE_WAIT": "1s",
            "RECONCILER_STATE__PATH": str(workdir / "var" / "state.sqlite"),
            "RECONCILER_ACCOUNTS__AP": "Accounts Payable (A/P)",
            "RECONCILER_SYNC__POLL_INTERVAL": "1s",
            "RECONCILER_SYNC__BACKOFF_BASE": "0.05",
            "RECONCILER_SYNC__BACKOFF_CAP": "0.2",
            "RECONCILER_DAEMON__HEALTH_PORT": "0",
            "RECONCILER_STATUS_PAGE__ENABLED": "false",
        }
    )
    return env


@contextmanager
def life(
    workdir: Path, *, qbo_options: dict[str, Any] | None = None, lum_options: dict | None = None
) -> Iterator[Life]:
    """The suite's `world` (both emulators, QBO's default company), configured as an operator
    runs the daemon: state and tokens under `var/`, passes every second, health on a port."""
    with world(workdir, qbo_options=qbo_options, lum_options=lum_options) as w:
        (workdir / "var").mkdir(parents=True, exist_ok=True)
        lived = Life(w.qbo, w.lum, workdir, environment(w.qbo, w.lum, workdir))
        try:
            yield lived
        finally:
            for daemon in lived.daemons:
                daemon.stop(timeout=5)
                CAPTURED.output(f"daemon log {daemon.log_path.name}", daemon.text())
            CAPTURED.tokens_from(lived.token_path)


# --- a small disk ------------------------------------------------------------------------------


class SmallDisk:
    """A tmpfs of `size` mounted at `mount` in a private mount namespace, held open by a
    sleeping process; children run inside it (`prefix`: nsenter) and see a real filesystem
    that fills up (ENOSPC from the kernel). This process reaches it through /proc."""

    def __init__(self, mount: Path, *, size: str = "8m", seed: Path | None = None) -> None:
        self.mount = mount
        self.size = size
        self.seed = seed  # copied onto the tmpfs first
        self.holder: subprocess.Popen[str] | None = None

    def __enter__(self) -> SmallDisk:
        copy = f'cp -a "{self.seed}/." "{self.mount}/" && ' if self.seed else ""
        script = (
            f'mount -t tmpfs -o size={self.size},mode=0755 tmpfs "{self.mount}" && {copy}'
            "echo ready && exec sleep 3600"
        )
        self.holder = subprocess.Popen(
            ["unshare", "-rm", "--propagation", "private", "sh", "-c", script],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.holder.stdout.readline() if self.holder.stdout else ""
        assert line.strip() == "ready", (
            "these tests mount a small tmpfs in a private mount namespace (`unshare -rm`), "
            f"which this machine refused: {self.holder.stderr.read() if self.holder.stderr else ''}"
        )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.holder is not None:
            self.holder.kill()
            self.holder.wait()

    def prefix(self) -> list[str]:
        """Run a command on the small disk (in the holder's mount namespace)."""
        assert self.holder is not None
        pid = str(self.holder.pid)
        return ["nsenter", "-t", pid, "-m", "-U", "--preserve-credentials"]

    def path(self, name: str) -> Path:
        """`name` on the small disk, as this process reaches it."""
        assert self.holder is not None
        return Path(f"/proc/{self.holder.pid}/root{self.mount}") / name

    def fill(self) -> None:
        """Every free page taken: the next block any writer needs is ENOSPC."""
        for name, chunk in ((".filler", 65536), (".filler-small", 512)):
            with self.path(name).open("wb", buffering=0) as f, contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * chunk)

    def free(self) -> None:
        for name in (".filler", ".filler-small"):
            with contextlib.suppress(FileNotFoundError):
                self.path(name).unlink()


# --- a webhook -----------------------------------------------------------------------------------


class Webhook:
    """A webhook receiver on 127.0.0.1 that keeps what it is sent (and when). `trickle`: it
    answers one byte a second, for a minute and more, as a stuck proxy or server does."""

    def __init__(self, *, trickle: bool = False) -> None:
        self.trickle = trickle
        self.received: list[tuple[float, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}/services/T1/B2/secret-hook"
        self._stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def texts(self) -> list[str]:
        with self._lock:
            return [message.get("text", "") for _, message in self.received]

    def stop(self) -> None:
        self._stopping = True
        self._server.close()

    def _accept(self) -> None:
        while not self._stopping:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            while len(body) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                body += chunk
            with self._lock:
                self.received.append((time.monotonic(), json.loads(body)))
            answer = b"HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n" + b"o" * 60
            try:
                if not self.trickle:
                    conn.sendall(answer)
                    return
                for byte in answer:
                    conn.sendall(bytes([byte]))
                    time.sleep(1.0)
            except OSError:
                return  # the client gave up


# --- a gateway that mangles answers --------------------------------------------------------------


class Gateway:
    """An HTTP proxy on 127.0.0.1 in front of the QBO emulator's API. `answer(method, path,
    body)` may return a (status, JSON) to send instead of forwarding; `rewrite(method, path,
    status, JSON)` may change what the emulator answered. Either returns None to pass."""

    def __init__(self, upstream: str) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.upstream = upstream.rstrip("/")
        self.answer: Callable[[str, str, Any], Any] = lambda method, path, body: None
        self.rewrite: Callable[[str, str, int, Any], Any] = lambda m, p, s, body: None
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                gateway._serve(self)

            do_POST = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v3/company"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, handler: Any) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body = _json_or_none(raw)
        path = handler.path.split("?")[0]
        replaced = self.answer(handler.command, path, body)
        if replaced is not None:
            status, payload = replaced
        else:
            headers = {k: v for k, v in handler.headers.items() if k.lower() != "host"}
            upstream = requests.request(
                handler.command,
                self.upstream + handler.path.removeprefix("/v3/company"),
                data=raw,
                headers=headers,
                timeout=30,
            )
            status, payload = upstream.status_code, _json_or_none(upstream.content)
            changed = self.rewrite(handler.command, path, status, payload)
            payload = changed if changed is not None else payload
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
