"""Errors, named by what the caller does about them.

    ReconcilerError
    ├── Retryable        back off, then try again with the same requestid
    │   ├── UnclearOutcome          timeout / reset after sending: the write may have happened
    │   ├── QBORetryableFault       5xx SystemFault, 3001 throttle (ThrottledFault), 5010 stale
    │   └── LuminousUnavailable     Luminous 429 / 5xx / connection trouble
    ├── Parked           wait until the PO changes or a user asks for a retry
    │   └── QBOParkedFault          6240 duplicate name, 6140 duplicate DocNumber, 6000, 2020,
    │                               610 / 2500 bad reference, unknown codes
    ├── Fatal            stop the pass: configuration, authorization, wrong realm
    │   ├── ConfigError             every problem listed at once
    │   ├── AuthorizationLost       refresh token used/revoked: run `reconciler auth connect`
    │   ├── QBOFatalFault           3200 after a refresh, 3100/120 authorization faults
    │   └── LuminousAuthError       Luminous 401
    └── BadInput         record the reason against the PO and skip it
        └── InvalidSourceRecord     a Luminous record that cannot be parsed or mapped

Protocol errors keep the remote code, message, detail, element and `intuit_tid`, so a status
line can say exactly what QBO said. The table from QBO fault code to class is in
`reconciler.qbo.faults`.
"""

from __future__ import annotations


class ReconcilerError(Exception):
    """Root of everything reconciler raises on purpose."""

    code: str | None = None
    fix: str | None = None  # what a person does about it, when the error knows (`fix_for`)

    def __init__(self, message: str, *, code: str | None = None, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if fix is not None:
            self.fix = fix

    def __str__(self) -> str:
        return self.message


def code_of(exc: BaseException) -> str | None:
    """The error's code when it has one (QBO's, Luminous's status, ours)."""
    return getattr(exc, "code", None)


def fix_for(exc: BaseException | None) -> str:
    """What a person does about an error that stopped a pass (alerts, logs, the exit line):
    the error's own `fix` when it names one, else the fix for its kind."""
    if isinstance(exc, ReconcilerError) and exc.fix:
        return exc.fix
    for kind, hint in _FIXES:
        if isinstance(exc, kind):
            return hint
    if isinstance(exc, Fatal):
        return "fix the cause named in the reason, then start the service again"
    if isinstance(exc, ReconcilerError):
        return "nothing, if it clears: the next passes try again (check the reason if it lasts)"
    return (
        "none needed to keep syncing (the next pass runs as usual); this is a bug: the "
        "`pass_crashed` log event has the traceback to report"
    )


class Retryable(ReconcilerError):
    """Transient: back off and try again; a write retries with the same requestid."""

    retry_after: float | None = None


class Parked(ReconcilerError):
    """Permanent for this content: wait for the PO to change or for `reconciler retry`."""


class Fatal(ReconcilerError):
    """The pass cannot go on: configuration, authorization or wrong company."""


class BadInput(ReconcilerError):
    """The source record itself is wrong: record the reason for that PO and carry on."""


# --- general ---------------------------------------------------------------------------


class ConfigError(Fatal):
    """Configuration problems, all reported together."""

    def __init__(self, problems: list[str] | tuple[str, ...]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"configuration has {len(self.problems)} problem(s):\n{lines}")


class AuthorizationLost(Fatal):
    """The QBO connection is gone (refresh token used, expired or revoked)."""

    def __init__(self, message: str = "") -> None:
        super().__init__(
            (message + "; " if message else "")
            + "the QuickBooks connection must be renewed: run `reconciler auth connect`",
            code="invalid_grant",
        )


class UnclearOutcome(Retryable):
    """The request was sent but no answer came: it may or may not have taken effect."""


class InvalidSourceRecord(BadInput):
    """A Luminous record that cannot be turned into its QBO document."""

    def __init__(self, message: str, *, doc_id: int | None = None) -> None:
        super().__init__(message, code="invalid_source_record")
        self.doc_id = doc_id


# --- QBO faults ------------------------------------------------------------------------


class QBOFault(ReconcilerError):
    """A Fault answer from QBO, first error's fields kept."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None,
        http_status: int | None = None,
        detail: str | None = None,
        element: str | None = None,
        fault_type: str | None = None,
        intuit_tid: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.http_status = http_status
        self.detail = detail
        self.element = element
        self.fault_type = fault_type
        self.intuit_tid = intuit_tid

    def __str__(self) -> str:
        text = f"QBO {self.code}: {self.message}"
        if self.detail and self.detail != self.message:
            text += f" ({self.detail})"
        return text


class QBORetryableFault(QBOFault, Retryable):
    """A QBO fault worth retrying as is (system fault)."""


class ThrottledFault(QBORetryableFault):
    """429 / 3001: over the realm's request rate or concurrency."""


class StaleObjectFault(QBORetryableFault):
    """5010: our SyncToken is old; re-read, re-apply, retry."""


class QBOParkedFault(QBOFault, Parked):
    """A QBO validation or business-rule fault: the same request would fail again."""


class DuplicateNameFault(QBOParkedFault):
    """6240: the name is taken in the shared vendor/customer/employee name list."""


class DuplicateDocNumberFault(QBOParkedFault):
    """6140: another transaction already uses this DocNumber."""


class ObjectNotFoundFault(QBOParkedFault):
    """610 / 2500: a referenced object is missing or inactive; re-resolve the reference."""


class QBOFatalFault(QBOFault, Fatal):
    """Authentication or authorization faults that a refresh did not cure."""


# --- Luminous --------------------------------------------------------------------------


class LuminousHTTPError(ReconcilerError):
    """An error answer from Luminous, status kept."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, code=str(status) if status is not None else None)
        self.status = status


class LuminousUnavailable(LuminousHTTPError, Retryable):
    """Luminous is throttling, failing or unreachable; try the pass again later."""


class LuminousAuthError(LuminousHTTPError, Fatal):
    """Luminous refused the API token."""


_FIXES: tuple[tuple[type[BaseException], str], ...] = (
    (ConfigError, "correct the configuration, then start the service again"),
    (AuthorizationLost, "run `reconciler auth connect`, then start the service again"),
    (QBOFatalFault, "run `reconciler auth connect`, then start the service again"),
    (LuminousAuthError, "replace the Luminous API token credential, then start again"),
    (
        LuminousUnavailable,
        "nothing, if it clears: Luminous is unreachable or asked us to slow down; check "
        "luminous.base_url and Luminous's status if it lasts",
    ),
    (
        QBORetryableFault,
        "nothing, if it clears: QuickBooks is failing or throttling; check Intuit's status "
        "page if it lasts",
    ),
)
