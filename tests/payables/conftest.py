"""Accounts payable end to end: both emulators in this process, the daemon as a subprocess (the
reliability suite's kit, tests/reliability/reliability_kit.py) or a pass in process (the sync
harness, tests/integration/sync_harness.py). The kit's sentinel scan ends every test here too.
"""

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "reliability"))
sys.path.insert(0, str(TESTS / "integration"))

from reliability_kit import no_secret_in_recorded_output  # noqa: E402, F401 (autouse, per test)
