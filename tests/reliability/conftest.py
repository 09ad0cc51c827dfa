"""The reliability suite (crash, faults, bad input, identity, security, production) shares one
kit, `reliability_kit.py` beside this file (pytest puts this folder on `sys.path` for it).

Every test here ends with the kit's sentinel scan (`no_secret_in_recorded_output`): no secret
may appear in any output the test recorded (child processes' stdout and stderr, in-process
events).
"""

from reliability_kit import no_secret_in_recorded_output  # noqa: F401 (autouse, per test)
