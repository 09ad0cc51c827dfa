"""Issue 32, case 7: the state file, its lock and the token store are never followed through
a symbolic link; permissions are set only on files the process created; `status` and
`doctor` create and change nothing. Every command runs as a child process."""

from __future__ import annotations

import os
import stat

import pytest
from life_kit import life


def _fingerprint(path):
    st = path.stat()
    return path.read_bytes(), stat.S_IMODE(st.st_mode), st.st_mtime_ns


@pytest.mark.parametrize(
    "command",
    [("status",), ("doctor",), ("run", "--once"), ("run", "--once", "--dry-run")],
    ids=["status", "doctor", "run-once", "dry-run"],
)
@pytest.mark.parametrize("target_holds", [b"", b"someone's own data\n"], ids=["empty", "data"])
def test_a_symlinked_state_file_is_refused_and_its_target_untouched(
    tmp_path, command, target_holds
):
    """Before: even `status` chmodded the target to 0600 and an empty target became a
    126,976-byte SQLite database. After: every command refuses the link in one line, and the
    file it points to is as it was (bytes, mode, time)."""
    with life(tmp_path) as w:
        w.connect()
        target = tmp_path / "someone-elses-file"
        target.write_bytes(target_holds)
        os.chmod(target, 0o644)
        before = _fingerprint(target)
        w.state_path.symlink_to(target)
        proc = w.cli(*command)
        said = proc.stdout + proc.stderr
        assert proc.returncode == 2, said[-2000:]
        assert "symbolic link" in said and "Traceback" not in said
        assert _fingerprint(target) == before


def test_a_symlinked_token_store_or_lock_is_refused(tmp_path):
    with life(tmp_path) as w:
        w.connect()
        w.po()
        real = w.token_path.read_bytes()
        elsewhere = tmp_path / "elsewhere.json"
        elsewhere.write_bytes(real)
        w.token_path.unlink()
        w.token_path.symlink_to(elsewhere)
        proc = w.cli("run", "--once")
        said = proc.stdout + proc.stderr
        assert proc.returncode == 2 and "token file" in said and "symbolic link" in said
        assert elsewhere.read_bytes() == real
        w.token_path.unlink()
        w.token_path.write_bytes(real)
        lock_target = tmp_path / "lock-target"
        lock_target.write_bytes(b"keep")
        lock = w.state_path.with_name(w.state_path.name + ".lock")
        lock.unlink(missing_ok=True)
        lock.symlink_to(lock_target)
        proc = w.cli("run", "--once")
        assert proc.returncode == 2 and "symbolic link" in proc.stderr, proc.stderr[-2000:]
        assert lock_target.read_bytes() == b"keep"


def test_permissions_are_set_only_on_files_the_process_created(tmp_path):
    """A state file the operator made group-readable (for backups) keeps its mode; a new one
    is created private."""
    with life(tmp_path) as w:
        w.connect()
        w.po()
        assert w.cli("run", "--once").returncode == 0
        assert stat.S_IMODE(w.state_path.stat().st_mode) == 0o600  # created by us: private
        os.chmod(w.state_path, 0o640)
        assert w.cli("run", "--once").returncode == 0
        assert w.cli("status").returncode == 0
        assert stat.S_IMODE(w.state_path.stat().st_mode) == 0o640


def test_status_and_doctor_create_and_change_nothing(tmp_path):
    """Before: both created a state file when none existed, and doctor wrote to one that did
    (the realm, the company). After: nothing is created, and an existing file is unchanged."""
    with life(tmp_path) as w:
        w.connect()
        w.po()
        status = w.cli("status")
        assert status.returncode == 2 and "no state file" in status.stderr
        doctor = w.cli("doctor")
        assert "state database: " in doctor.stdout and "none yet" in doctor.stdout
        assert not w.state_path.exists()
        assert w.cli("run", "--once").returncode == 0
        before = _fingerprint(w.state_path)
        beside = sorted(p.name for p in w.state_path.parent.iterdir())
        assert w.cli("status").returncode == 0
        assert w.cli("status", "--json").returncode == 0
        assert "[ok  ] state database" in w.cli("doctor").stdout
        assert _fingerprint(w.state_path) == before
        assert sorted(p.name for p in w.state_path.parent.iterdir()) == beside
