"""The /botstats picture: new users per day, as PNG bytes.

matplotlib is optional (the ``charts`` extra): :func:`render` returns None without it and
/botstats sends the numbers alone. The object API on the Agg canvas, never ``pyplot``, whose
global state is not safe across the bot's worker threads.
"""
from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Sequence

log = logging.getLogger(__name__)


def render(days: Sequence[tuple[dt.date, int]], title: str) -> bytes | None:
    """A bar per day; None when matplotlib is missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        log.info("matplotlib is not installed; /botstats sends text only")
        return None
    figure = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.bar([day.strftime("%d.%m") for day, _ in days], [count for _, count in days], color="#2A9D8F", width=0.8)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # people come whole
    axes.grid(axis="y", alpha=0.3)
    axes.set_title(title)
    figure.autofmt_xdate()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()
