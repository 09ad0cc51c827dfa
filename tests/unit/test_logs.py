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


def test_other_libraries_log_through_structlog_redacted(capsys):
    """Issue 32 case 11: urllib3, intuit-oauth and APScheduler log through the standard
    `logging`; their lines used to bypass structlog and its redaction and reach stderr as plain
    text. Now they are JSON events like ours, scrubbed."""
    import json
    import logging

    logging.disable(logging.NOTSET)  # (another test in this process may have touched them)
    for name in ("urllib3.connectionpool", "apscheduler.executors.default"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.NOTSET)
        logger.disabled, logger.propagate = False, True
    logs.configure(level="INFO", json_output=True, stream="stdout")
    logs.register_secrets(["RT1-refresh-token-in-a-url-0123456789"])
    logging.getLogger("urllib3.connectionpool").warning(
        "Retrying after connection broken: %s",
        "/oauth?refresh=RT1-refresh-token-in-a-url-0123456789",
    )
    logging.getLogger("apscheduler.executors.default").error("Job raised an exception")
    logging.getLogger("urllib3.connectionpool").debug("Starting new HTTP connection (1)")
    out, err = capsys.readouterr()
    names = ("urllib3.connectionpool", "apscheduler.executors.default")
    # (a thread another test left behind may log meanwhile: only these two are looked at)
    parsed = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    lines = [e for e in parsed if e.get("logger") in names]
    assert [(e["logger"], e["level"]) for e in lines] == [
        ("urllib3.connectionpool", "warning"),
        ("apscheduler.executors.default", "error"),
    ]
    assert "RT1-refresh-token" not in out and "***" in lines[0]["event"]
    assert err == ""  # nothing in plain text
