"""Smoke test of the container image, run by `.ci/image` after it builds the image (issue 34).

It does what an operator does, through the image's own `reconciler` command only (no module
paths, so the tree can move underneath): the demo in a container, with the host's results; then
a pod with both emulators and the daemon (from the same image), `auth connect --paste`, a synced
PO, /healthz through the image's HEALTHCHECK (healthy, unhealthy while Luminous is stopped,
healthy again when it is back), a non-root PID 1 on a read-only root with /tmp on tmpfs and no
capabilities, the daemon's RSS beside the same daemon on the host, and `podman stop` ending it
with exit 0 within the stop timeout. Any failed check exits 1 and names it.

The pod has no network but its loopback (`--network none`): the emulators listen on 127.0.0.1,
the daemon reaches them there, and nothing leaves the machine.

Standard library only: it runs with whatever python3 runs CI.
"""

from __future__ import annotations

import argparse
import difflib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

POD = "reconciler-smoke"
VOLUME = "reconciler-smoke-state"
QBO_PORT, LUMINOUS_PORT = 8765, 8766
LUMINOUS_TOKEN = "lum-smoke-token"  # the emulator's credential, not a secret
# Luminous documents no approval field, so the daemon (require_approval on by default) parks
# every PO unless the emulator serves one, as docs/try-it.md starts it.
LUMINOUS_APPROVAL = ("--approval-field", "approval_status")
POLL = 2  # seconds between passes: /healthz turns red after 3 intervals without a success
STOP_TIMEOUT = 10  # podman's default, and what the Dockerfile promises (exit within 10 s)
RSS_TOLERANCE = 0.10  # the daemon's RSS in the container against the host's (issue 34)
REDIRECT_URI = "http://localhost:8080/callback"  # pasted back, never listened on
# The daemon as the Dockerfile, compose example and docs/operate.md run it.
HARDENED = [
    "--read-only",
    "--read-only-tmpfs=false",  # podman adds /run and /var/tmp unless told; docker does not
    "--tmpfs",
    "/tmp",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
]


class Failed(Exception):
    """A check that did not hold: its message says which and what was seen."""


def check(condition: bool, what: str) -> None:
    if not condition:
        raise Failed(what)
    passed(what)


def passed(what: str) -> None:
    print(f"  ok  {what}", flush=True)


