"""The /stats picture: a pie by category and a bar chart by day, as PNG bytes.

matplotlib is installed with plugbot, so /stats has its chart by default;
:func:`render` still returns None where it cannot be imported (a trimmed
install) and /stats falls back to text. The figure is built with the
object API on the Agg canvas, never ``pyplot``, because pyplot keeps global
state that is not safe across the bot's worker threads.
"""
from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

log = logging.getLogger(__name__)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SLICES = 7


@dataclass(frozen=True)
class ChartData:
    """What to draw: (label, colour, amount) slices and (date, amount) bars, all in ``currency``."""

    title: str
    currency: str
    slices: Sequence[tuple[str, str, Decimal]]
    days: Sequence[tuple[dt.date, Decimal]]
    by_category_title: str
    by_day_title: str
    other_label: str


def _fold_small(slices: Sequence[tuple[str, str, Decimal]], other_label: str) -> list[tuple[str, str, Decimal]]:
    """Keep the largest slices and merge the rest, so labels stay readable."""
    ordered = sorted(slices, key=lambda s: s[2], reverse=True)
    if len(ordered) <= MAX_SLICES:
        return ordered
    rest = sum((s[2] for s in ordered[MAX_SLICES - 1:]), Decimal(0))
    return ordered[:MAX_SLICES - 1] + [(other_label, "#BBBBBB", rest)]


def render(data: ChartData) -> bytes | None:
    """Draw the chart; None when matplotlib is missing or there is nothing to draw."""
    if not data.slices or all(s[2] <= 0 for s in data.slices):
        return None
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        log.info("matplotlib is not installed; /stats sends text only")
        return None
    figure = Figure(figsize=(10, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    pie, bars = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.4]})
    slices = _fold_small(data.slices, data.other_label)
    pie.pie(
        [float(s[2]) for s in slices],
        labels=[s[0] for s in slices],
        colors=[s[1] for s in slices],
        autopct="%1.0f%%",
        startangle=90,
        counterclock=False,
        wedgeprops={"linewidth": 1, "edgecolor": "white"},
    )
    pie.set_title(data.by_category_title)
    pie.axis("equal")
    days = sorted(data.days)
    bars.bar([d for d, _ in days], [float(v) for _, v in days], color="#2A9D8F", width=0.8)
    bars.set_title(f"{data.by_day_title}, {data.currency}")
    bars.grid(axis="y", alpha=0.3)
    figure.autofmt_xdate()
    figure.suptitle(data.title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()
