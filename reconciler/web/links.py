"""Where a document lives outside the sync: its page in QBO's web app and in Luminous's.

QBO: a link that names no company opens the transaction in whichever company the browser is
signed in to, so an accountant with several companies lands in the wrong one. The link goes
through QBO's sign-in with `deeplinkcompanyid` (the realm) and `pagereq` (the page and its
txnId): the company-scoped deep link QBO itself hands out (seen in public integrations:
`qbo.intuit.com/app/login?pagereq=invoice%3FtxnId%3D..&deeplinkcompanyid=..`).

Luminous: its web app's addresses are not in its API's documentation, so the page links
there only when `[status_page] luminous_url` says how, a template such as
`https://acme.joinluminous.com/{resource}/{id}` (`{resource}`: purchase-orders, bills,
receiving-reports, the API's own names; `{id}`: the Luminous id).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from reconciler.model import DocKind

QBO_APP = {
    "production": "https://qbo.intuit.com",
    "sandbox": "https://sandbox.qbo.intuit.com",
}


@dataclass(frozen=True)
class Links:
    """The links of one configuration (one QBO company, one Luminous account)."""

    environment: str = "production"
    realm_id: str = ""
    luminous_url: str = ""  # a template with {resource} and {id}; empty: no Luminous links

    def qbo(self, kind: DocKind, qbo_id: str) -> str:
        """The document in QBO's web app, in this company (the sandbox app for a sandbox)."""
        shown = qbo_id if qbo_id.isdigit() else quote(qbo_id, safe="")
        if not self.realm_id:
            return f"{self._app()}/app/{kind.qbo_page}?txnId={shown}"
        return f"{self._prefix(kind)}{shown}"

    def _app(self) -> str:
        return QBO_APP["sandbox" if self.environment == "sandbox" else "production"]

    def _prefix(self, kind: DocKind) -> str:
        """The deep link up to the txnId, the part every document of a kind shares."""
        return (
            f"{self._app()}/app/login?deeplinkcompanyid={quote(self.realm_id, safe='')}"
            f"&pagereq={kind.qbo_page}%3FtxnId%3D"
        )

    def luminous(self, kind: DocKind, doc_id: int) -> str | None:
        if not self.luminous_url or kind.luminous_page is None:
            return None
        return self.luminous_url.replace("{resource}", kind.luminous_page).replace(
            "{id}", str(int(doc_id))
        )


def luminous_template_problem(template: str) -> str | None:
    """Why a `luminous_url` setting cannot be used (None: it can)."""
    if not template:
        return None
    if not template.startswith(("https://", "http://")):
        return "status_page.luminous_url must start with https:// (or http://)"
    if "{id}" not in template:
        return "status_page.luminous_url must contain {id} (and may contain {resource})"
    return None
