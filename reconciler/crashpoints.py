"""Named crash points for the crash-safety suite.

`crash_point("name")` does nothing unless the process was started with
`RECONCILER_CRASH_AT=name` (or `name:N` to die at the N-th time the point is reached); then it
kills the process with SIGKILL on the spot: no cleanup, no flush, exactly like a power cut or
an OOM kill. Production never sets the variable; the cost is one dict lookup.

The points (where a crash could hurt the most):
    page_read            a page of Luminous POs has been read
    ledger_pending       the requestid is committed to the ledger, request not yet sent
    qbo_no_reply         a QBO write was sent and its answer never arrived (connection lost)
    qbo_answered         QBO answered a write; the ledger does not know yet
    before_checkpoint    outcomes recorded; the end-of-pass checkpoint move not yet made
    token_refresh_start  room for the new tokens reserved; the refresh not yet asked for
    token_issued         a refresh token was rotated by the token endpoint, not yet stored
    token_saving         the new tokens written and synced beside the store, not yet renamed
    vendor_created       QBO created the vendor; the vendor map does not know yet
"""

from __future__ import annotations

import os
import signal
import threading

POINTS = (
    "page_read",
    "ledger_pending",
    "qbo_no_reply",
    "qbo_answered",
    "before_checkpoint",
    "token_refresh_start",
    "token_issued",
    "token_saving",
    "vendor_created",
)

_armed_name, _, _armed_count = os.environ.get("RECONCILER_CRASH_AT", "").partition(":")
_remaining = int(_armed_count) if _armed_count.isdigit() else 1
_lock = threading.Lock()


def crash_point(name: str) -> None:
    """SIGKILL this process here if the crash suite armed this point."""
    global _remaining
    if name != _armed_name:
        return
    with _lock:
        _remaining -= 1
        if _remaining > 0:
            return
    os.kill(os.getpid(), signal.SIGKILL)
