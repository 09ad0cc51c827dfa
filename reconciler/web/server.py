"""An HTTP server that idle, slow or too many clients cannot exhaust.

The stdlib `ThreadingHTTPServer` gives every accepted connection a thread and keeps it for as
long as the client stays silent. A few hundred idle sockets then use up the descriptors, and
when `accept()` fails with EMFILE its loop retries at once and spins a core. Here instead:

- one event-loop thread accepts and reads requests without blocking; a connection that has
  not sent a whole request within `timeout` seconds of being accepted is closed;
- at most `max_connections` are open at once (a quarter of RLIMIT_NOFILE by default, so the
  rest of the process keeps its descriptors); when full, the oldest connection still being
  read is dropped to make room, so a flood of idle sockets cannot shut out `/healthz`;
- complete requests go to a fixed pool of `workers` threads, which run a stdlib
  `BaseHTTPRequestHandler` over the bytes already read and send the answer within `timeout`;
  requests the `priority` test picks (the health probes) have a lane and a thread of their
  own, so a flood of slow page views never queues them;
- `accept()` failing for want of descriptors or memory pauses accepting for
  `ACCEPT_BACKOFF` seconds (and drops the oldest connection being read) instead of retrying.

HTTP/1.0 only: one request per connection, so nothing is ever kept alive.
"""

from __future__ import annotations

import contextlib
import errno
import io
import queue
import re
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

ACCEPT_BACKOFF = 0.1  # seconds without accept() after EMFILE and friends
ACCEPTS_PER_WAKE = 32  # a burst of connections cannot starve reading
MAX_HEAD = 16 * 1024  # request line and headers
MAX_BODY = 64 * 1024  # a form post is a few hundred bytes
OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_HEAD_END = re.compile(rb"\r?\n\r?\n")  # the stdlib parser takes bare LF lines too
_CONTENT_LENGTH = re.compile(rb"\ncontent-length:[ \t]*(\d{1,12})[ \t]*\r?\n", re.IGNORECASE)
_TOO_LARGE = (
    b"HTTP/1.0 413 Content Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 18\r\nConnection: close\r\n\r\nrequest too large\n"
)
_LISTENER, _WAKE = object(), object()


