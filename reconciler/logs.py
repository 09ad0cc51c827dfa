"""The one place that configures structlog.

Behaviour lives in small processors (plain functions on the event dict), so each is tested on
its own: `redact_secrets` masks values under secret-looking keys, and runs every string
through `reconciler.redact` (registered secret values and secret shapes), including exception
text. Tracebacks are rendered
without local variables, so a token held in a frame never reaches a log line.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

from reconciler.redact import REDACTED, SECRETS, SecretRegistry, register

__all__ = ["REDACTED", "SECRETS", "configure", "get_logger", "redact_secrets", "register_secrets"]

_SECRET_KEY = re.compile(
    r"(token|secret|password|passwd|authorization|api[_-]?key|credential|cookie|bearer)",
    re.IGNORECASE,
)


def _scrub_value(key: str | None, value: Any, registry: SecretRegistry) -> Any:
    if key is not None and _SECRET_KEY.search(key) and value not in (None, "", False):
        return REDACTED
    if isinstance(value, str):
        return registry.scrub(value)
    if isinstance(value, MutableMapping):
        return {k: _scrub_value(str(k), v, registry) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub_value(None, v, registry) for v in value)
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Mask secrets by key name and by value; runs last, after exceptions are rendered."""
    for key in list(event_dict):
        if key == "event":
            event_dict[key] = _scrub_value(None, event_dict[key], SECRETS)
        else:
            event_dict[key] = _scrub_value(key, event_dict[key], SECRETS)
    return event_dict


def _plain_traceback(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Render exc_info as a plain traceback string: no frame locals, ever."""
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        if exc_info is True:
            exc_info = sys.exc_info()
        if isinstance(exc_info, BaseException):
            exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
        if exc_info and exc_info[0] is not None:
            import traceback

            event_dict["exception"] = "".join(traceback.format_exception(*exc_info))
    return event_dict


def processors(json_output: bool) -> list[Any]:
    chain: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _plain_traceback,
        redact_secrets,
    ]
    if json_output:
        chain.append(structlog.processors.JSONRenderer(default=str, sort_keys=False))
    else:
        chain.append(
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
        )
    return chain


class CurrentStream:
    """`sys.stdout` or `sys.stderr` as they are at write time, not at configure time (a
    redirected or replaced stream keeps working)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, text: str) -> int:
        return getattr(sys, self.name).write(text)

    def flush(self) -> None:
        getattr(sys, self.name).flush()


class ToStructlog(logging.Handler):
    """What other libraries log through the standard `logging` (urllib3, intuit-oauth,
    APScheduler), as our own events: the same format, the same redaction, never a plain-text
    line of its own on the terminal. Warnings and above (their debug chatter stays out)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields: dict[str, Any] = {"logger": record.name}
            if record.exc_info:
                fields["exc_info"] = record.exc_info
            method = record.levelname.lower()
            log = get_logger(record.name)
            getattr(log, method if method in _METHODS else "warning")(record.getMessage(), **fields)
        except Exception:  # a log line must never take anything down
            self.handleError(record)


_METHODS = ("debug", "info", "warning", "error", "critical")


def _bridge_stdlib() -> None:
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, ToStructlog)]:
        root.removeHandler(handler)
    root.addHandler(ToStructlog())
    root.setLevel(logging.WARNING)


def configure(
    *, level: str = "info", json_output: bool = True, stream: TextIO | str = "stderr"
) -> None:
    """Configure structlog for the process: JSON lines to stderr, stdout, or a given stream;
    the standard library's records go the same way (`ToStructlog`)."""
    _bridge_stdlib()
    structlog.configure(
        processors=processors(json_output),
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(
            file=CurrentStream(stream) if isinstance(stream, str) else stream
        ),
        cache_logger_on_first_use=False,
    )


def level_number(name: str) -> int:
    return logging.getLevelNamesMapping()[name.upper()]


def register_secrets(values: Iterable[str | None]) -> None:
    register(values)


def get_logger(name: str = "reconciler") -> Any:
    return structlog.get_logger(name)
