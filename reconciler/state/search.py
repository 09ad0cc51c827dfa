"""How text is folded for a search: one key for the ways a name is spelt.

Luminous holds "Acme- West Division" and "Acme: West Division" for one vendor, and a person
types "acme west" or "Cote" for "Côté". The key is the text case-folded, its accents dropped,
and every run of anything but letters and digits made one space; the ledger keeps the key of
each vendor (`ledger.vendor_key`, indexed) and a search folds its words the same way.
"""

from __future__ import annotations

import re
import unicodedata

_NOT_WORD = re.compile(r"[\W_]+")


def search_key(text: str | None) -> str | None:
    """The folded form of `text` (None stays None): "Côté: Fournitures" -> "cote fournitures"."""
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", bare).strip()
