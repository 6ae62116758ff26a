"""/stats and /export."""
from __future__ import annotations

from framework import Context

from .. import (
    charts,
    export,
    ledger,
    periods,
    rates,
    stats,
)
from ..views import (
    View,
)
from . import common


def stats_(ctx: Context, period: periods.Period | None) -> None:
    """/stats [period]: totals, categories, top expenses, comparison, and a chart."""
    prefs = common.prefs(ctx)
    period = period or common.this_month(ctx, prefs)
    report = stats.build(ctx.user, period.start, period.end, (period.previous_start, period.previous_end),
                         prefs.currency, lambda target: rates.factors(ctx.user, target),
                         top_n=int(ctx.settings["top_n"]))
    view = View(ctx.t, prefs)
    title = ctx.t("stats.title", period=view.span(period.start, period.end))
    ctx.reply(view.report(report, title))
    if report.count and ctx.settings["charts"]:
        png = charts.render(charts.ChartData(
            title=view.span(period.start, period.end),
            currency=report.currency,
            slices=[(view.category_name(r.category), r.category.color if r.category and r.category.color
                     else "#8D99AE", r.total) for r in report.by_category],
            days=report.by_day,
            by_category_title=ctx.t("chart.by_category"),
            by_day_title=ctx.t("chart.by_day"),
            other_label=ctx.t("chart.other"),
        ))
        if png is not None:
            ctx.send_photo(png, caption=title)


def export_(ctx: Context, period: periods.Period | None) -> None:
    """/export [period]: the period's expenses as a CSV document."""
    prefs = common.prefs(ctx)
    period = period or common.this_month(ctx, prefs)
    view = View(ctx.t, prefs)
    rows = ledger.export_rows(ctx.user, period.start, period.end, view.category_name)
    if not rows:
        ctx.reply(ctx.t("export.empty", period=view.span(period.start, period.end)))
        return
    ctx.send_document(export.to_csv(rows), export.filename(period.start, period.end),
                      caption=ctx.t("export.caption", count=len(rows), period=view.span(period.start, period.end)))
