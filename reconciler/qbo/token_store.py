"""Where the QBO tokens live: one private file, written so that a rotated pair is never lost.

Intuit rotates refresh tokens: a refresh answers a new refresh token and retires the one used
(Intuit's FAQ: "use the latest refresh_token returned to you from the previous request"), so
the newest pair must reach the disk before anything else happens. What this file guarantees:

- **Known writable before a refresh token is spent** (`reserve`): the file that will hold the
  new pair is created beside the store and filled with `RESERVED_BYTES` before the refresh is
  asked for, and synced. A full disk or a read-only directory is found then, while the stored
  refresh token is still the live one; `commit` later overwrites those bytes in place (no new
  blocks on ext4 or XFS) and renames the file over the store.
- **Atomic replace**: readers see the old pair or the new one, never half a file; a process
  killed after writing the new pair and before the rename leaves it in the reservation, and
  the next refresh puts it in place (`recover`) instead of spending a retired token.
- **One refresh at a time across processes** (`lock`): `flock` on `<store>.lock`, so a daemon,
  `run --once --dry-run` and `doctor` never spend the same refresh token twice.
- **No symlink followed**: the store and its lock are opened with `O_NOFOLLOW`; a link where
  the store should be is refused with a message that says so. Permissions are set only on what
  this process creates (the file 0600, a new directory 0700).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from reconciler import errors
from reconciler.crashpoints import crash_point

RESERVED_BYTES = 16 * 1024  # a token pair is about 2 KiB; encrypted, about 3
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
LOCK_POLL_S = 0.05


@dataclass(frozen=True)
class Tokens:
    """One connection's tokens and when they expire (aware UTC); repr shows no secrets."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_expires_at: datetime
    refresh_expires_at: datetime
    realm_id: str

    def to_json(self) -> dict[str, str]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "access_expires_at": self.access_expires_at.isoformat(),
            "refresh_expires_at": self.refresh_expires_at.isoformat(),
            "realm_id": self.realm_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tokens:
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]),
            access_expires_at=_aware(datetime.fromisoformat(data["access_expires_at"])),
            refresh_expires_at=_aware(datetime.fromisoformat(data["refresh_expires_at"])),
            realm_id=str(data["realm_id"]),
        )

    @classmethod
    def from_grant(cls, answer: Any, *, now: datetime, realm_id: str) -> Tokens:
        """From an AuthClient after a grant (or any object/dict with the token fields)."""

        def value(name: str) -> Any:
            return answer.get(name) if isinstance(answer, dict) else getattr(answer, name, None)

        access, refresh = value("access_token"), value("refresh_token")
        if not access or not refresh:
            raise TokenRefreshUnavailable("the token endpoint answered without tokens")
        return cls(
            access_token=str(access),
            refresh_token=str(refresh),
            access_expires_at=now + timedelta(seconds=int(value("expires_in") or 3600)),
            refresh_expires_at=now
            + timedelta(seconds=int(value("x_refresh_token_expires_in") or 8726400)),
            realm_id=str(realm_id),
        )


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("stored token times must carry a zone")
    return moment


# --- errors ----------------------------------------------------------------------------


class TokenRefreshUnavailable(errors.Retryable):
    """The token endpoint is down, throttling or unreachable: try the pass again later."""


class TokenStoreError(errors.Fatal):
    """The token file cannot be read or written; nothing is refreshed until it can."""


class TokenStoreFull(TokenRefreshUnavailable):
    """No room to save a new pair: nothing is refreshed (the stored refresh token stays the
    live one) until space is freed; the pass waits, the daemon does not stop."""


