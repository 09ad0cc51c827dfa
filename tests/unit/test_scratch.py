"""`state.scratch`: exact membership and first owners against a plain set and dict, in any order,
with repeats, ids beyond 64 bits and keys no UTF-8 encoder accepts; and the scratch they live
in leaves no file and does not grow the heap with the documents it holds."""

from __future__ import annotations

import os
import random
import tracemalloc

from hypothesis import given
from hypothesis import strategies as st

from reconciler.state.scratch import IdSet, KeyOwners, PassScratch


@given(st.lists(st.integers(min_value=-(2**70), max_value=2**70), max_size=300))
def test_it_holds_exactly_what_was_added(ids):
    found = IdSet()
    for doc_id in ids:
        found.add(doc_id)
    assert sorted(found) == sorted(set(ids)) and len(found) == len(set(ids))
    for probe in [*ids, *(i + 1 for i in ids), 0, -1]:
        assert (probe in found) == (probe in set(ids))


def test_ids_recorded_twice_are_held_once_and_strangers_are_not_found():
    rng = random.Random(7)
    ids = rng.sample(range(1, 10**9), 3_000)
    found = IdSet()
    for doc_id in ids:
        found.add(doc_id)
        found.add(doc_id)  # a document recorded twice in one pass
    assert len(found) == len(ids)
    assert all(doc_id in found for doc_id in ids)
    assert not any(doc_id + 10**9 in found for doc_id in ids)
    assert "12" not in found and None not in found and True not in found


@given(
    st.lists(
        st.tuples(st.text(max_size=12), st.integers(-(2**70), 2**70)),
        max_size=300,
    )
)
def test_a_key_belongs_to_the_first_document_that_claimed_it(claims):
    owners, first = KeyOwners(), {}
    for key, doc_id in claims:
        assert owners.claim(key, doc_id) == first.setdefault(key, doc_id)
    assert len(owners) == len(first)


def test_keys_are_kept_exactly_not_by_digest_and_even_lone_surrogates_have_owners():
    owners = KeyOwners()
    assert owners.claim("PO-1", 1) == 1
    assert owners.claim("po-1", 2) == 2  # another number, even if a digest were weak
    assert owners.claim("\ud800", 3) == 3  # json.loads('"\\ud800"') gives this
    assert owners.claim("\ud800", 4) == 3
    assert owners.claim("", 5) == 5 and owners.claim("", 6) == 5


def test_structures_sharing_one_scratch_keep_apart():
    scratch = PassScratch()
    pos, bills, numbers = IdSet(scratch), IdSet(scratch), KeyOwners(scratch)
    pos.add(7)
    numbers.claim("7", 1)
    assert 7 in pos and 7 not in bills and len(bills) == 0 and len(numbers) == 1
    scratch.close()
    scratch.close()  # closing twice is harmless: `Pass.run` closes it in `finally`
    assert scratch.closed


def _open_files() -> set[str]:
    fds = "/proc/self/fd"
    return {os.readlink(f"{fds}/{fd}") for fd in os.listdir(fds) if os.path.exists(f"{fds}/{fd}")}


def test_the_scratch_spills_to_no_file_anyone_can_find_and_closes_it():
    before = _open_files()
    scratch = PassScratch()
    owners = KeyOwners(scratch)
    for n in range(20_000):  # ~1 MB of keys: past the 256 KiB cache, so pages spill
        owners.claim(f"PO-{n:06d}-{'x' * 30}", n)
    opened = {path for path in _open_files() - before if path.startswith("/")}
    assert opened and all(path.endswith(" (deleted)") for path in opened)  # SQLite unlinked it
    assert owners.claim("PO-000123-" + "x" * 30, 1) == 123  # spilled pages read back
    scratch.close()
    assert not {p for p in _open_files() - before if p.startswith("/")}


def test_holding_more_documents_does_not_hold_more_python_memory():
    def traced_after(n: int) -> int:
        scratch = PassScratch()
        ids, owners = IdSet(scratch), KeyOwners(scratch)
        tracemalloc.start()
        for doc_id in range(n):
            ids.add(doc_id)
            owners.claim(f"PO-{doc_id}", doc_id)
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        scratch.close()
        return held

    small, large = traced_after(2_000), traced_after(20_000)
    assert large - small < 64 * 1024  # a set and dict would hold ~1.5 MB more
