"""Which backups to keep: the newest of each of the last N days, ISO weeks and months.

Each period keeps its newest backup, so a week is represented by its last day's backup and a
month by its last day's: these stay put as time moves on, and a file is deleted only once no
period wants it any more.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any


def _periods(daily: int, weekly: int, monthly: int) -> list[tuple[int, Callable[[dt.datetime], Any]]]:
    return [(daily, lambda moment: moment.date()),
            (weekly, lambda moment: moment.isocalendar()[:2]),
            (monthly, lambda moment: (moment.year, moment.month))]


def to_keep(moments: Iterable[dt.datetime], daily: int = 7, weekly: int = 4, monthly: int = 12) -> set[dt.datetime]:
    """The moments (backups' timestamps) the rotation keeps; every other one may be deleted."""
    newest_first = sorted(set(moments), reverse=True)
    kept: set[dt.datetime] = set()
    for count, period_of in _periods(daily, weekly, monthly):
        periods: set[Any] = set()
        for moment in newest_first:
            period = period_of(moment)
            if period in periods:
                continue
            if len(periods) == count:
                break
            periods.add(period)
            kept.add(moment)
    return kept