def _store_error(action: str, path: Path, exc: OSError) -> errors.ReconcilerError:
    """One line naming the path and the fix (the fix also as `.fix`, for alerts)."""
    error: errors.ReconcilerError
    if exc.errno in DISK_FULL:
        fix = f"free space on the filesystem of {path.parent}"
        error = TokenStoreFull(
            f"cannot {action} the token file {path}: the disk is full; {fix} (nothing was "
            "refreshed: the stored tokens are still the live ones)",
            code="disk_full",
            fix=fix,
        )
    elif exc.errno == errno.ELOOP:
        fix = "set qbo.token_store to the real file"
        error = TokenStoreError(
            f"the token file {path} is a symbolic link; refusing to follow it: {fix}",
            code="token_store_symlink",
            fix=fix,
        )
    else:
        fix = f"give this user write access to {path.parent}, or set qbo.token_store elsewhere"
        error = TokenStoreError(
            f"cannot {action} the token file {path}: {exc.strerror}; {fix}",
            code="token_store",
            fix=fix,
        )
    return error


# --- stores ----------------------------------------------------------------------------


class TokenStore(Protocol):
    def load(self) -> Tokens | None: ...

    def save(self, tokens: Tokens) -> None: ...

    def reserve(self) -> Any: ...  # a Reservation: commit(tokens), release()

    def lock(self, timeout: float) -> contextlib.AbstractContextManager[None]: ...

    def recover(self) -> bool: ...  # finish a save a killed process left (lock held)


class MemoryReservation:
    def __init__(self, store: MemoryTokenStore) -> None:
        self._store = store

    def commit(self, tokens: Tokens) -> None:
        self._store.save(tokens)

    def release(self) -> None:
        return None


class MemoryTokenStore:
    """For tests and the demo: keeps the last saved tokens and how many saves there were."""

    def __init__(self, tokens: Tokens | None = None) -> None:
        self._tokens = tokens
        self.saves = 0

    def load(self) -> Tokens | None:
        return self._tokens

    def save(self, tokens: Tokens) -> None:
        self._tokens = tokens
        self.saves += 1

    def reserve(self) -> MemoryReservation:
        return MemoryReservation(self)

    def recover(self) -> bool:
        return False

    @contextlib.contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        yield


