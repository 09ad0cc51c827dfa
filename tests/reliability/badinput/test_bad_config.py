"""Broken configurations stop `reconciler run --once` at start: exit 2, one clear line each.

The command is configured by RECONCILER_* variables and (here) a TOML file; nothing may be
read, written or created before the configuration is known to be good. Each case runs the
CLI's `main` in process (the same code as the command, without an interpreter's start); one
runs as the command itself, a child process, for the exit code a shell sees.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from reliability_kit import CAPTURED, CLIENT_SECRET, LUMINOUS_TOKEN, run_once

from reconciler.app.cli import main

BASE = {
    "RECONCILER_LUMINOUS__BASE_URL": "http://127.0.0.1:9/external/api/v1",
    "RECONCILER_LUMINOUS__API_TOKEN": LUMINOUS_TOKEN,
    "RECONCILER_QBO__ENVIRONMENT": "http://127.0.0.1:9/.well-known/openid_configuration/",
    "RECONCILER_QBO__BASE_URL": "http://127.0.0.1:9/v3/company",
    "RECONCILER_QBO__REALM_ID": "9341453172",
    "RECONCILER_QBO__CLIENT_ID": "emu-client",
    "RECONCILER_QBO__CLIENT_SECRET": CLIENT_SECRET,
}


def _env(tmp_path: Path, drop=(), **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    env.update({k: v for k, v in BASE.items() if k not in drop})
    env["RECONCILER_STATE__PATH"] = str(tmp_path / "state.sqlite")
    env["RECONCILER_QBO__TOKEN_STORE"] = str(tmp_path / "tokens.json")
    env.update(extra)
    return env


def _toml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "reconciler.toml"
    path.write_text(text)
    return str(path)


CONFIGS = [
    (
        "toml-invalid-line-3",
        lambda p: _env(
            p, RECONCILER_CONFIG=_toml(p, '[sync]\npoll_interval = "60s"\nbroken line\n')
        ),
        ["invalid TOML", "line 3"],
    ),
    (
        "secrets-missing",
        lambda p: _env(p, drop=("RECONCILER_LUMINOUS__API_TOKEN", "RECONCILER_QBO__CLIENT_SECRET")),
        ["luminous.api_token is missing", "qbo.client_secret is missing", "2 problem(s)"],
    ),
    (
        "secret-file-missing",
        lambda p: _env(
            p,
            drop=("RECONCILER_QBO__CLIENT_SECRET",),
            RECONCILER_QBO__CLIENT_SECRET_FILE=str(p / "nowhere" / "secret"),
        ),
        ["cannot read secret file"],
    ),
    (
        "secret-file-empty",
        lambda p: _env(
            p,
            drop=("RECONCILER_QBO__CLIENT_SECRET",),
            RECONCILER_QBO__CLIENT_SECRET_FILE=_toml(p, "\n"),
        ),
        ["is empty"],
    ),
    (
        "unknown-key-did-you-mean",
        lambda p: _env(p, RECONCILER_CONFIG=_toml(p, '[luminous]\nsettle_lagg = "30s"\n')),
        ["unknown key luminous.settle_lagg", "settle_lag"],
    ),
    (
        "unknown-section",
        lambda p: _env(p, RECONCILER_CONFIG=_toml(p, "[quickbooks]\nrealm_id = '1'\n")),
        ["unknown section [quickbooks]"],
    ),
    (
        "base-url-not-http",
        lambda p: _env(p, RECONCILER_LUMINOUS__BASE_URL="ftp://luminous.example"),
        ["must be an http(s) URL"],
    ),
    (
        "minorversion-too-old",
        lambda p: _env(p, RECONCILER_QBO__MINORVERSION="65"),
        ["minorversion 65 is below 75"],
    ),
    (
        "home-currency-unknown",
        lambda p: _env(p, RECONCILER_QBO__HOME_CURRENCY="XYZ"),
        ["ISO 4217"],
    ),
    (
        "duration-garbled",
        lambda p: _env(p, RECONCILER_SYNC__POLL_INTERVAL="every now and then"),
        ["expected a duration"],
    ),
]


@pytest.mark.parametrize(("name", "make_env", "expected"), CONFIGS, ids=[c[0] for c in CONFIGS])
def test_bad_configuration_is_a_clear_startup_error(
    tmp_path, monkeypatch, capsys, name, make_env, expected
):
    """Exit 2 before any work, with every problem named; no state file is created."""
    monkeypatch.chdir(tmp_path)  # (as the command runs: no configuration file but the case's)
    for key in [k for k in os.environ if k.startswith("RECONCILER_")]:
        monkeypatch.delenv(key)
    for key, value in make_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    code = main(["run", "--once"])
    stderr = capsys.readouterr().err
    CAPTURED.output(f"config {name}", stderr)
    assert code == 2, stderr
    for text in expected:
        assert text in stderr, f"{text!r} not in {stderr!r}"
    assert not (tmp_path / "state.sqlite").exists()


def test_a_bad_configuration_exits_2_from_the_command_line(tmp_path):
    """The command itself, as a shell runs it: exit 2, the problems on stderr, no traceback,
    no state file."""
    _name, make_env, expected = CONFIGS[1]  # two problems at once
    proc = run_once(make_env(tmp_path), label="config from the command line", timeout=60)
    assert proc.returncode == 2, proc.stderr
    for text in expected:
        assert text in proc.stderr, f"{text!r} not in {proc.stderr!r}"
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "state.sqlite").exists()
