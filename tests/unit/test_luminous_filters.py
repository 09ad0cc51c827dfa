"""Pure parts of `luminous.filters`: the three ways to write a timestamp bound, rounded
outwards, how an answer is judged, and what is remembered.

Source: ../shared/luminous-api.md, "Transport": "The filters page gives dates as `YYYY-MM-DD`;
the PO page's example is `created_at[gte]=2024-10-25 00:00:00`. Whether `updated_at[gte]` takes
a full ISO timestamp with microseconds and a `Z` is not documented: the client must work
whichever of the three the server takes, and whether it refuses (422) or ignores what it does
not take."
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.errors import LuminousAuthError, LuminousUnavailable
from reconciler.luminous import filters as f
from reconciler.luminous.http import LuminousRequestError

AT = datetime(2024, 10, 25, 12, 30, 15, 250000, tzinfo=UTC)
WHOLE = AT.replace(microsecond=0)


def test_the_three_forms_as_documented():
    assert f.lower("seconds", WHOLE) == "2024-10-25 12:30:15"  # the PO page's example form
    assert f.lower("date", WHOLE) == "2024-10-25"  # the filters page's form
    assert f.lower("iso", WHOLE) == "2024-10-25T12:30:15.000000Z"
    assert f.FORMS == ("seconds", "iso", "date", "none")


def test_bounds_are_rounded_outwards_so_the_answer_is_a_superset():
    assert f.lower("seconds", AT) == "2024-10-25 12:30:15"
    assert f.upper("seconds", AT) == "2024-10-25 12:30:16"
    assert f.upper("seconds", WHOLE) == "2024-10-25 12:30:15"  # whole seconds lose nothing
    assert f.upper("date", AT) == "2024-10-26"  # the whole day, as midnight or as a date
    assert f.sent_lower("seconds", AT) == WHOLE <= AT <= f.sent_upper("seconds", AT)
    assert f.sent_lower("date", AT) == datetime(2024, 10, 25, tzinfo=UTC)
    assert f.sent_upper("date", AT) == datetime(2024, 10, 26, 23, 59, 59, tzinfo=UTC)
    assert f.sent_lower("iso", AT) == AT == f.sent_upper("iso", AT)


@pytest.mark.parametrize(
    ("stamps", "verdict"),
    [
        ([WHOLE, WHOLE + timedelta(minutes=5)], "fits"),
        ([WHOLE - timedelta(hours=3)], "by_date"),  # earlier the same day: dates compared
        ([WHOLE + timedelta(hours=1, minutes=1)], "by_date"),  # later the same day
        ([WHOLE - timedelta(days=2)], "ignored"),
        ([WHOLE + timedelta(days=1)], "ignored"),
        ([], "fits"),
    ],
)
def test_judging_an_answer(stamps, verdict):
    assert f.judge(stamps, WHOLE, WHOLE + timedelta(hours=1), strict_low=False) == verdict


def test_a_strict_lower_bound_excludes_itself():
    assert f.judge([WHOLE], WHOLE, None, strict_low=True) == "by_date"
    assert f.judge([WHOLE], WHOLE, None, strict_low=False) == "fits"


def test_only_validation_answers_count_as_refusals():
    assert f.refused(LuminousRequestError("x", status=422))
    assert f.refused(LuminousRequestError("x", status=400))
    assert not f.refused(LuminousRequestError("wrong base URL", status=404))
    assert not f.refused(LuminousAuthError("token", status=401))
    assert not f.refused(LuminousUnavailable("busy", status=503))


class Meta(dict):
    def get_meta(self, key):
        return self.get(key)

    def set_meta(self, key, value):
        self[key] = value


def test_forms_are_left_behind_in_order_and_kept_in_meta():
    meta, memory = Meta(), f.FilterMemory()
    memory.bind(meta)
    path = "/purchase-orders"
    assert memory.of(path).date_form == "seconds" and memory.of(path).exact
    memory.date_form_failed(path, "seconds", "refused")
    memory.date_form_failed(path, "seconds", "refused")  # twice: one step only
    assert memory.of(path).date_form == "iso"
    memory.dates_only(path, "iso")
    assert memory.of(path).date_form == "date" and not memory.of(path).exact
    memory.date_form_failed(path, "date", "ignored")
    memory.date_form_failed(path, "none", "ignored")  # nothing below none
    memory.id_filter_is(path, "refused")
    stored = json.loads(meta["luminous_filters:/purchase-orders"])
    assert stored == {"date_form": "none", "id_filter": "refused"}
    again = f.FilterMemory()
    again.bind(meta)
    assert again.of(path) == f.ListFilters("none", "refused") and not again.of(path).id_usable
    assert again.of("/bills") == f.ListFilters()  # per list


@pytest.mark.parametrize("stored", ["not json", '{"date_form": "weekly"}', "[1, 2]"])
def test_a_stored_value_that_cannot_be_read_starts_again(stored):
    memory = f.FilterMemory()
    memory.bind(Meta({"luminous_filters:/bills": stored}))
    assert memory.of("/bills") == f.ListFilters()
