"""The token source against the QBO emulator's token endpoint, through the real intuit-oauth:
two processes' worth of token sources on one store, a store changed behind a source's back,
a save a killed process left half done, and Intuit's two readings of rotation.

Intuit: "always store and use the LATEST refresh token returned" (its OAuth FAQ); its
oauth-jsclient README: "your previous refresh tokens expire 24 hours after you receive a new
one" (the emulator's `refresh_grace`; 0, its default, retires one at once).
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.app import wiring
from reconciler.config.loader import load_settings
from reconciler.qbo.auth import FileTokenStore, OAuthTokenSource, Tokens
from reconciler.sandbox.qbo.server import FaultRule, QBOEmulator


@pytest.fixture
def emu():
    emulator = QBOEmulator().start(port=0)
    yield emulator
    emulator.stop()


def _settings(emu, tmp_path):
    env = {
        "RECONCILER_QBO__ENVIRONMENT": emu.discovery_url,
        "RECONCILER_QBO__BASE_URL": emu.api_base,
        "RECONCILER_QBO__REALM_ID": emu.realm_id,
        "RECONCILER_QBO__CLIENT_ID": emu.client_id,
        "RECONCILER_QBO__CLIENT_SECRET": emu.client_secret,
        "RECONCILER_QBO__TOKEN_STORE": str(tmp_path / "tokens.json"),
        "RECONCILER_LUMINOUS__BASE_URL": "http://127.0.0.1:9/api",
        "RECONCILER_LUMINOUS__API_TOKEN": "x",
    }
    return load_settings(None, env)


def _connected(emu, tmp_path, *, access_left: timedelta):
    settings = _settings(emu, tmp_path)
    grant = emu.issue_tokens()
    now = datetime.now(UTC)
    tokens = Tokens(
        grant["access_token"],
        grant["refresh_token"],
        now + access_left,
        now + timedelta(days=100),
        emu.realm_id,
    )
    FileTokenStore(settings.qbo.token_store).save(tokens)
    return settings


def _source(settings, events=None):
    return OAuthTokenSource(
        wiring.auth_client_factory(settings),
        wiring.token_store(settings),
        clock=lambda: datetime.now(UTC),
        on_event=(lambda e, **f: events.append(e)) if events is not None else None,
    )


def test_a_source_holding_a_retired_pair_takes_the_newer_one_from_the_store(emu, tmp_path):
    """Case 1 in one process: two sources (a daemon and a `doctor`) read the same pair; one
    refreshes; the other then finds the newer pair under the lock instead of spending its
    retired refresh token (which would answer invalid_grant)."""
    settings = _connected(emu, tmp_path, access_left=timedelta(minutes=2))  # refresh due
    daemon, doctor = _source(settings), _source(settings)
    held = daemon.tokens()  # the daemon read the pair before
    fresh = doctor.access_token()
    assert doctor.refresh_count == 1 and fresh != held.access_token
    assert daemon.access_token() == fresh  # no refresh of its own, no invalid_grant
    assert daemon.refresh_count == 0


def test_invalid_grant_reads_the_store_again_and_tries_once_more(emu, tmp_path):
    """Another tool (one that takes no lock) rotated the pair and stores the new one while our
    refresh, from the pair it read, is under way: Intuit answers invalid_grant; the store is
    read again, holds a newer pair, and that one is used; no `auth connect`."""
    settings = _connected(emu, tmp_path, access_left=timedelta(minutes=2))
    store = FileTokenStore(settings.qbo.token_store)
    old = store.load()
    grant = emu.auth.refresh(old.refresh_token)  # the other tool's refresh: old is retired
    newer = Tokens.from_grant(grant, now=datetime.now(UTC), realm_id=emu.realm_id)
    emu.add_fault(FaultRule(path_regex=r"/oauth2/v1/tokens/bearer", action="latency", latency=1.0))
    saved = threading.Timer(0.5, lambda: store.save(newer))  # ...and stores it meanwhile
    saved.start()
    events: list[str] = []
    source = _source(settings, events)
    token = source.access_token()
    saved.join()
    assert "token_refresh_retried" in events
    assert token == newer.access_token
    assert source.refresh_count == 0  # the newer pair was fresh: taken as it is


def test_a_save_left_half_done_is_finished_by_the_next_refresh(emu, tmp_path):
    """A killed process wrote and synced the new pair beside the store but did not rename it:
    the next refresh puts it in place rather than spend the retired refresh token."""
    settings = _connected(emu, tmp_path, access_left=timedelta(minutes=2))
    store = FileTokenStore(settings.qbo.token_store)
    old = store.load()
    grant = emu.auth.refresh(old.refresh_token)  # Intuit answered; old is retired now
    now = datetime.now(UTC)
    new = Tokens.from_grant(grant, now=now, realm_id=emu.realm_id)
    reservation = store.reserve()
    os.pwrite(reservation._fd, store.encode(new), 0)  # written and synced, not renamed
    os.fsync(reservation._fd)
    os.close(reservation._fd)
    source = _source(settings)
    assert source.access_token() == new.access_token
    assert source.refresh_count == 0
    assert store.load() == new
    assert not list(tmp_path.glob(".tokens.json.*.tmp"))


@pytest.mark.parametrize("grace", [0, 24 * 3600])
def test_the_emulator_retires_a_used_refresh_token_at_once_or_after_the_grace(grace):
    emulator = QBOEmulator(refresh_grace=grace).start(port=0)
    try:
        first = emulator.issue_tokens()["refresh_token"]
        second = emulator.auth.refresh(first)["refresh_token"]
        assert second != first
        if grace:
            assert emulator.auth.refresh(first)["refresh_token"] not in (first, second)
            emulator.advance_clock(grace + 1)
        from reconciler.sandbox.qbo.auth import OAuthError

        with pytest.raises(OAuthError) as refused:
            emulator.auth.refresh(first)
        assert refused.value.error == "invalid_grant"
    finally:
        emulator.stop()
