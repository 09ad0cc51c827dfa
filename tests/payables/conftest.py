"""Accounts payable end to end: both emulators in this process, the daemon as a subprocess. The
reliability suite's kit (tests/crash/reliability_kit.py) runs them."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "crash"))
