"""Packaging: systemd units verify and say what the issue asks; the Dockerfile and compose too."""

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from reconciler.config import loader as config
from reconciler.web.health import HealthState, serve_health

ROOT = Path(__file__).resolve().parent.parent
SYSTEMD = ROOT / "systemd"
UNITS = ("reconciler.service", "reconciler-once.service", "reconciler-once.timer")
TEMPLATE = "reconciler@.service"  # one instance per company: reconciler@acme.service
CREDENTIALS = {"luminous_api_token", "qbo_client_secret", "qbo_token_key"}
# Secrets only some installs set: systemd refuses to start a unit whose credential file is
# missing, so the daemon unit carries them as commented-out lines to enable.
OPTIONAL_CREDENTIALS = {"status_page_retry_token", "alerts_webhook_url"}
# as the benchmark runs (bench/backfill.py re-executes itself with it)
MALLOC_ARENA_MAX = re.search(
    r'^MALLOC_ARENA_MAX = "(\d+)"', (ROOT / "bench" / "backfill.py").read_text(), re.M
).group(1)
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "DynamicUser": "yes",
    "StateDirectory": "reconciler",
    "PrivateTmp": "yes",
    "ProtectHome": "yes",
}


def unit(name: str) -> dict[str, list[tuple[str, str]]]:
    """Sections of a unit file as ordered (key, value) lists: keys may repeat."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in (SYSTEMD / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
            continue
        key, _, value = line.partition("=")
        assert current is not None, f"{name}: {line!r} outside a section"
        current.append((key.strip(), value.strip()))
    return sections


def values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in section if k == key]


def one(section: list[tuple[str, str]], key: str) -> str:
    found = values(section, key)
    assert len(found) == 1, f"{key}: {found}"
    return found[0]


def secret_credential_names() -> set[str]:
    """`<section>_<key>` for every Secret setting, as config reads $CREDENTIALS_DIRECTORY."""
    names = set()
    for section in dataclasses.fields(config.Settings):
        if not dataclasses.is_dataclass(section.default):
            continue
        for f in dataclasses.fields(section.default):
            if "Secret" in str(f.type):
                names.add(f"{section.name}_{f.name}")
    return names


def setting_exists(env_name: str) -> bool:
    match = re.fullmatch(r"RECONCILER_([A-Z]+)__([A-Z_]+)", env_name)
    assert match, env_name
    section, key = match.group(1).lower(), match.group(2).lower()
    sections = {f.name: f.default for f in dataclasses.fields(config.Settings)}
    return section in sections and key in {f.name for f in dataclasses.fields(sections[section])}


def test_units_pass_systemd_analyze_verify(tmp_path):
    """`systemd-analyze verify` accepts all three units without a single warning."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed to verify the units (apt-get install systemd)"
    # verify checks that ExecStart= exists: point it at this environment's entry point
    entry = Path(sys.executable).parent / "reconciler"
    assert entry.exists()
    for name in (*UNITS, TEMPLATE):
        text = (SYSTEMD / name).read_text().replace("/usr/local/bin/reconciler", str(entry))
        (tmp_path / name).write_text(text)
    # a template is verified through instances of it (the file name without the instance)
    instances = ("reconciler@acme.service", "reconciler@globex-2.service")
    result = subprocess.run(
        [analyze, "verify", "--man=no", *UNITS, *instances],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""  # unknown keys are warnings with status 0


SERVICES = ("reconciler.service", "reconciler-once.service", "reconciler@acme.service")
# What `systemd-analyze security` may still count against a unit, each explained in the unit
# ("What `systemd-analyze security` still counts"): anything else is a regression.
EXPLAINED = {
    "PrivateNetwork=",
    "RestrictAddressFamilies=~AF_(INET|INET6)",
    "RestrictAddressFamilies=~AF_UNIX",
    "DeviceAllow=",
    "RootDirectory=/RootImage=",
    "IPAddressDeny=",
}


def test_units_security_exposure_is_at_most_1(tmp_path):
    """`systemd-analyze security --offline=yes` scores every service 1.0 or better, and each
    setting it still counts is one the unit explains (tests/test_units_confined.py shows the
    daemon working under the rest)."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed (apt-get install systemd)"
    entry = Path(sys.executable).parent / "reconciler"
    for name in (*UNITS, TEMPLATE):
        text = (SYSTEMD / name).read_text().replace("/usr/local/bin/reconciler", str(entry))
        (tmp_path / name).write_text(text)
    for service in SERVICES:
        result = subprocess.run(
            [analyze, "security", "--offline=yes", "--no-pager", service],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        score = re.search(
            rf"Overall exposure level for {re.escape(service)}: ([0-9.]+)", result.stdout
        )
        assert score, result.stdout + result.stderr
        assert float(score.group(1)) <= 1.0, result.stdout
        counted = {line.split()[1] for line in result.stdout.splitlines() if line.startswith("✗")}
        assert counted <= EXPLAINED, counted - EXPLAINED
        text = (SYSTEMD / service.replace("acme", "")).read_text()
        comments = "\n".join(line for line in text.splitlines() if line.startswith("#"))
        for item in counted:  # each says why in a comment of the unit
            assert item.split("=")[0] + "=" in comments, (service, item)


def test_units_ip_allow_list_is_everything_but_link_local_and_multicast():
    """IPAddressDeny=any plus the allow list: loopback (the health server, a local DNS stub),
    private and public unicast pass; link-local (cloud metadata) and multicast do not."""
    import ipaddress

    for name in SERVICES:
        service = unit(name.replace("acme", ""))["Service"]
        assert one(service, "IPAddressDeny") == "any"
        allowed = [
            ipaddress.ip_network(n) for v in values(service, "IPAddressAllow") for n in v.split()
        ]

        def allows(address: str, allowed=allowed) -> bool:
            ip = ipaddress.ip_address(address)
            return any(ip in net for net in allowed if net.version == ip.version)

        for address in (
            "127.0.0.1",
            "::1",
            "10.0.0.2",
            "172.16.5.4",
            "192.168.1.1",
            "8.8.8.8",
            "52.1.2.3",
            "169.253.0.1",
            "169.255.0.1",
            "2600:1f18::1",
            "fd00::53",
        ):
            assert allows(address), (name, address)
        for address in ("169.254.169.254", "169.254.0.1", "fe80::1", "224.0.0.251", "ff02::fb"):
            assert not allows(address), (name, address)


def test_daemon_unit_directives():
    """The daemon unit is Type=notify with a watchdog, restarts on failure, and is hardened."""
    service = unit("reconciler.service")["Service"]
    assert one(service, "Type") == "notify"
    assert int(one(service, "WatchdogSec")) >= 30
    assert one(service, "Restart") == "on-failure"
    assert one(service, "RestartSec") == "5"
    # 2: a person must act; 3: another process holds the state file
    assert one(service, "RestartPreventExitStatus").split() == ["2", "3"]
    assert int(one(service, "TimeoutStopSec")) > 10
    assert one(service, "ExecStart") == "/usr/local/bin/reconciler run"
    for key, value in HARDENING.items():
        assert one(service, key) == value, key


def test_units_share_configuration_credentials_and_state():
    """Both services read the same config, credentials and state, named as config expects."""
    daemon = unit("reconciler.service")["Service"]
    once = unit("reconciler-once.service")["Service"]
    for section in (daemon, once):
        env = dict(v.split("=", 1) for v in values(section, "Environment"))
        assert env["RECONCILER_CONFIG"] == "/etc/reconciler/reconciler.toml"
        assert env["RECONCILER_STATE__PATH"] == "/var/lib/reconciler/state.sqlite"
        assert env["RECONCILER_QBO__TOKEN_STORE"] == "/var/lib/reconciler/tokens.json"
        # the memory the benchmark measures is the memory the service has
        assert env["MALLOC_ARENA_MAX"] == MALLOC_ARENA_MAX
        for name in env:
            if name.startswith("RECONCILER_") and name != "RECONCILER_CONFIG":
                assert setting_exists(name), name
        creds = dict(v.split(":", 1) for v in values(section, "LoadCredential"))
        assert set(creds) == CREDENTIALS == secret_credential_names() - OPTIONAL_CREDENTIALS
        assert all(creds[n] == f"/etc/reconciler/{n}" for n in creds)
    text = (SYSTEMD / "reconciler.service").read_text()
    for name in OPTIONAL_CREDENTIALS:
        assert f"#LoadCredential={name}:/etc/reconciler/{name}\n" in text, name
    hardening = {k for k, _ in daemon if k.startswith(("Protect", "Restrict", "Private"))}
    assert hardening == {k for k, _ in once if k.startswith(("Protect", "Restrict", "Private"))}


def test_template_unit_is_the_daemon_unit_per_company():
    """reconciler@.service: the daemon unit's every directive, with its own configuration,
    state directory, token store and credentials per instance, and nothing shared."""
    daemon, template = unit("reconciler.service"), unit(TEMPLATE)
    per_instance = {"Environment", "LoadCredential", "StateDirectory", "WorkingDirectory"}
    for section in ("Service", "Install"):
        same = [(k, v) for k, v in daemon[section] if k not in per_instance]
        assert [(k, v) for k, v in template[section] if k not in per_instance] == same, section
    assert "%i" in one(template["Unit"], "Description")
    service = template["Service"]
    env = dict(v.split("=", 1) for v in values(service, "Environment"))
    assert env["RECONCILER_CONFIG"] == "/etc/reconciler/%i.toml"
    assert env["RECONCILER_STATE__PATH"] == "/var/lib/reconciler-%i/state.sqlite"
    assert env["RECONCILER_QBO__TOKEN_STORE"] == "/var/lib/reconciler-%i/tokens.json"
    assert env["MALLOC_ARENA_MAX"] == MALLOC_ARENA_MAX
    assert one(service, "StateDirectory") == "reconciler-%i"
    assert one(service, "WorkingDirectory") == "/var/lib/reconciler-%i"
    for name in env:
        if name.startswith("RECONCILER_") and name != "RECONCILER_CONFIG":
            assert setting_exists(name), name
    creds = dict(v.split(":", 1) for v in values(service, "LoadCredential"))
    assert set(creds) == CREDENTIALS
    assert all(creds[n] == f"/etc/reconciler/%i/{n}" for n in creds)
    text = (SYSTEMD / TEMPLATE).read_text()
    for name in OPTIONAL_CREDENTIALS:
        assert f"#LoadCredential={name}:/etc/reconciler/%i/{name}\n" in text, name

    # Two instances share no file they write or read secrets from.
    def paths(instance: str) -> set[str]:
        wanted = [*env.values(), *creds.values(), one(service, "WorkingDirectory")]
        return {p.replace("%i", instance) for p in wanted if "%i" in p}

    assert not paths("acme") & paths("globex")


def test_timer_variant_runs_one_pass():
    """The timer starts the one-shot service, which runs `run --once` and never overlaps."""
    once = unit("reconciler-once.service")
    timer = unit("reconciler-once.timer")
    assert one(once["Service"], "Type") == "oneshot"
    assert one(once["Service"], "ExecStart") == "/usr/local/bin/reconciler run --once"
    assert one(once["Unit"], "Conflicts") == "reconciler.service"
    assert one(timer["Timer"], "Unit") == "reconciler-once.service"
    assert values(timer["Timer"], "OnUnitInactiveSec")
    assert one(timer["Install"], "WantedBy") == "timers.target"


# --- Docker -----------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """Instructions as (KEYWORD, arguments), continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            out.append((keyword.upper(), args.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile()
    last_from = max(i for i, (k, _) in enumerate(instructions) if k == "FROM")
    return instructions[last_from:]


def instruction(keyword: str) -> list[str]:
    return [args for k, args in final_stage() if k == keyword]


def test_dockerfile_runtime_image():
    """Slim base, non-root uid 10001, state volume, exec-form entry point, port 8787."""
    # Both stages start from BASE, python:3.11-slim unless the build names another (CI's
    # debootstrapped one, .ci/image): the argument is declared before the first FROM.
    instructions = dockerfile()
    assert instructions[0] == ("ARG", "BASE=python:3.11-slim")
    assert [args.split()[0] for k, args in instructions if k == "FROM"] == ["${BASE}", "${BASE}"]
    assert final_stage()[0] == ("FROM", "${BASE}")
    assert instruction("USER") == ["10001:10001"]
    assert json.loads(instruction("VOLUME")[0]) == ["/var/lib/reconciler"]
    assert json.loads(instruction("ENTRYPOINT")[0]) == ["reconciler"]  # exec form: PID 1
    assert json.loads(instruction("CMD")[0]) == ["run"]
    assert instruction("EXPOSE") == ["8787"]
    env = " ".join(instruction("ENV"))
    for assignment in (
        "PYTHONUNBUFFERED=1",
        f"MALLOC_ARENA_MAX={MALLOC_ARENA_MAX}",
        "RECONCILER_STATE__PATH=/var/lib/reconciler/state.sqlite",
        "RECONCILER_QBO__TOKEN_STORE=/var/lib/reconciler/tokens.json",
        "RECONCILER_DAEMON__HEALTH_HOST=0.0.0.0",
        "RECONCILER_LOGGING__FORMAT=json",
        "CREDENTIALS_DIRECTORY=/run/secrets",
    ):
        assert assignment in env.split(), assignment
    for name in re.findall(r"(RECONCILER_[A-Z_]+)=", env):
        assert setting_exists(name), name
    # The dependencies exactly as locked, then the project's wheel with nothing to resolve.
    runs = instruction("RUN")
    assert any("--require-hashes" in r and "-r /tmp/requirements.lock" in r for r in runs)
    assert any("--no-deps /wheels/" in r and "pip check" in r for r in runs)
    assert instruction("COPY")[0] == "requirements.lock /tmp/requirements.lock"


def healthcheck_command() -> list[str]:
    (args,) = instruction("HEALTHCHECK")
    assert "--interval=" in args
    return json.loads(args[args.index("CMD") + 3 :].strip())


@pytest.mark.parametrize("healthy", [True, False])
def test_dockerfile_healthcheck_asks_healthz(healthy):
    """The HEALTHCHECK command exits 0 on a green /healthz and 1 on a red one."""
    command = healthcheck_command()
    assert command[0] == "python"
    state = HealthState(poll_interval=timedelta(minutes=1))
    if not healthy:
        state.set_authorized(False)
    server = serve_health(state, port=0)
    try:
        env = {**os.environ, "RECONCILER_DAEMON__HEALTH_PORT": str(server.port)}
        result = subprocess.run(
            [sys.executable, *command[1:]], env=env, capture_output=True, timeout=30, text=True
        )
    finally:
        server.shutdown()
    assert result.returncode == (0 if healthy else 1)
    # the reason Docker keeps for `docker inspect`, not a traceback (issue 32 case 8)
    expected = "healthy: starting" if healthy else "unhealthy (HTTP 503): QuickBooks authorization"
    assert result.stdout.startswith(expected), result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_dockerignore_keeps_secrets_and_state_out():
    """The build context excludes the venv, git, state and secrets, but keeps the sources."""
    patterns = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv*", "*.sqlite", "*.db", "tokens.json", "reconciler.toml", "secrets"} <= (
        patterns
    )
    assert not patterns & {"reconciler", "pyproject.toml", "README.md", "*.md", "*.toml"}
    assert not patterns & {"requirements.lock", "*.lock", "requirements*"}  # the image's pins


def test_compose_example_is_a_sidecar_with_secrets():
    """The compose example shares app's network, mounts the state volume and the secrets."""
    text = (ROOT / "docker-compose.example.yml").read_text()
    assert 'network_mode: "service:app"' in text
    assert "reconciler-state:/var/lib/reconciler" in text
    assert 'RECONCILER_DAEMON__HEALTH_HOST: "127.0.0.1"' in text
    for name in CREDENTIALS:
        assert f"  {name}:\n    file: ./secrets/{name}" in text
        assert f"      - {name}\n" in text


def test_compose_example_has_a_trial_against_the_emulators():
    """Profile "try": both emulators and the daemon in one network namespace (the emulators
    listen on 127.0.0.1), the daemon's port published on the host's loopback only, every
    setting it sets one that exists. (Run with docker-compose and podman-compose by hand;
    .ci/image runs the same arrangement as a podman pod.)"""
    text = (ROOT / "docker-compose.example.yml").read_text()
    services = re.split(
        r"\n  (?=[a-z-]+:\n)", text.split("\nservices:\n", 1)[1].split("\nvolumes:")[0]
    )
    trial = {s.split(":", 1)[0]: s for s in services if "profiles: [try]" in s}
    assert set(trial) == {"try-sandbox", "try-luminous", "try-reconciler"}
    assert '["sandbox", "qbo", "--port", "8765"]' in trial["try-sandbox"]
    assert '- "127.0.0.1:8787:8787"' in trial["try-sandbox"]
    for name in ("try-luminous", "try-reconciler"):
        assert 'network_mode: "service:try-sandbox"' in trial[name]
    daemon = trial["try-reconciler"]
    for name in re.findall(r"^\s+(RECONCILER_[A-Z_]+):", daemon, re.M):
        assert setting_exists(name), name
    assert 'os.execvp("reconciler", ["reconciler", "run"])' in daemon
    for hardening in ("read_only: true", "- ALL", '"no-new-privileges:true"'):
        assert hardening in daemon
