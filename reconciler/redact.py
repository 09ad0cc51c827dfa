"""One redaction for everything the sync persists or prints: logs, the ledger and its history,
the runs table, `status` (table and JSON), `doctor`, the status page and error messages.

A secret is removed by value (every token, API key and client secret this process holds is
registered here before anything is logged or written) and by shape, for the ones it does not
hold (a fault body echoing another token): `Bearer …`, `Basic …`, and `refresh_token=…`,
`access_token=…`, `client_secret=…` and the like, in query strings, headers or JSON.
QBO and Luminous have been seen to echo request headers in fault details; those details reach
the ledger through error messages, so the ledger writes through here too.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

REDACTED = "***"
_NAMES = (
    r"(?:refresh_token|access_token|id_token|client_secret|api_token|api_key|password|token_key)"
)
SHAPES = (
    re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
    re.compile(r"(\bBasic\s+)[A-Za-z0-9+/=]{8,}", re.IGNORECASE),
    re.compile(rf"(\"{_NAMES}\"\s*:\s*\")[^\"]+", re.IGNORECASE),
    re.compile(rf"(\b{_NAMES}\s*[=:]\s*['\"]?)[^\s&'\",;}}]+", re.IGNORECASE),
    re.compile(r"((?<![\w])code=)[A-Za-z0-9._~-]{8,}"),  # an OAuth code in a redirect URL
)
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words
# Every shape holds one of these (lower-cased): text with none of them skips the patterns.
_SHAPE_WORDS = ("bearer", "basic", "token", "secret", "password", "api_key", "code=")


class SecretRegistry:
    """Secret values known at run time (tokens, client secret, API key) to scrub from output."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._longest_first: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, *values: str | None) -> None:
        with self._lock:
            for value in values:
                if value and len(value) >= MIN_SECRET_LENGTH:
                    self._values.add(value)
            self._longest_first = tuple(sorted(self._values, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        for value in self._longest_first:  # (a tuple swapped whole: no lock to read it)
            if value in text:
                text = text.replace(value, REDACTED)
        lowered = text.lower()
        if any(word in lowered for word in _SHAPE_WORDS):
            for shape in SHAPES:
                text = shape.sub(r"\1" + REDACTED, text)
        return text

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._longest_first = ()


SECRETS = SecretRegistry()


def scrub(text: str | None) -> str | None:
    """`text` without any secret this process knows or recognises by shape."""
    return SECRETS.scrub(text) if text else text


def register(values: Iterable[str | None]) -> None:
    SECRETS.add(*values)
