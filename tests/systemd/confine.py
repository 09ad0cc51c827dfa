"""Run a command under a unit's hardening, as far as it can be had without systemd as PID 1.

    /usr/bin/python3 tests/systemd/confine.py UNIT_FILE STATE_DIR CREDENTIALS_DIR -- CMD...

CI has no systemd to `systemd-run` the units, so this applies what they ask of the kernel, read
from the unit file itself, and execs the command (tests/test_units_confined.py runs the daemon
through it). Each setting is applied the way systemd 252 does it or with the same effect:

- DynamicUser=: a uid of systemd's dynamic range that no one has; StateDirectory= handed to it.
- UMask=, NoNewPrivileges=, CapabilityBoundingSet= (emptied), AmbientCapabilities= (none).
- SystemCallFilter= / SystemCallErrorNumber= / SystemCallArchitectures=native: one seccomp
  filter, the allow list systemd builds (its groups expanded by `systemd-analyze syscall-filter`,
  the `~` lists taken out), everything else failing with the error number.
- RestrictAddressFamilies=: a second seccomp filter, as systemd's: socket() of any other
  family fails with EAFNOSUPPORT.
- MemoryDenyWriteExecute=: the kernel's prctl(PR_SET_MDWE) (no writable and executable
  mapping, ever): what systemd's seccomp rules on mmap/mprotect refuse.
- PrivateMounts=: a mount namespace of its own, where the next three happen.
- ProtectSystem=strict: every mount read-only but the state directory (and /tmp, /proc, /dev).
- PrivateTmp=: a fresh tmpfs on /tmp. ProtectProc=invisible, ProcSubset=pid: a new /proc with
  hidepid=invisible,subset=pid.

Not applied (printed as such): ProtectHome= (would hide an interpreter under /root; the test
installs under /var/tmp as docs/install.md installs under /opt), PrivateDevices=,
ProtectKernel*/ProtectClock/ProtectHostname/ProtectControlGroups, RestrictNamespaces=,
RestrictRealtime=, RestrictSUIDSGID=, LockPersonality=, PrivateUsers=, and
IPAddressDeny/Allow= (eBPF on a cgroup of its own): they take away what the daemon never uses
(devices, kernel tunables, namespaces, realtime, set-id files, personality) or, for the address
lists, allow loopback, which is all the test talks to.

Standard library plus Debian's python3-seccomp: run it with /usr/bin/python3, as root.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import socket
import subprocess
import sys
from pathlib import Path

import seccomp  # Debian: python3-seccomp

DYNAMIC_UID = 61999  # in systemd's DynamicUser= range (61184-65519)
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
HANDLED = {
    "DynamicUser",
    "UMask",
    "NoNewPrivileges",
    "CapabilityBoundingSet",
    "AmbientCapabilities",
    "SystemCallFilter",
    "SystemCallErrorNumber",
    "SystemCallArchitectures",
    "RestrictAddressFamilies",
    "MemoryDenyWriteExecute",
    "ProtectSystem",
    "PrivateTmp",
    "ProtectProc",
    "ProcSubset",
    "PrivateMounts",
}
NOT_APPLIED = {
    "ProtectHome",
    "PrivateDevices",
    "ProtectHostname",
    "ProtectClock",
    "ProtectKernelTunables",
    "ProtectKernelModules",
    "ProtectKernelLogs",
    "ProtectControlGroups",
    "RestrictNamespaces",
    "RestrictRealtime",
    "RestrictSUIDSGID",
    "LockPersonality",
    "PrivateUsers",
    "IPAddressDeny",
    "IPAddressAllow",
    "DevicePolicy",
    "DeviceAllow",
}
libc = ctypes.CDLL(None, use_errno=True)


def service_section(unit: Path) -> list[tuple[str, str]]:
    entries, inside = [], False
    for raw in unit.read_text().splitlines():
        line = raw.strip()
        if line.startswith("["):
            inside = line == "[Service]"
        elif inside and line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            entries.append((key.strip(), value.strip()))
    return entries


def group(name: str) -> set[str]:
    """A syscall group (or one syscall) expanded, as the installed systemd defines it."""
    if not name.startswith("@"):
        return {name}
    out = subprocess.run(
        ["systemd-analyze", "syscall-filter", "--no-pager", name],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names: set[str] = set()
    for line in out.splitlines()[1:]:
        item = line.strip()
        if item and not item.startswith("#"):
            names |= group(item)
    return names


def allowed_syscalls(entries: list[tuple[str, str]]) -> set[str]:
    allowed: set[str] = set()
    for key, value in entries:
        if key != "SystemCallFilter":
            continue
        if value.startswith("~"):
            for name in value[1:].split():
                allowed -= group(name)
        else:
            allowed |= group("@default")  # systemd adds it to every allow list
            for name in value.split():
                allowed |= group(name)
    return allowed


def syscall_filter(entries: list[tuple[str, str]]) -> seccomp.SyscallFilter:
    settings = dict(entries)
    number = getattr(errno, settings.get("SystemCallErrorNumber", "EPERM"))
    allowed = allowed_syscalls(entries)
    assert allowed, "SystemCallFilter= is an allow list in the units"
    f = seccomp.SyscallFilter(defaction=seccomp.ERRNO(number))
    for name in sorted(allowed):
        # not a syscall of this architecture or kernel: systemd skips it too
        with contextlib.suppress(RuntimeError, ValueError):
            f.add_rule(seccomp.ALLOW, name)
    return f


def family_filter(entries: list[tuple[str, str]]) -> seccomp.SyscallFilter:
    (value,) = [v for k, v in entries if k == "RestrictAddressFamilies"]
    allowed = {getattr(socket, name) for name in value.split()}
    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for family in range(64):
        if family not in allowed:
            f.add_rule(
                seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.EQ, family)
            )
    f.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.GE, 64))
    return f


def check_call(*args: str) -> None:
    subprocess.run(args, check=True)


def private_mounts(settings: dict[str, str], state: Path, credentials: Path) -> None:
    """ProtectSystem=strict, PrivateTmp=, ProtectProc=/ProcSubset= in a mount namespace of our
    own (unshare(CLONE_NEWNS)); the host's mounts are not touched."""
    if libc.unshare(0x00020000) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    check_call("mount", "--make-rprivate", "/")
    if settings.get("PrivateTmp") == "yes":
        check_call("mount", "-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", "/tmp")
    if settings.get("ProtectProc") == "invisible":
        options = "hidepid=invisible" + (
            ",subset=pid" if settings.get("ProcSubset") == "pid" else ""
        )
        check_call("mount", "-t", "proc", "-o", f"{options},nosuid,nodev,noexec", "proc", "/proc")
    if settings.get("ProtectSystem") == "strict":
        for path in (state, credentials):
            check_call("mount", "--bind", str(path), str(path))
        keep = {"/tmp", "/proc", str(state), str(credentials)}
        mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
        for point in mounts:
            point = point.replace("\\040", " ")
            if point in keep or point.startswith(("/proc/", "/sys", "/dev")):
                continue
            subprocess.run(["mount", "-o", "remount,bind,ro", point], check=False)
        check_call("mount", "-o", "remount,bind,ro", str(credentials))


