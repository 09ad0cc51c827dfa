"""The reliability suite's shared kit lives in tests/crash (reliability_kit.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "crash"))
