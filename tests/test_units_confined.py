"""The units' hardening leaves the daemon working: `run --once` under reconciler-once.service's
settings and `run` under reconciler.service's (READY=1 and WATCHDOG=1 reach the notify socket,
SIGTERM ends it with 0), each applied by tests/systemd/confine.py from the unit file itself
(seccomp allow list, address families, W^X memory, a dynamic uid with no capabilities, a
read-only system, private /tmp and /proc). No systemd runs as PID 1 in CI, so `systemd-run`
cannot; confine.py says what it applies and what it cannot.

The daemon is installed as docs/install.md says (a venv of Debian's python3, the lock with
hashes, then the project) under /var/tmp, where the dynamic uid can reach it. Needs root,
systemd-analyze and python3-seccomp (.ci/run installs them).
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from reconciler.app.demo import connect
from reconciler.config.loader import load_settings
from reconciler.sandbox.luminous.server import LuminousEmulator
from reconciler.sandbox.qbo.server import QBOEmulator

ROOT = Path(__file__).resolve().parent.parent
CONFINE = ROOT / "tests" / "systemd" / "confine.py"
SYSTEM_PYTHON = "/usr/bin/python3"
LUMINOUS_TOKEN = "lum-units-token"

# Slow: the module builds a venv with pip first (`pytest -n auto --dist loadfile`, as CI runs
# the suite, keeps the module on one worker: the venv is built once, not once per worker).
pytestmark = pytest.mark.slow


def require_tools() -> None:
    assert os.geteuid() == 0, "confining the daemon takes root (CI runs as root)"
    assert shutil.which("systemd-analyze"), "apt-get install systemd"
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import seccomp"], capture_output=True)
    assert probe.returncode == 0, "apt-get install python3-seccomp python3-venv"


@pytest.fixture(scope="module")
def installed():
    """reconciler installed from requirements.lock into a venv any uid can run."""
    require_tools()
    home = Path(tempfile.mkdtemp(prefix="reconciler-units-", dir="/var/tmp"))
    home.chmod(0o755)
    venv = home / "venv"
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", str(venv)], check=True)
    subprocess.run([*pip, "--require-hashes", "-r", str(ROOT / "requirements.lock")], check=True)
    build = home / "src"  # a copy: building in the checkout would leave build/ behind
    shutil.copytree(ROOT, build, ignore=shutil.ignore_patterns(".*", "tests", "bench", "build"))
    subprocess.run([*pip, "--no-deps", str(build)], check=True)
    yield home, venv / "bin" / "reconciler"
    shutil.rmtree(home)


@pytest.fixture
def service(installed, monkeypatch):
    """Emulators on 127.0.0.1, a state directory and credentials as systemd lays them out, the
    QBO connection made, and the unit's environment pointed at all of it."""
    home, reconciler = installed
    qbo = QBOEmulator().start(port=0)
    lum = LuminousEmulator(token=LUMINOUS_TOKEN, approval_field="approval_status").start(port=0)
    qbo.seed_default()
    lum.seed_default()
    run = Path(tempfile.mkdtemp(prefix="run-", dir=home))
    run.chmod(0o755)
    state, credentials = run / "state", run / "credentials"
    state.mkdir(mode=0o700)
    credentials.mkdir(mode=0o500)
    secrets = {
        "luminous_api_token": LUMINOUS_TOKEN,
        "qbo_client_secret": qbo.client_secret,
        "qbo_token_key": Fernet.generate_key().decode(),  # cryptography runs confined too
    }
    for name, value in secrets.items():
        (credentials / name).write_text(value)
        (credentials / name).chmod(0o400)
    env = {
        "PATH": "/usr/bin:/bin",
        "CREDENTIALS_DIRECTORY": str(credentials),
        "RECONCILER_LUMINOUS__BASE_URL": lum.base_url,
        "RECONCILER_LUMINOUS__SETTLE_LAG": "0",
        "RECONCILER_QBO__ENVIRONMENT": qbo.discovery_url,
        "RECONCILER_QBO__BASE_URL": qbo.api_base,
        "RECONCILER_QBO__REALM_ID": qbo.realm_id,
        "RECONCILER_QBO__CLIENT_ID": qbo.client_id,
        "RECONCILER_QBO__REDIRECT_URI": "http://localhost:8080/callback",
        "RECONCILER_ACCOUNTS__AP": "Accounts Payable (A/P)",
        "RECONCILER_QBO__THROTTLE_WAIT": "1s",
        "RECONCILER_SYNC__POLL_INTERVAL": "2s",
        "RECONCILER_DAEMON__HEALTH_PORT": "0",
    }
    for key in [k for k in os.environ if k.startswith("RECONCILER_")]:
        monkeypatch.delenv(key)
    yield {
        "reconciler": str(reconciler),
        "qbo": qbo,
        "state": state,
        "credentials": credentials,
        "env": env,
        "run": run,
    }
    lum.stop()
    qbo.stop()


