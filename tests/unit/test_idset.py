"""`idset.IdSet`: exact membership whether an id is still among the newcomers or merged into
the sorted array, in any order, with repeats and ids beyond 64 bits."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from reconciler.idset import MERGE_AT, IdSet, KeyOwners


@given(st.lists(st.integers(min_value=-(2**70), max_value=2**70), max_size=300))
def test_it_holds_exactly_what_was_added(ids):
    found = IdSet()
    for doc_id in ids:
        found.add(doc_id)
    assert sorted(found) == sorted(set(ids)) and len(found) == len(set(ids))
    for probe in [*ids, *(i + 1 for i in ids), 0, -1]:
        assert (probe in found) == (probe in set(ids))


def test_ids_merged_into_the_array_and_newer_ones_are_both_found():
    rng = random.Random(7)
    ids = rng.sample(range(1, 10**9), 3 * MERGE_AT + 17)
    found = IdSet()
    for doc_id in ids:
        found.add(doc_id)
        found.add(doc_id)  # a document recorded twice in one pass
    assert len(found) == len(ids)
    assert len(found._sorted) == 3 * MERGE_AT  # three merges happened; 17 are still recent
    assert all(doc_id in found for doc_id in ids)
    assert not any(doc_id + 10**9 in found for doc_id in ids)
    assert "12" not in found and None not in found


@given(st.lists(st.tuples(st.text(max_size=12), st.integers(1, 50)), max_size=300))
def test_a_key_belongs_to_the_first_document_that_claimed_it(claims):
    owners, first = KeyOwners(), {}
    for key, doc_id in claims:
        assert owners.claim(key, doc_id) == first.setdefault(key, doc_id)
    assert len(owners) == len(first)


def test_claims_merged_into_the_arrays_and_newer_ones_keep_their_owners():
    owners = KeyOwners()
    keys = [f"po-{n}" for n in range(2 * MERGE_AT + 5)]
    for doc_id, key in enumerate(keys, start=1):
        assert owners.claim(key, doc_id) == doc_id
    assert len(owners._hi) == 2 * MERGE_AT and len(owners) == len(keys)
    assert [owners.claim(key, 99_999) for key in keys] == list(range(1, len(keys) + 1))
    assert owners.claim("po-x", 99_999) == 99_999  # a new key: its claimant owns it


def test_an_owner_outside_64_bits_keeps_its_key_through_merges():
    owners = KeyOwners()
    assert owners.claim("po-wide", 2**70) == 2**70
    for doc_id in range(1, MERGE_AT + 2):  # merges around it
        owners.claim(f"po-{doc_id}", doc_id)
    assert len(owners._hi) == MERGE_AT
    assert owners.claim("po-wide", 5) == 2**70
    assert owners.claim("po-1", 5) == 1
