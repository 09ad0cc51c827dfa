"""What a person does about a failure, by its error code: the status page's "Failures by
reason" and `reconciler status --code` say it next to the count.

The codes are the ones the ledger records: QBO's fault codes (qbo-api.md "Errors"), HTTP
statuses of transient trouble, and the sync's own (`documents.actions`, `write/`, `resolve/`).
A code not listed gets the general advice: read the message on the document's page.
"""

from __future__ import annotations

RETRY = "`reconciler retry --failed --code {code}` (or the page's retry) once it is fixed"
FIXES: dict[str, str] = {
    "po_not_pushed": (
        "The bill's PO will not be pushed (a draft, awaiting approval, or deleted in QBO). "
        'Approve or fix the PO in Luminous, or set [bills] unpushed_po = "unlinked" to post '
        "such bills without the link."
    ),
    "po_not_in_qbo": "Nothing to do: the bill goes as soon as its PO is in QuickBooks.",
    "bill_not_pushed": (
        "The bill this payment or credit application pays is not pushed (skipped or failed; "
        "the reason names it). Fix that bill first; this one follows on the next pass."
    ),
    "bill_not_in_qbo": "Nothing to do: it goes as soon as its bill is in QuickBooks.",
    "future_updated_at": (
        "Luminous stamped the document later than both clocks; it is taken up once that time "
        "has passed. Check the Luminous server's clock if this lasts."
    ),
    "6240": (
        "A vendor, customer or employee in QuickBooks already has this name. Rename one of "
        "them (or make the QuickBooks vendor active), then " + RETRY + "."
    ),
    "6140": (
        "QuickBooks already holds a document with this number; the next pass looks it up and "
        "adopts it, or names the conflict."
    ),
    "6000": (
        "QuickBooks refused the change (a closed or billed PO, a missing tax code): read the "
        "message, fix it in QuickBooks or Luminous, then " + RETRY + "."
    ),
    "610": "A referenced vendor, item or account is missing or inactive in QuickBooks.",
    "5010": "Someone edited it in QuickBooks meanwhile; the next pass reads it again.",
    "vendor_inactive": "Make the vendor active in QuickBooks, then " + RETRY + ".",
    "item_inactive": "Make the item active in QuickBooks, then " + RETRY + ".",
    "class_inactive": "Make the class active in QuickBooks, or change [classes].",
    "location_inactive": "Make the location active in QuickBooks, or change [locations].",
    "unresolved_item": "The item could not be found or created in QuickBooks: see the message.",
    "unresolved_reference": "A class, location or tax code is not in QuickBooks: add it there.",
    "invalid_source_record": (
        "The document in Luminous cannot become a QuickBooks document as it is (the message "
        "says which field): correct it in Luminous; the next pass takes the new version."
    ),
    "link_missing": (
        "QuickBooks created the bill but dropped its link to the PO line: check the PO in "
        "QuickBooks, then " + RETRY + " (the line is sent again, linked)."
    ),
    "vendor_differs": "The bill's vendor is not its PO's: correct the bill in Luminous.",
    "bill_paid": "The bill is paid in QuickBooks and is never edited: change it there by hand.",
    "429": "QuickBooks throttled the requests; retried automatically.",
    "500": "QuickBooks failed; retried automatically.",
    "502": "QuickBooks was unreachable; retried automatically.",
    "503": "QuickBooks was unavailable; retried automatically.",
    "504": "QuickBooks did not answer in time; retried automatically.",
    "no_answer": (
        "No answer came from QuickBooks; the next pass looks the document up before sending "
        "it again, so it is never created twice."
    ),
}
GENERAL = "Open a document of this group: its page has QuickBooks' full message and history."


def fix_for(code: str | None) -> str:
    """The advice for one error code (the general advice for an unknown one)."""
    if code is None:
        return GENERAL
    return FIXES.get(code, GENERAL).replace("{code}", code)
