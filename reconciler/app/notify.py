"""The systemd notify protocol (sd_notify), standard library only.

What systemd documents (sd_notify(3), systemd.service(5)) and this module follows:

- `$NOTIFY_SOCKET` names a unix datagram socket: an absolute path, or `@name` for a socket in
  the abstract namespace (the `@` becomes a leading NUL byte). Unset means "not under a
  service manager": every call here is then a cheap no-op that returns False.
- A message is newline-separated `KEY=VALUE` assignments in one datagram: `READY=1` once
  start-up is complete (Type=notify waits for it), `STATUS=` a one-line human status shown by
  `systemctl status`, `WATCHDOG=1` a keep-alive, `STOPPING=1` when shutdown begins.
- With `WatchdogSec=` set, systemd exports `$WATCHDOG_USEC` (and `$WATCHDOG_PID`); the service
  must send `WATCHDOG=1` more often than that, and sd_watchdog_enabled() advises every half.
  A `$WATCHDOG_PID` naming another process means the watchdog is not ours.
- Failing to notify never fails the service: errors are swallowed and reported as False.
  With the default `NotifyAccess=main` only the main process may notify; any thread of it may.

Other socket families systemd has grown (`vsock:`) are not supported and count as unset.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping
from datetime import timedelta


def socket_address(value: str | None) -> str | bytes | None:
    """The address to send to for a `$NOTIFY_SOCKET` value, or None if unusable."""
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None


def one_line(text: str) -> str:
    """STATUS= must be a single line; newlines would start a new assignment."""
    return " ".join(text.split())


class Notifier:
    """Sends sd_notify messages; a no-op when not started by systemd (or a test)."""

    def __init__(
        self,
        notify_socket: str | None,
        *,
        watchdog_usec: str | None = None,
        watchdog_pid: str | None = None,
        pid: int | None = None,
    ) -> None:
        self._address = socket_address(notify_socket)
        self._watchdog = _watchdog_interval(watchdog_usec, watchdog_pid, pid or os.getpid())
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        return cls(
            env.get("NOTIFY_SOCKET"),
            watchdog_usec=env.get("WATCHDOG_USEC"),
            watchdog_pid=env.get("WATCHDOG_PID"),
        )

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def watchdog_interval(self) -> timedelta | None:
        """WatchdogSec as systemd told us, or None when no watchdog watches this process."""
        return self._watchdog if self.enabled else None

    def send(self, **fields: str) -> bool:
        """Send one datagram of KEY=VALUE lines; True if the socket took it."""
        if self._address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    self._sock.setblocking(False)  # never hang the daemon on a full socket
                self._sock.sendto(message, self._address)
            except OSError:
                return False
        return True

    def ready(self, status: str | None = None) -> bool:
        if status is None:
            return self.send(READY="1")
        return self.send(READY="1", STATUS=one_line(status))

    def status(self, text: str) -> bool:
        return self.send(STATUS=one_line(text))

    def watchdog(self) -> bool:
        return self.send(WATCHDOG="1")

    def stopping(self, status: str | None = None) -> bool:
        if status is None:
            return self.send(STOPPING="1")
        return self.send(STOPPING="1", STATUS=one_line(status))

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


def _watchdog_interval(usec: str | None, for_pid: str | None, pid: int) -> timedelta | None:
    if not usec:
        return None
    try:
        micros = int(usec)
        if for_pid and int(for_pid) != pid:
            return None
    except ValueError:
        return None
    return timedelta(microseconds=micros) if micros > 0 else None
