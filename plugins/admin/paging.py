"""Pure helpers for the admin views: pages of a listing, and how times and durations read."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    """One page of a listing: ``number`` (0-based), and whether there are pages before and after."""

    number: int
    size: int
    has_previous: bool
    has_next: bool

    @property
    def offset(self) -> int:
        return self.number * self.size


def page_of(number: int, size: int, fetched: int) -> Page:
    """The page ``number`` of ``size`` rows, given that ``fetched`` rows were read from its offset
    (read ``size + 1`` to know whether another page follows without counting them all)."""
    number = max(0, number)
    return Page(number, size, number > 0, fetched > size)


def when(moment: dt.datetime | None) -> str:
    """A moment as admins read it: ``2025-03-01 10:00 UTC``, ``—`` for none."""
    if moment is None:
        return "—"
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def span(delta: dt.timedelta) -> str:
    """A duration the way the commands take one: ``30m``, ``12h``, ``7d``, ``1d12h``."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (button data, one-line views)."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"
