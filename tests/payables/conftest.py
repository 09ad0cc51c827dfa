"""Accounts payable end to end: both emulators in this process, the daemon as a subprocess (the
reliability suite's kit, tests/crash/reliability_kit.py) or a pass in process (the sync
harness, tests/integration/sync_harness.py)."""

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "crash"))
sys.path.insert(0, str(TESTS / "integration"))