class Podman:
    """`podman` with the options every call shares; each call's output is returned."""

    def __init__(self, image: str) -> None:
        self.image = image

    def __call__(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        done = subprocess.run(
            ["podman", *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and done.returncode != 0:
            raise Failed(f"podman {' '.join(args[:3])} exited {done.returncode}: {done.stderr}")
        return done.stdout

    def rc(self, *args: str, timeout: float = 60) -> int:
        return subprocess.run(
            ["podman", *args], capture_output=True, timeout=timeout, check=False
        ).returncode


def wait_for(what: str, probe: Callable[[], bool], timeout: float, every: float = 0.5) -> float:
    """Seconds until `probe()` held; Failed after `timeout`."""
    started = time.monotonic()
    while True:
        if probe():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise Failed(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


# --- the demo ----------------------------------------------------------------------------------

NOISE = [
    (re.compile(r"\d{8}T\d{6}Z-[0-9a-f]+"), "RUN"),  # run ids
    (re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?Z?"), "TIME"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"company( |/)\d+"), r"company\1REALM"),
    (re.compile(r"/v3/company/\d+"), "/v3/company/REALM"),
]


def normalized(text: str) -> str:
    for pattern, replacement in NOISE:
        text = pattern.sub(replacement, text)
    return text


def demo(podman: Podman, host_reconciler: str) -> None:
    command = ["podman", "run", "--rm", "--network", "none", "--no-healthcheck", *HARDENED]
    inside = subprocess.run(
        [*command, podman.image, "demo"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    check(inside.returncode == 0, f"the demo in the container exits 0 ({inside.returncode})")
    host = subprocess.run(
        [host_reconciler, "demo"], capture_output=True, text=True, timeout=180, check=False
    )
    check(host.returncode == 0, f"the demo on the host exits 0 ({host.returncode})")
    same = normalized(inside.stdout) == normalized(host.stdout)
    if not same:
        sys.stdout.writelines(
            difflib.unified_diff(
                normalized(host.stdout).splitlines(True),
                normalized(inside.stdout).splitlines(True),
                "host",
                "container",
            )
        )
    check(same, "the demo prints the host's results (ids, times and ports aside)")


# --- emulators and connection ----------------------------------------------------------------


def daemon_settings(qbo: dict[str, str], luminous_url: str) -> dict[str, str]:
    """The daemon's configuration, all from the environment (no file needed); its secrets
    come as files (`secret_files`)."""
    return {
        "RECONCILER_LUMINOUS__BASE_URL": luminous_url,
        "RECONCILER_LUMINOUS__SETTLE_LAG": "0",
        "RECONCILER_QBO__ENVIRONMENT": qbo["discovery_url"],
        "RECONCILER_QBO__BASE_URL": qbo["base_url"] + "/v3/company",
        "RECONCILER_QBO__REALM_ID": qbo["realm_id"],
        "RECONCILER_QBO__CLIENT_ID": qbo["client_id"],
        "RECONCILER_QBO__REDIRECT_URI": REDIRECT_URI,
        "RECONCILER_QBO__THROTTLE_WAIT": "1s",
        "RECONCILER_ACCOUNTS__AP": "Accounts Payable (A/P)",
        "RECONCILER_SYNC__POLL_INTERVAL": f"{POLL}s",
    }


def secret_files(directory: Path, client_secret: str, owner: int | None) -> Path:
    """The two secrets as an operator lays them out: one file each, 0400, owned by the
    daemon's user (uid 10001 in the image)."""
    directory.mkdir(mode=0o700)
    for name, value in (
        ("luminous_api_token", LUMINOUS_TOKEN),
        ("qbo_client_secret", client_secret),
    ):
        (directory / name).write_text(value)
        (directory / name).chmod(0o400)
        if owner is not None:
            os.chown(directory / name, owner, owner)
    if owner is not None:
        os.chown(directory, owner, owner)
    return directory


def lines_until(stream, prefix: str, timeout: float) -> str:
    """The first line of a child's output that starts with `prefix`."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith(prefix):
            return line.strip()
    raise Failed(f"no line starting {prefix!r} in: {''.join(seen)[-2000:]}")


FETCH_REDIRECT = """
import http.client, sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
conn.request("GET", url.path + "?" + url.query)
answer = conn.getresponse()
print(answer.status, answer.getheader("Location"))
"""


def consent_redirect(run_python: list[str], url: str) -> str:
    """What the browser would be sent to after approving: the consent page's Location."""
    out = subprocess.run(
        [*run_python, "-c", FETCH_REDIRECT, url],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    status, _, location = out.stdout.strip().partition(" ")
    if status != "302" or not location.startswith(REDIRECT_URI):
        raise Failed(f"the consent page answered {out.stdout!r} {out.stderr[-500:]!r}")
    return location


def auth_connect(command: list[str], run_python: list[str], env: dict[str, str] | None) -> str:
    """`auth connect --paste` as a person does it: read the URL, approve, paste the redirect."""
    child = subprocess.Popen(
        [*command, "auth", "connect", "--paste"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        try:
            url = lines_until(child.stdout, "http", timeout=60)
        except Failed as exc:
            child.kill()
            raise Failed(f"{exc}; its stderr: {child.communicate()[1][-2000:]}") from None
        out, err = child.communicate(consent_redirect(run_python, url) + "\n", timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    if child.returncode != 0 or "Connected to QuickBooks company" not in out:
        raise Failed(f"auth connect --paste exited {child.returncode}: {out}{err}")
    return out


# --- in the pod ----------------------------------------------------------------------------------


class Pod:
    """Both emulators and the daemon, from the image, sharing the pod's loopback."""

    def __init__(self, podman: Podman, workdir: Path) -> None:
        self.podman = podman
        self.env: dict[str, str] = {}
        self.secrets = workdir / "secrets"

    @staticmethod
    def name(part: str) -> str:
        return f"{POD}-{part}"

    def start_emulators(self) -> None:
        self.podman("pod", "create", "--name", POD, "--network", "none")
        self.start_emulator("qbo", "--port", str(QBO_PORT))
        self.start_emulator(
            "luminous", "--port", str(LUMINOUS_PORT), "--token", LUMINOUS_TOKEN, *LUMINOUS_APPROVAL
        )
        qbo = json.loads(self.logged("qbo", "{"))
        luminous = self.logged("luminous", "Luminous emulator: ").split(": ", 1)[1]
        self.env = daemon_settings(qbo, luminous)
        secret_files(self.secrets, qbo["client_secret"], owner=10001)

    def start_emulator(self, part: str, *args: str) -> None:
        self.podman(
            "run",
            "-d",
            "--pod",
            POD,
            "--name",
            self.name(part),
            "--no-healthcheck",
            self.podman.image,
            "sandbox",
            part,
            *args,
        )

    def logged(self, part: str, prefix: str) -> str:
        found: list[str] = []

        def printed() -> bool:
            lines = self.podman("logs", self.name(part)).splitlines()
            found[:] = [line for line in lines if line.startswith(prefix)]
            return bool(found)

        wait_for(f"the {part} emulator starts", printed, timeout=60)
        return found[0]

    def daemon_options(self) -> list[str]:
        env = [f"--env={key}={value}" for key, value in self.env.items()]
        return [
            "--pod",
            POD,
            *HARDENED,
            *env,
            "-v",
            f"{VOLUME}:/var/lib/reconciler",
            "-v",
            f"{self.secrets}:/run/secrets:ro",
        ]

    def connect(self) -> None:
        podman = ["podman", "run", "--rm", "-i", "--no-healthcheck", *self.daemon_options()]
        python = ["podman", "exec", self.name("qbo"), "python"]
        out = auth_connect([*podman, self.podman.image], python, env=None)
        check("Connected to QuickBooks company" in out, "auth connect --paste in the container")
        stored = self.podman(
            "run",
            "--rm",
            "--no-healthcheck",
            *self.daemon_options(),
            "--entrypoint",
            "python",
            self.podman.image,
            "-c",
            "import os, stat; s = os.stat('/var/lib/reconciler/tokens.json');"
            "print(s.st_uid, oct(stat.S_IMODE(s.st_mode)))",
        ).split()
        check(stored == ["10001", "0o600"], f"the token store is on the volume, 0600 ({stored})")

    def start_daemon(self) -> None:
        # Podman runs HEALTHCHECKs from systemd timers; with none here, `healthcheck run` asks.
        self.podman(
            "run",
            "-d",
            "--name",
            self.name("daemon"),
            "--health-interval=disable",
            *self.daemon_options(),
            self.podman.image,
        )

    def healthy(self) -> bool:
        """The image's HEALTHCHECK, run by podman: exit 0 is healthy."""
        return self.podman.rc("healthcheck", "run", self.name("daemon")) == 0

    def exec(self, *args: str) -> str:
        return self.podman("exec", self.name("daemon"), *args)

    def pid(self) -> int:
        return int(self.podman("inspect", "-f", "{{.State.Pid}}", self.name("daemon")))


# --- on the host, for the RSS beside it ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Host:
    """The same emulators and daemon as processes of this machine, from the CI venv."""

    def __init__(self, reconciler: str, workdir: Path, stack: ExitStack) -> None:
        self.reconciler = reconciler
        self.workdir = workdir
        self.stack = stack
        self.health_port = free_port()
        self.env: dict[str, str] = {}
        self.daemon: subprocess.Popen[str] | None = None

    def spawn(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            [self.reconciler, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.stack.callback(stop_child, child)
        return child

    def start(self) -> None:
        qbo_child = self.spawn("sandbox", "qbo", "--port", "0")
        qbo = json.loads(lines_until(qbo_child.stdout, "{", timeout=60))
        luminous_child = self.spawn(
            "sandbox",
            "luminous",
            "--port",
            str(free_port()),
            "--token",
            LUMINOUS_TOKEN,
            *LUMINOUS_APPROVAL,
        )
        luminous = lines_until(luminous_child.stdout, "Luminous emulator: ", timeout=60)
        secrets = secret_files(self.workdir / "host-secrets", qbo["client_secret"], owner=None)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")},
            **daemon_settings(qbo, luminous.split(": ", 1)[1]),
            "CREDENTIALS_DIRECTORY": str(secrets),
            "RECONCILER_STATE__PATH": str(self.workdir / "host-state" / "state.sqlite"),
            "RECONCILER_QBO__TOKEN_STORE": str(self.workdir / "host-state" / "tokens.json"),
            "RECONCILER_LOGGING__FORMAT": "json",
            "RECONCILER_DAEMON__HEALTH_PORT": str(self.health_port),
            # as the image and the units run it
            "MALLOC_ARENA_MAX": "2",
            "PYTHONUNBUFFERED": "1",
        }
        auth_connect([self.reconciler], [sys.executable], env=self.env)
        self.daemon = self.spawn("run", env=self.env)

    def healthy(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.health_port, timeout=5)
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False


def stop_child(child: subprocess.Popen[str]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, from the host's /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


ADMIN_POS = f"""
import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:{QBO_PORT}/__admin/objects/PurchaseOrder").read())
"""


# --- the run -----------------------------------------------------------------------------------


def daemon_in_pod(pod: Pod, host: Host) -> dict[str, float]:
    """Everything after the demo; returns the numbers worth printing."""
    numbers: dict[str, float] = {}
    pod.start_emulators()
    pod.connect()
    pod.start_daemon()
    host.start()
    synced: list[str] = []

    def a_po_synced() -> bool:  # `status` reads the state file while the daemon writes it
        rows = json.loads(pod.exec("reconciler", "status", "--json"))
        synced[:] = [r["number"] for r in rows if r["status"] == "synced"]
        return bool(synced)

    numbers["synced_after_s"] = wait_for("a PO synced by the daemon", a_po_synced, 60)
    passed(f"the daemon synced {', '.join(sorted(synced))}")
    in_qbo = pod.podman("exec", pod.name("qbo"), "python", "-c", ADMIN_POS)
    check(all(number in in_qbo for number in synced), "and they are in the QBO emulator")
    check(pod.healthy(), "HEALTHCHECK healthy after the pass")
    check(pod.exec("python", "-c", "import os; print(os.getuid())").strip() == "10001", "uid 10001")
    pid1 = pod.exec("python", "-c", "print(open('/proc/1/cmdline').read().split(chr(0)))")
    check("run" in pid1 and "reconciler" in pid1, f"PID 1 is `reconciler run` ({pid1.strip()})")
    read_only(pod)
    rss(pod, host, numbers)
    outage(pod, numbers)
    stop(pod, numbers)
    return numbers


def read_only(pod: Pod) -> None:
    probe = (
        "import sys\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        open(path, 'w').close(); print(path, 'writable')\n"
        "    except OSError as exc:\n"
        "        print(path, exc.strerror)\n"
    )
    out = pod.exec("python", "-c", probe, "/usr/local/x", "/etc/x", "/tmp/x")
    check("/usr/local/x Read-only file system" in out, "the root filesystem is read-only")
    check("/etc/x Read-only file system" in out, "/etc is read-only")
    check("/tmp/x writable" in out, "/tmp is writable (tmpfs)")
    mounts = pod.exec("python", "-c", "print(open('/proc/self/mounts').read())")
    check(any(line.split()[1:3] == ["/tmp", "tmpfs"] for line in mounts.splitlines()), "/tmp tmpfs")
    caps = pod.exec("python", "-c", "print(open('/proc/1/status').read())")
    eff = re.search(r"CapEff:\s*([0-9a-f]+)", caps)
    check(eff is not None and int(eff.group(1), 16) == 0, "no capabilities")
    check(re.search(r"NoNewPrivs:\s*1", caps) is not None, "no new privileges")


def rss(pod: Pod, host: Host, numbers: dict[str, float]) -> None:
    """The daemon's memory in the container beside the same daemon on the host, both after a
    few passes over the same data."""
    wait_for("the host daemon turns healthy", host.healthy, 90)
    time.sleep(3 * POLL)
    inside, outside = memory_kib(pod.pid()), memory_kib(host.daemon.pid)
    numbers.update(
        rss_container_kib=inside["VmRSS"],
        rss_host_kib=outside["VmRSS"],
        hwm_container_kib=inside["VmHWM"],
        hwm_host_kib=outside["VmHWM"],
    )
    ratio = inside["VmRSS"] / outside["VmRSS"]
    numbers["rss_ratio"] = ratio
    check(
        abs(ratio - 1) <= RSS_TOLERANCE,
        f"RSS {inside['VmRSS'] / 1024:.1f} MiB in the container, "
        f"{outside['VmRSS'] / 1024:.1f} MiB on the host ({ratio:.2f}x)",
    )


def outage(pod: Pod, numbers: dict[str, float]) -> None:
    pod.podman("stop", "-t", "5", pod.name("luminous"))
    numbers["unhealthy_after_s"] = wait_for(
        "unhealthy while Luminous is stopped", lambda: not pod.healthy(), 30 * POLL
    )
    passed(f"HEALTHCHECK fails {numbers['unhealthy_after_s']:.1f} s after Luminous stops")
    pod.podman("start", pod.name("luminous"))
    numbers["healthy_again_s"] = wait_for("healthy when Luminous is back", pod.healthy, 30 * POLL)
    passed(f"HEALTHCHECK healthy {numbers['healthy_again_s']:.1f} s after it returns")


def stop(pod: Pod, numbers: dict[str, float]) -> None:
    started = time.monotonic()
    pod.podman("stop", "-t", str(STOP_TIMEOUT), pod.name("daemon"), timeout=STOP_TIMEOUT + 30)
    numbers["stop_s"] = time.monotonic() - started
    code = pod.podman("inspect", "-f", "{{.State.ExitCode}}", pod.name("daemon")).strip()
    check(code == "0", f"podman stop: exit {code} in {numbers['stop_s']:.1f} s")
    check(numbers["stop_s"] < STOP_TIMEOUT, f"stopped within the {STOP_TIMEOUT} s timeout")


def clean(podman: Podman) -> None:
    podman("pod", "rm", "--force", "--ignore", POD, check=False)
    podman("volume", "rm", "--force", VOLUME, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True)
    parser.add_argument("--host-reconciler", required=True, help="the CI venv's reconciler")
    args = parser.parse_args(argv)
    podman = Podman(args.image)
    started = time.monotonic()
    clean(podman)  # what an interrupted run left
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="reconciler-smoke-") as tmp:
        stack.callback(clean, podman)
        try:
            demo(podman, args.host_reconciler)
            numbers = daemon_in_pod(
                Pod(podman, Path(tmp)), Host(args.host_reconciler, Path(tmp), stack)
            )
        except (Failed, subprocess.TimeoutExpired) as exc:
            print(f"FAILED: {exc}", flush=True)
            for part in ("daemon", "qbo", "luminous"):
                logs = subprocess.run(
                    ["podman", "logs", "--tail", "30", Pod.name(part)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                print(f"--- {part} (last lines)\n{logs.stdout}{logs.stderr}", flush=True)
            return 1
    numbers["smoke_s"] = time.monotonic() - started
    print("smoke numbers: " + json.dumps({k: round(v, 2) for k, v in numbers.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
