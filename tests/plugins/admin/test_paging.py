"""The pure helpers of the admin views."""
from __future__ import annotations

import datetime as dt

from plugins.admin.paging import clip, page_of, span, when


def test_page_of_knows_its_neighbours_from_one_extra_row() -> None:
    first = page_of(0, 10, 11)
    assert (first.has_previous, first.has_next, first.offset) == (False, True, 0)
    last = page_of(2, 10, 4)
    assert (last.has_previous, last.has_next, last.offset) == (True, False, 20)
    assert page_of(-3, 10, 0).number == 0


def test_when_and_span_read_as_the_commands_write_them() -> None:
    moscow = dt.timezone(dt.timedelta(hours=3))
    assert when(dt.datetime(2025, 3, 1, 13, 0, tzinfo=moscow)) == "2025-03-01 10:00 UTC"
    assert when(None) == "—"
    assert [span(dt.timedelta(**kw)) for kw in ({"minutes": 30}, {"hours": 12}, {"days": 7}, {"hours": 36},
                                                {"seconds": 0})] == ["30m", "12h", "1w", "1d12h", "0s"]


def test_clip_keeps_short_text_and_marks_a_cut() -> None:
    assert clip("short", 10) == "short"
    assert clip("a longer text", 6) == "a lon…" and len(clip("a longer text", 6)) == 6