class Reservation:
    """A synced file beside the store, big enough for a pair: where the next pair goes."""

    def __init__(self, store: FileTokenStore, fd: int, temp: str) -> None:
        self._store, self._fd, self._temp = store, fd, temp

    def commit(self, tokens: Tokens) -> None:
        """Write the pair over the reserved bytes, sync, and rename it over the store."""
        path = self._store.path
        data = self._store.encode(tokens)
        try:
            os.pwrite(self._fd, data, 0)
            os.ftruncate(self._fd, len(data))
            os.fsync(self._fd)
            crash_point("token_saving")
            os.close(self._fd)
            self._fd = -1
            os.replace(self._temp, path)
        except OSError as exc:
            self.release()
            raise _store_error("write", path, exc) from None
        _fsync_directory(path.parent)

    def release(self) -> None:
        """Give the reservation back (no pair to save after all)."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
        with contextlib.suppress(OSError):
            os.unlink(self._temp)


class FileTokenStore:
    """Tokens as JSON in one file: atomic replace, mode 0600, a new directory 0700.

    With `key` (a Fernet key, `cryptography.fernet.Fernet.generate_key()`), the file holds
    the Fernet token of the JSON instead; `cryptography` is then imported (lazily).
    """

    def __init__(self, path: str | os.PathLike[str], *, key: bytes | str | None = None) -> None:
        self.path = Path(path)
        self._fernet = _fernet(key) if key is not None else None

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r}, encrypted={self._fernet is not None})"

    @property
    def lock_path(self) -> Path:
        return Path(f"{self.path}.lock")

    def load(self) -> Tokens | None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _store_error("read", self.path, exc) from None
        try:
            with os.fdopen(fd, "rb") as stream:
                raw = stream.read()
        except OSError as exc:
            raise _store_error("read", self.path, exc) from None
        try:
            if self._fernet is not None:
                raw = self._fernet.decrypt(raw)
            return Tokens.from_json(json.loads(raw))
        except Exception:
            # never chain: the cause could quote the file's contents
            raise TokenStoreError(
                f"token file {self.path} is unreadable (corrupt, or the wrong key); "
                "run `reconciler auth connect` to start over"
            ) from None

    def encode(self, tokens: Tokens) -> bytes:
        data = json.dumps(tokens.to_json()).encode("utf-8")
        return self._fernet.encrypt(data) if self._fernet is not None else data

    def reserve(self) -> Reservation:
        """Room for the next pair, proven now (see the module docstring)."""
        directory = self._directory()
        if self.path.is_symlink():
            raise _store_error("write", self.path, OSError(errno.ELOOP, "symbolic link"))
        try:
            fd, temp = tempfile.mkstemp(dir=directory, prefix=self._temp_prefix, suffix=".tmp")
        except OSError as exc:
            raise _store_error("write", self.path, exc) from None
        try:
            os.write(fd, b"\0" * RESERVED_BYTES)
            os.fsync(fd)
        except OSError as exc:
            Reservation(self, fd, temp).release()
            raise _store_error("write", self.path, exc) from None
        return Reservation(self, fd, temp)

    def save(self, tokens: Tokens) -> None:
        self.reserve().commit(tokens)

    @property
    def _temp_prefix(self) -> str:
        return f".{self.path.name}."

    def recover(self) -> bool:
        """Finish the save a killed process left half done (call with `lock` held: then no
        live process has a reservation). A reservation holding a whole pair newer than the
        stored one is that pair, written and synced but not renamed: it goes into place (cut
        to its length first: a kill may have come before the reservation's zeros were cut).
        Anything else left (zeros, a pair not newer) is removed. True when a pair was kept."""
        stored, _ = self._load_quietly(self.path)
        kept = False
        for temp in sorted(self.path.parent.glob(f"{self._temp_prefix}*.tmp")):
            found, size = self._load_quietly(temp)
            newer = found is not None and (
                stored is None
                or (
                    found.realm_id == stored.realm_id
                    and found.access_expires_at > stored.access_expires_at
                )
            )
            try:
                if newer:
                    os.truncate(temp, size)
                    os.replace(temp, self.path)
                    _fsync_directory(self.path.parent)
                    stored, kept = found, True
                else:
                    temp.unlink()
            except OSError:
                continue  # not ours to tidy (another user's file): left alone
        return kept

    def _load_quietly(self, path: Path) -> tuple[Tokens | None, int]:
        """The pair in a file (trailing zeros of a reservation ignored), and its length."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as stream:
                raw = stream.read().rstrip(b"\0")
            data = self._fernet.decrypt(raw) if self._fernet is not None else raw
            return Tokens.from_json(json.loads(data)), len(raw)
        except Exception:
            return None, 0

    @contextlib.contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        """Hold `<store>.lock` (flock) while the body runs; TokenRefreshUnavailable when
        another process holds it longer than `timeout` seconds."""
        self._directory()
        try:
            fd = os.open(
                self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
            )
        except OSError as exc:
            raise _store_error("lock", self.lock_path, exc) from None
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise TokenRefreshUnavailable(
                            f"another process has held {self.lock_path} for {timeout:g}s "
                            "while refreshing the QuickBooks tokens"
                        ) from None
                    time.sleep(LOCK_POLL_S)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _directory(self) -> Path:
        directory = self.path.parent
        if not directory.exists():
            try:
                directory.mkdir(parents=True, mode=0o700)
                os.chmod(directory, 0o700)  # ours: made just now (umask may have narrowed it)
            except OSError as exc:
                raise _store_error("create the directory of", self.path, exc) from None
        return directory


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fernet(key: bytes | str) -> Any:
    from cryptography.fernet import Fernet  # optional dependency, only with a key

    return Fernet(key.encode() if isinstance(key, str) else key)
