"""What a pass remembers of every document until it ends, at a few bytes each: the ids it
recorded (`IdSet`, 8 bytes an id) and the document that first took each number (`KeyOwners`,
24 bytes a number). As Python sets and dicts they cost about 70 and 100 bytes each, 1.3 MB of a
10,000-PO backlog's peak, growing with the backlog.

Both keep a sorted array, newcomers in a small set or dict merged in every `MERGE_AT`; an id
outside 64 bits (no Luminous id is) stays in the plain one."""

from __future__ import annotations

import hashlib
import heapq
from array import array
from bisect import bisect_left
from collections.abc import Iterator

MERGE_AT = 1024
_LOW, _HIGH = -(2**63), 2**63


class IdSet:
    def __init__(self) -> None:
        self._sorted = array("q")
        self._recent: set[int] = set()
        self._wide: set[int] = set()

    def add(self, doc_id: int) -> None:
        if not _LOW <= doc_id < _HIGH:
            self._wide.add(doc_id)
        elif doc_id not in self:
            self._recent.add(doc_id)
            if len(self._recent) >= MERGE_AT:
                self._merge()

    def _merge(self) -> None:
        self._sorted = array("q", heapq.merge(self._sorted, sorted(self._recent)))
        self._recent.clear()

    def __contains__(self, doc_id: object) -> bool:
        if not isinstance(doc_id, int):
            return False
        if doc_id in self._recent or doc_id in self._wide:
            return True
        if not _LOW <= doc_id < _HIGH:
            return False
        at = bisect_left(self._sorted, doc_id)
        return at < len(self._sorted) and self._sorted[at] == doc_id

    def __iter__(self) -> Iterator[int]:
        yield from self._sorted
        yield from self._recent
        yield from self._wide

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent) + len(self._wide)


class KeyOwners:
    """key -> the document that first claimed it, keyed by the key's 128-bit BLAKE2 digest (the
    strength of `mapping.content_hash`, which decides whether a PO is written at all)."""

    def __init__(self) -> None:
        self._hi = array("Q")
        self._lo = array("Q")
        self._doc = array("q")
        self._recent: dict[tuple[int, int], int] = {}
        self._wide: dict[tuple[int, int], int] = {}  # owners outside 64 bits

    def claim(self, key: str, doc_id: int) -> int:
        """The key's owner: the document that claimed it first, `doc_id` if none did."""
        digest = _digest(key)
        owner = self._recent.get(digest, self._wide.get(digest))
        if owner is None:
            owner = self._merged_owner(digest)
        if owner is not None:
            return owner
        if not _LOW <= doc_id < _HIGH:
            self._wide[digest] = doc_id
        else:
            self._recent[digest] = doc_id
            if len(self._recent) >= MERGE_AT:
                self._merge()
        return doc_id

    def _merged_owner(self, digest: tuple[int, int]) -> int | None:
        hi, lo = digest
        at = bisect_left(self._hi, hi)
        while at < len(self._hi) and self._hi[at] == hi:
            if self._lo[at] == lo:
                return self._doc[at]
            at += 1
        return None

    def _merge(self) -> None:
        merged = heapq.merge(
            zip(self._hi, self._lo, self._doc, strict=True),
            sorted((hi, lo, doc) for (hi, lo), doc in self._recent.items()),
        )
        self._hi, self._lo, self._doc = array("Q"), array("Q"), array("q")
        for hi, lo, doc in merged:
            self._hi.append(hi)
            self._lo.append(lo)
            self._doc.append(doc)
        self._recent.clear()

    def __len__(self) -> int:
        return len(self._hi) + len(self._recent) + len(self._wide)


def _digest(key: str) -> tuple[int, int]:
    raw = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:], "big")
