"""The reliability suite (crash, faults, bad input, identity, security) shares one kit,
`reliability_kit.py` beside this file (pytest puts this folder on `sys.path` for it).

Every test here ends with the sentinel scan: no secret the suite handed out (the sentinels)
or the emulator issued (every access and refresh token) may appear in any output the test
recorded (child processes' stdout and stderr, in-process events). Per test, so it holds
whichever worker of `pytest -n` ran the test and in whatever order.
"""

from __future__ import annotations

import pytest
from reliability_kit import CAPTURED


@pytest.fixture(autouse=True)
def _no_secret_in_what_the_test_recorded():
    start = len(CAPTURED.outputs)
    yield
    leaks = CAPTURED.leaks(since=start)
    assert leaks == [], f"secrets in recorded output: {leaks}"
