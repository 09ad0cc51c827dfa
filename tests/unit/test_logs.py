"""Logging processors: secrets never reach a log line."""

import io
import json

import pytest

from reconciler import logs


@pytest.fixture(autouse=True)
def _clean_registry():
    logs.SECRETS.clear()
    yield
    logs.SECRETS.clear()


def test_secret_keys_are_masked():
    """Values under secret-looking keys are replaced, whatever their value."""
    out = logs.redact_secrets(
        None, "info", {"event": "x", "access_token": "abc123xyz", "client_secret": "s3cr3t!!"}
    )
    assert out["access_token"] == "***"
    assert out["client_secret"] == "***"


def test_registered_values_are_scrubbed_anywhere():
    """A registered secret inside an ordinary message or nested value is masked."""
    logs.register_secrets(["rt-SENTINEL-4242"])
    out = logs.redact_secrets(
        None,
        "info",
        {"event": "refresh with rt-SENTINEL-4242 failed", "detail": {"body": ["rt-SENTINEL-4242"]}},
    )
    assert "SENTINEL" not in json.dumps(out)


def test_bearer_header_values_are_masked():
    """An Authorization header echoed in an error message is masked."""
    out = logs.redact_secrets(None, "info", {"event": "got Bearer eyJabc.def-ghi back"})
    assert out["event"] == "got Bearer *** back"


def test_exception_text_is_scrubbed_and_has_no_locals():
    """A logged exception carries its traceback but no frame locals and no secrets."""
    logs.register_secrets(["tok-SENTINEL-9999"])
    stream = io.StringIO()
    logs.configure(json_output=True, stream=stream)

    def fails():
        local_secret = "tok-SENTINEL-9999"  # noqa: F841 - must not be rendered
        raise ValueError("bad token tok-SENTINEL-9999")

    try:
        fails()
    except ValueError:
        logs.get_logger().exception("boom")
    line = json.loads(stream.getvalue())
    assert "ValueError" in line["exception"]
    assert "SENTINEL" not in stream.getvalue()
    assert "local_secret" not in line["exception"]


def test_short_values_are_not_registered():
    """Very short strings would mask ordinary words, so they are not scrubbed by value."""
    logs.register_secrets(["abc"])
    out = logs.redact_secrets(None, "info", {"event": "abcdef"})
    assert out["event"] == "abcdef"