def default_max_connections() -> int:
    """A quarter of the soft descriptor limit, between 8 and 256."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY or soft <= 0:
            soft = 1024
    except (ImportError, OSError, ValueError):
        soft = 1024
    return max(8, min(256, soft // 4))


@dataclass
class Request:
    """One connection and what it has sent so far; `oversized` when over the limits."""

    sock: socket.socket
    address: Any
    deadline: float
    data: bytearray = field(default_factory=bytearray)
    oversized: bool = False

    def complete(self) -> bool:
        """A whole request: the head, and as many body bytes as Content-Length says."""
        head_end = _HEAD_END.search(self.data)
        if head_end is None:
            self.oversized = len(self.data) > MAX_HEAD
            return self.oversized
        head = self.data[: head_end.end()]
        match = _CONTENT_LENGTH.search(head)
        length = int(match.group(1)) if match else 0
        if length > MAX_BODY or len(head) > MAX_HEAD:
            self.oversized = True
            return True
        return len(self.data) >= head_end.end() + length


class BufferedRequestHandler(BaseHTTPRequestHandler):
    """A stdlib handler over a request the event loop has already read: `rfile` is those
    bytes and the answer is sent whole, in one `sendall` bounded by the socket timeout."""

    def setup(self) -> None:
        request: Request = self.request
        self.connection = request.sock
        self.rfile = io.BytesIO(bytes(request.data))
        self.wfile = io.BytesIO()

    def finish(self) -> None:
        answer = self.wfile.getvalue()
        if answer:
            self.connection.sendall(answer)


class BoundedHTTPServer:
    """`serve_forever`, `shutdown` and `server_close` as in `socketserver`, with the limits
    above; `server_address` is the bound address (useful with port 0)."""

    def __init__(
        self,
        address: tuple[str, int],
        handler: Callable[..., Any],
        *,
        workers: int = 4,
        max_connections: int | None = None,
        timeout: float = 5.0,
        backlog: int = 128,
        priority: Callable[[bytes], bool] | None = None,
    ) -> None:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.socket = socket.create_server(address, family=family, backlog=backlog)
        self.socket.setblocking(False)
        self.server_address = self.socket.getsockname()
        self.RequestHandlerClass = handler
        self.timeout = timeout
        self.max_connections = max_connections or default_max_connections()
        self.accept_pauses = 0  # times accept() ran out of descriptors (for tests and logs)
        self._ready: queue.SimpleQueue[Request | None] = queue.SimpleQueue()
        self._urgent: queue.SimpleQueue[Request | None] = queue.SimpleQueue()
        self._priority = priority
        self._workers = [
            threading.Thread(
                target=self._work, args=(self._ready,), name=f"http-worker-{n}", daemon=True
            )
            for n in range(workers)
        ]
        if priority is not None:
            self._workers.append(
                threading.Thread(
                    target=self._work, args=(self._urgent,), name="http-probes", daemon=True
                )
            )
        self._reading: dict[int, Request] = {}  # in accept order: the first is the oldest
        self._lock = threading.Lock()
        self._open = 0  # connections owned: being read, queued or being answered
        self._paused_until = 0.0
        self._listening = False
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._started = False

    # --- the loop -------------------------------------------------------------------------

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._started = True  # before the check: `shutdown` reads them the other way round
        if self._stopping.is_set():
            self._stopped.set()
            return
        for worker in self._workers:
            worker.start()
        try:
            while not self._stopping.is_set():
                self._step(poll_interval)
        finally:
            for request in list(self._reading.values()):
                self._drop(request)
            self._stopped.set()

    def _step(self, poll_interval: float) -> None:
        now = time.monotonic()
        self._listen(now)
        wait = poll_interval
        if self._reading:
            wait = min(wait, next(iter(self._reading.values())).deadline - now)
        if self._paused_until > now:
            wait = min(wait, self._paused_until - now)
        for key, _ in self._selector.select(max(0.0, wait)):
            if key.data is _LISTENER:
                self._accept_some()
            elif key.data is _WAKE:
                self._drain_wake()
            elif self._reading.get(key.fd) is key.data:
                self._read(key.data)
        self._expire(time.monotonic())

    def _listen(self, now: float) -> None:
        """Watch the listening socket only while a connection could be taken: not paused,
        and either below the limit or with a connection being read that can make room."""
        wanted = now >= self._paused_until and (self._has_room() or bool(self._reading))
        if wanted and not self._listening:
            self._selector.register(self.socket, selectors.EVENT_READ, _LISTENER)
        elif not wanted and self._listening:
            self._selector.unregister(self.socket)
        self._listening = wanted

    def _accept_some(self) -> None:
        for _ in range(ACCEPTS_PER_WAKE):
            if not self._has_room() and not self._reading:
                return  # every slot is being answered: the rest wait in the backlog
            try:
                sock, address = self.socket.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in OUT_OF_RESOURCES:
                    self._pause()
                    return
                continue  # ECONNABORTED and the like: that client is gone, take the next
            if not self._has_room():
                self._drop_oldest()  # the longest silent makes room for the newcomer
            sock.setblocking(False)
            request = Request(sock, address, time.monotonic() + self.timeout)
            with self._lock:
                self._open += 1
            self._reading[sock.fileno()] = request
            self._selector.register(sock, selectors.EVENT_READ, request)

    def _pause(self) -> None:
        """Out of descriptors: stop accepting for a moment and free one."""
        self.accept_pauses += 1
        self._paused_until = time.monotonic() + ACCEPT_BACKOFF
        self._drop_oldest()

    def _read(self, request: Request) -> None:
        try:
            chunk = request.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(request)
            return
        request.data += chunk
        if request.complete():
            self._forget(request)
            urgent = self._priority is not None and self._priority(bytes(request.data[:128]))
            (self._urgent if urgent else self._ready).put(request)

    def _expire(self, now: float) -> None:
        """Deadlines grow in accept order, so the expired are at the front."""
        while self._reading:
            oldest = next(iter(self._reading.values()))
            if oldest.deadline > now:
                return
            self._drop(oldest)

    # --- connections ------------------------------------------------------------------------

    def _has_room(self) -> bool:
        with self._lock:
            return self._open < self.max_connections

    def _drop_oldest(self) -> bool:
        if not self._reading:
            return False
        self._drop(next(iter(self._reading.values())))
        return True

    def _forget(self, request: Request) -> None:
        self._reading.pop(request.sock.fileno(), None)
        self._selector.unregister(request.sock)

    def _drop(self, request: Request) -> None:
        self._forget(request)
        self._close(request)

    def _close(self, request: Request) -> None:
        try:
            request.sock.close()
        finally:
            with self._lock:
                self._open -= 1
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # already woken (buffer full), or closing
            self._wake_w.send(b"\0")

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass

    # --- workers ----------------------------------------------------------------------------

    def _work(self, lane: queue.SimpleQueue[Request | None]) -> None:
        while (request := lane.get()) is not None:
            try:
                request.sock.settimeout(self.timeout)
                if request.oversized:
                    request.sock.sendall(_TOO_LARGE)
                else:
                    self.RequestHandlerClass(request, request.address, self)
            except Exception:  # noqa: S110 (a broken client must not end the worker)
                pass
            finally:
                self._close(request)

    # --- stopping ---------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop the loop and wait for it (like `socketserver.BaseServer.shutdown`)."""
        self._stopping.set()
        self._wake()
        if self._started:
            self._stopped.wait(timeout=5)

    def server_close(self) -> None:
        for _ in self._workers:
            self._ready.put(None)
            self._urgent.put(None)
        for worker in self._workers:
            if worker.is_alive():
                worker.join(timeout=2)
        self._selector.close()
        for sock in (self.socket, self._wake_r, self._wake_w):
            sock.close()
