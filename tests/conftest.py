"""Suite-wide hygiene: every test starts with structlog's defaults and no registered secrets."""

import pytest
import structlog

from reconciler import logs


@pytest.fixture(autouse=True)
def _fresh_logging():
    """A test that configures logging (the CLI does) must not leak it into the next test."""
    yield
    structlog.reset_defaults()
    logs.SECRETS.clear()