def unit_env(name: str, state: Path) -> dict[str, str]:
    """The unit's Environment= lines, its /var/lib/reconciler being `state`."""
    env = {}
    for line in (ROOT / "systemd" / name).read_text().splitlines():
        if line.startswith("Environment="):
            key, _, value = line.removeprefix("Environment=").partition("=")
            env[key] = value.replace("/var/lib/reconciler", str(state))
    env.pop("RECONCILER_CONFIG")  # the test configures by environment alone
    return env


def connected(svc: dict, unit: str) -> dict[str, str]:
    """The unit's environment with the test's, after `auth connect` stored the tokens (as
    root, before the service runs: the docs authorize with the same environment)."""
    env = {**svc["env"], **unit_env(unit, svc["state"])}
    connect(svc["qbo"], load_settings(None, env))
    return env


def confined(svc: dict, unit: str, *args: str) -> list[str]:
    return [
        SYSTEM_PYTHON,
        str(CONFINE),
        str(ROOT / "systemd" / unit),
        str(svc["state"]),
        str(svc["credentials"]),
        "--",
        svc["reconciler"],
        *args,
    ]


def applied(stderr: str) -> set[str]:
    line = next(x for x in stderr.splitlines() if x.startswith("confine: applying"))
    return set(json.loads(line.removeprefix("confine: applying ").replace("'", '"')))


ESSENTIAL = {
    "DynamicUser",
    "NoNewPrivileges",
    "CapabilityBoundingSet",
    "SystemCallFilter",
    "RestrictAddressFamilies",
    "MemoryDenyWriteExecute",
    "ProtectSystem",
    "PrivateTmp",
    "ProcSubset",
}


