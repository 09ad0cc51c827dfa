"""Suite-wide hygiene: every test starts with structlog's defaults and no registered secrets,
and Hypothesis runs under one profile that a slow machine cannot fail.

The `ci` profile (always loaded; `HYPOTHESIS_PROFILE=dev` for the library defaults): no
deadline, no `too_slow` health check (a loaded 2-core runner makes generation slow, not
wrong), at most `MAX_EXAMPLES` examples unless a test asks for fewer, and the seed printed in
the report header so a failure can be replayed with `--hypothesis-seed`.
"""

import logging
import os
import random

import pytest
import structlog
from hypothesis import HealthCheck, settings

from reconciler import logs

MAX_EXAMPLES = 100
SEED = int(os.environ.get("RECONCILER_HYPOTHESIS_SEED") or random.SystemRandom().randrange(2**32))

settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    max_examples=MAX_EXAMPLES,
    print_blob=True,
)
settings.register_profile("dev")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _seed(config) -> int:
    given = getattr(config.option, "hypothesis_seed", None)
    return int(given) if given is not None else SEED


def pytest_configure(config):
    """Every Hypothesis test draws from one seed per run (printed below), so a failure on a
    runner can be replayed exactly."""
    from hypothesis import core

    core.global_force_seed = _seed(config)


def pytest_report_header(config):
    seed, profile = _seed(config), settings.get_current_profile_name()
    return f"hypothesis: profile {profile}, seed {seed} (replay: --hypothesis-seed={seed})"


@pytest.fixture(autouse=True)
def _fresh_logging():
    """A test that configures logging (the CLI does) must not leak it into the next test."""
    yield
    structlog.reset_defaults()
    logs.SECRETS.clear()
    root = logging.getLogger()  # (logs.configure bridges the standard library's records)
    for handler in [h for h in root.handlers if isinstance(h, logs.ToStructlog)]:
        root.removeHandler(handler)
