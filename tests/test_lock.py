"""The lock files pin what pyproject.toml asks for, with hashes, and agree with each other.

requirements.lock (runtime: the image, installs) and requirements-dev.lock (plus the test and
encryption extras: CI, developers) are made by scripts/lock. A dependency added to
pyproject.toml without refreshing them fails here before it fails an install.
"""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)\s*(;[^\\]*)?\\?$")


def parse_lock(name: str) -> dict[str, tuple[str, frozenset[str]]]:
    """name -> (version, sha256 hashes) for every pin of a lock file."""
    pins: dict[str, tuple[str, frozenset[str]]] = {}
    current = None
    for line in (ROOT / name).read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            assert current not in pins, f"{name}: {current} pinned twice"
            pins[current] = (match.group(2), frozenset())
            continue
        hashed = re.fullmatch(r"\s+--hash=sha256:([0-9a-f]{64})\s*\\?", line)
        assert hashed and current, f"{name}: unexpected line {line!r}"
        version, hashes = pins[current]
        pins[current] = (version, hashes | {hashed.group(1)})
    return pins


RUNTIME = parse_lock("requirements.lock")
DEV = parse_lock("requirements-dev.lock")


def requirements(*extras: str) -> list[Requirement]:
    wanted = list(PROJECT["dependencies"])
    for extra in extras:
        wanted += PROJECT["optional-dependencies"][extra]
    return [Requirement(r) for r in wanted]


def test_every_pin_carries_hashes():
    """`pip install --require-hashes` needs a hash for every file it may pick."""
    for pins in (RUNTIME, DEV):
        for name, (_, hashes) in pins.items():
            assert hashes, name


def test_runtime_lock_pins_every_dependency_within_its_range():
    for req in requirements():
        name = canonicalize_name(req.name)
        assert name in RUNTIME, f"{req.name} is not in requirements.lock: run scripts/lock"
        assert req.specifier.contains(RUNTIME[name][0], prereleases=True), (req, RUNTIME[name])


def test_dev_lock_pins_the_test_and_encryption_extras_too():
    for req in requirements("test", "encryption"):
        name = canonicalize_name(req.name)
        assert name in DEV, f"{req.name} is not in requirements-dev.lock: run scripts/lock"
        assert req.specifier.contains(DEV[name][0], prereleases=True), (req, DEV[name])


def test_runtime_pins_are_the_dev_pins():
    """One version of each package everywhere: what CI tests is what the image runs."""
    for name, (version, hashes) in RUNTIME.items():
        assert name in DEV, name
        assert DEV[name][0] == version, (name, version, DEV[name][0])
        assert hashes <= DEV[name][1], name


def test_the_locks_say_how_to_refresh_them():
    script = (ROOT / "scripts" / "lock").read_text()
    uv = re.search(r'^UV_VERSION="([0-9.]+)"', script, re.M).group(1)
    for name in ("requirements.lock", "requirements-dev.lock"):
        head = (ROOT / name).read_text().splitlines()[:2]
        assert head[0] == f"# {name}: generated from pyproject.toml by scripts/lock (uv {uv}); " + (
            "do not edit."
        )
        assert "scripts/lock --upgrade" in head[1]
