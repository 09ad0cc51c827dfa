"""Token storage: atomic, private, and never showing a token in a repr or message."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta

import pytest

from reconciler import errors
from reconciler.qbo.auth import (
    FileTokenStore,
    MemoryTokenStore,
    OAuthTokenSource,
    StaticTokenSource,
    Tokens,
    TokenStoreError,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
ACCESS = "eyJ.secret-access-token-value"
REFRESH = "RT1-secret-refresh-token-value"


def tokens(access: str = ACCESS, refresh: str = REFRESH, *, expires_in: int = 3600) -> Tokens:
    return Tokens(
        access_token=access,
        refresh_token=refresh,
        access_expires_at=NOW + timedelta(seconds=expires_in),
        refresh_expires_at=NOW + timedelta(days=100),
        realm_id="9341453172",
    )


def test_tokens_repr_hides_secrets():
    """repr() and str() of Tokens show expiry and realm but neither token."""
    for text in (repr(tokens()), str(tokens())):
        assert ACCESS not in text and REFRESH not in text
        assert "9341453172" in text


def test_file_store_round_trip_and_permissions(tmp_path):
    """Saved tokens load back equal; the file is 0600 and a new directory 0700."""
    path = tmp_path / "state" / "qbo" / "tokens.json"
    store = FileTokenStore(path)
    assert store.load() is None
    store.save(tokens())
    assert store.load() == tokens()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["tokens.json"]  # no temp files left


def test_file_store_replaces_atomically(tmp_path):
    """A second save replaces the file (new inode), never appends or truncates in place."""
    path = tmp_path / "tokens.json"
    store = FileTokenStore(path)
    store.save(tokens())
    first_inode = path.stat().st_ino
    store.save(tokens(refresh="RT1-rotated"))
    assert path.stat().st_ino != first_inode
    assert store.load().refresh_token == "RT1-rotated"


def test_file_store_encrypted_with_fernet_key(tmp_path):
    """With a key the file holds no token in clear, and the wrong key cannot read it."""
    from cryptography.fernet import Fernet

    path = tmp_path / "tokens.bin"
    key = Fernet.generate_key()
    FileTokenStore(path, key=key).save(tokens())
    raw = path.read_bytes()
    assert REFRESH.encode() not in raw and ACCESS.encode() not in raw
    assert FileTokenStore(path, key=key).load() == tokens()
    with pytest.raises(TokenStoreError) as info:
        FileTokenStore(path, key=Fernet.generate_key()).load()
    assert REFRESH not in str(info.value)


def test_corrupt_file_is_a_fatal_error_without_contents(tmp_path):
    """A half-written or edited file is reported as unreadable, quoting none of it."""
    path = tmp_path / "tokens.json"
    path.write_text('{"access_token": "' + ACCESS + '", "refresh_tok')
    with pytest.raises(TokenStoreError) as info:
        FileTokenStore(path).load()
    assert isinstance(info.value, errors.Fatal)
    assert ACCESS not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_unwritable_location_is_reported(tmp_path):
    """A save where no file can be created raises TokenStoreError, not a bare OSError."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    with pytest.raises(TokenStoreError):
        FileTokenStore(blocker / "tokens.json").save(tokens())


class RotatingAuthClient:
    """Stands in for intuitlib's AuthClient in the store-failure test (no HTTP involved)."""

    counter = 0

    def refresh(self, refresh_token: str) -> None:
        RotatingAuthClient.counter += 1
        self.access_token = f"access-{self.counter}"
        self.refresh_token = f"refresh-{self.counter}"
        self.expires_in = 3600
        self.x_refresh_token_expires_in = 8726400


class FlakyStore(MemoryTokenStore):
    """Fails the next N saves."""

    def __init__(self, initial: Tokens, failures: int) -> None:
        super().__init__(initial)
        self.failures = failures

    def save(self, tokens: Tokens) -> None:
        if self.failures:
            self.failures -= 1
            raise TokenStoreError("disk full")
        super().save(tokens)


def test_a_rotated_pair_that_cannot_be_saved_is_kept_in_memory_until_it_lands():
    """The old refresh token is retired once Intuit answered: the new pair is used from memory
    (losing it would lose the connection), said to be unsaved, and saved at the next chance;
    the refresh is not done again."""
    events: list[tuple[str, dict]] = []
    store = FlakyStore(tokens(expires_in=60), failures=2)
    source = OAuthTokenSource(
        RotatingAuthClient, store, clock=lambda: NOW, on_event=lambda e, **f: events.append((e, f))
    )
    token = source.access_token()
    assert token.startswith("access-") and source.unsaved
    assert "disk full" in (source.unsaved_reason or "")
    assert store.load().access_token == ACCESS  # the store still holds the old pair
    assert source.save_pending() is False  # the second failure: still in memory
    assert source.access_token() == token  # and still in use
    assert source.save_pending() is True
    assert store.load().access_token == token and not source.unsaved
    assert source.refresh_count == 1  # the kept refresh was saved, not redone
    assert [e for e, _ in events] == ["tokens_unsaved", "tokens_unsaved", "tokens_saved"]
    assert all(ACCESS not in str(f) and token not in str(f) for _, f in events)


def test_no_stored_tokens_means_authorization_lost():
    """An empty store asks the user to connect, a Fatal error."""
    source = OAuthTokenSource(RotatingAuthClient, MemoryTokenStore(), clock=lambda: NOW)
    with pytest.raises(errors.AuthorizationLost):
        source.access_token()


def test_static_source_cannot_refresh_and_hides_its_token():
    """StaticTokenSource gives its token, and a 401 ends in AuthorizationLost."""
    source = StaticTokenSource(ACCESS)
    assert source.access_token() == ACCESS
    assert ACCESS not in repr(source)
    with pytest.raises(errors.AuthorizationLost) as info:
        source.refreshed_after_401(ACCESS)
    assert ACCESS not in str(info.value)