def become_service(settings: dict[str, str]) -> None:
    if settings.get("CapabilityBoundingSet", "x") == "":
        for cap in range(64):  # PR_CAPBSET_DROP, while still root (CAP_SETPCAP)
            if libc.prctl(24, cap, 0, 0, 0) != 0 and ctypes.get_errno() != errno.EINVAL:
                raise OSError(ctypes.get_errno(), f"PR_CAPBSET_DROP {cap}")
    if settings.get("DynamicUser") == "yes":
        os.setgroups([])
        os.setresgid(DYNAMIC_UID, DYNAMIC_UID, DYNAMIC_UID)
        os.setresuid(DYNAMIC_UID, DYNAMIC_UID, DYNAMIC_UID)  # effective capabilities: none
    if "UMask" in settings:
        os.umask(int(settings["UMask"], 8))
    if settings.get("NoNewPrivileges") == "yes" and libc.prctl(38, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")


def main(argv: list[str]) -> int:
    unit, state, credentials, sep, *command = argv
    assert sep == "--" and command, __doc__
    entries = service_section(Path(unit))
    settings = dict(entries)
    state, credentials = Path(state).resolve(), Path(credentials).resolve()
    unknown = {k for k, _ in entries if k in HANDLED | NOT_APPLIED} - HANDLED
    print(f"confine: applying {sorted(HANDLED & set(settings))}", file=sys.stderr)
    print(f"confine: not applied {sorted(unknown)}", file=sys.stderr)
    # systemd loads its other filters first and the allow list last (which has no seccomp())
    filters = [family_filter(entries)] if "RestrictAddressFamilies" in settings else []
    filters.append(syscall_filter(entries))
    if settings.get("DynamicUser") == "yes":  # StateDirectory= and LoadCredential= hand over
        for path in (state, *state.rglob("*"), credentials, *credentials.iterdir()):
            os.chown(path, DYNAMIC_UID, DYNAMIC_UID)
    private_mounts(settings, state, credentials)
    become_service(settings)
    mdwe = settings.get("MemoryDenyWriteExecute") == "yes"
    if mdwe and libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_MDWE)")
    for f in filters:
        f.load()
    os.execv(command[0], command)
    return 127


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