def test_run_once_under_the_timer_units_hardening(service):
    """`run --once` syncs the sample POs with the once unit's settings applied; exit 1 is the
    sample's one bad PO (SuccessExitStatus=1 in the unit)."""
    env = connected(service, "reconciler-once.service")
    done = subprocess.run(
        confined(service, "reconciler-once.service", "run", "--once"),
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert applied(done.stderr) >= ESSENTIAL, done.stderr
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    synced = {e["po_number"] for e in events if e["event"] == "po_synced"}
    assert {"PO-00001", "PO-00007", "PO-00008", "PO-00012"} <= synced, (
        done.stdout[-3000:] + done.stderr[-3000:]
    )
    assert events[-1]["event"] == "pass_finished" and events[-1]["fatal"] is None
    # the token store was rewritten by the dynamic user, still encrypted (cryptography ran
    # with MemoryDenyWriteExecute=yes), private to that user
    store = service["state"] / "tokens.json"
    assert store.read_bytes().startswith(b"gAAAA")
    assert (store.stat().st_uid, store.stat().st_mode & 0o777) == (61999, 0o600)
    assert (service["state"] / "state.sqlite").stat().st_uid == 61999


def test_daemon_under_the_service_units_hardening_notifies_and_stops(service):
    """`run` as reconciler.service: READY=1, WATCHDOG=1 and the pass's STATUS= over the notify
    socket (which needs AF_UNIX), then SIGTERM ends it with exit 0 within TimeoutStopSec."""
    env = connected(service, "reconciler.service")
    path = service["run"] / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(path))
        path.chmod(0o777)  # the dynamic user sends to it, as to systemd's
        notify.settimeout(1)
        env |= {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "4000000"}
        daemon = subprocess.Popen(
            confined(service, "reconciler.service", "run"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            seen = receive(notify, timeout=60)
            assert {"READY=1", "WATCHDOG=1"} <= seen, seen
            assert any(s.startswith(PASSED) and "4 synced" in s for s in seen), seen
            daemon.terminate()
            out, err = daemon.communicate(timeout=20)
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
    assert applied(err) >= ESSENTIAL, err
    assert daemon.returncode == 0, out[-3000:] + err[-3000:]
    assert '"event": "po_synced"' in out


def receive(sock: socket.socket, timeout: float) -> set[str]:
    """Notify lines until READY=1, WATCHDOG=1 and a pass's STATUS= have all come."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if {"READY=1", "WATCHDOG=1"} <= seen and any(s.startswith(PASSED) for s in seen):
            break
        try:
            seen |= set(sock.recv(4096).decode().splitlines())
        except TimeoutError:
            continue
    return seen


PASSED = "STATUS=last pass"


PROBE = """
import ctypes, errno, json, mmap, os, socket
out = {"uid": os.getuid(), "umask": oct(os.umask(0o077))}
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines())
out |= {k: status[k].strip() for k in ("CapEff", "CapBnd", "NoNewPrivs", "Seccomp")}
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    out["wx"] = "mapped"
except OSError as exc:
    out["wx"] = errno.errorcode[exc.errno]
for name, family in (("netlink", socket.AF_NETLINK), ("packet", socket.AF_PACKET)):
    try:
        socket.socket(family, socket.SOCK_RAW).close()
        out[name] = "opened"
    except OSError as exc:
        out[name] = errno.errorcode[exc.errno]
libc = ctypes.CDLL(None, use_errno=True)
out["chroot"] = errno.errorcode[ctypes.get_errno()] if libc.chroot(b"/") else "done"
for path in ("/usr/local/probe", "/etc/probe", os.environ["STATE"] + "/probe", "/tmp/probe"):
    try:
        open(path, "w").close()
        out[path.rsplit("/", 2)[-2]] = "written"
    except OSError as exc:
        out[path.rsplit("/", 2)[-2]] = errno.errorcode[exc.errno]
out["tmp_empty"] = os.listdir("/tmp") == ["probe"]
out["proc_stat"] = os.path.exists("/proc/stat")
out["pid1_visible"] = os.path.exists("/proc/1/status")
print(json.dumps(out))
"""


def test_confine_applies_what_it_says(service):
    """The harness is only as good as its restrictions: a probe under reconciler.service's
    settings finds each one in force (so the two tests above prove something)."""
    argv = [*confined(service, "reconciler.service")[:-1], SYSTEM_PYTHON, "-c", PROBE]
    done = subprocess.run(
        argv,
        env={"PATH": "/usr/bin:/bin", "STATE": str(service["state"])},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["uid"] == 61999 and seen["umask"] == "0o77"  # DynamicUser=, UMask=0077
    assert int(seen["CapEff"], 16) == 0 and int(seen["CapBnd"], 16) == 0
    assert seen["NoNewPrivs"] == "1" and seen["Seccomp"] == "2"  # a filter is loaded
    assert seen["wx"] == "EACCES"  # MemoryDenyWriteExecute=yes
    assert seen["netlink"] == seen["packet"] == "EAFNOSUPPORT"  # RestrictAddressFamilies=
    assert seen["chroot"] == "EPERM"  # ~@privileged, SystemCallErrorNumber=EPERM
    assert seen["local"] == seen["etc"] == "EROFS"  # ProtectSystem=strict
    assert seen["state"] == "written" and seen["tmp"] == "written"
    assert seen["tmp_empty"]  # PrivateTmp=: nothing of the host's /tmp
    assert not seen["proc_stat"] and not seen["pid1_visible"]  # ProcSubset=pid, ProtectProc=
