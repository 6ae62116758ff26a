"""/stats (with its period picker, seed 000's SELECTING_PERIOD) and /export.

``/stats month`` answers at once, as before; a bare ``/stats`` opens the picker:
Today, This week, This month, Last month, This year, or a period typed in
reply. The picker is a conversation of one state, so its buttons are stale once
a period was chosen, /cancel leaves it, and it times out like /add.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from framework import SKIP, Button, CallbackData, Context, Conversation

from .. import (
    charts,
    export,
    ledger,
    periods,
    rates,
    stats,
)
from ..models import ExpenseSettings
from ..views import (
    View,
)
from . import common

SELECTING_PERIOD = "SELECTING_PERIOD"


class PickPeriod(CallbackData, prefix="exp"):
    """A period button of the /stats picker; ``period`` is what :func:`periods.resolve` reads."""

    period: str


stats_conversation = Conversation("stats", states={SELECTING_PERIOD: []}, command="stats", help="help.stats",
                                  rate_limit="30/minute", args=common.PERIOD_ARGS, callbacks=[PickPeriod])


def _picker(ctx: Context, prefs: ExpenseSettings) -> list[list[Button]]:
    today = common.today(prefs, ctx)
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    choices = [("today", "today"), ("week", "week"), ("month", "month"), ("last_month", last_month),
               ("year", "year")]
    buttons = [Button(ctx.t(f"stats.pick.{label}"), PickPeriod(period=spec)) for label, spec in choices]
    return [buttons[:2], buttons[2:4], buttons[4:]]


@stats_conversation.entry
def stats_(ctx: Context, period: periods.Period | None) -> None:
    """/stats PERIOD answers at once; a bare /stats asks for the period with buttons."""
    if period is not None:
        show_stats(ctx, common.prefs(ctx), period)
        return
    prefs = common.prefs(ctx)
    ctx.session.end()
    ctx.session.goto(SELECTING_PERIOD)
    ctx.reply(ctx.t("stats.pick.ask"), buttons=_picker(ctx, prefs))


@stats_conversation.state(SELECTING_PERIOD)
def on_period(ctx: Context) -> Any:
    """A period button, or a period typed ("2025-03", "week"); anything else asks again."""
    prefs = common.prefs(ctx)
    data = ctx.callback_data
    if data is not None and not isinstance(data, PickPeriod):
        return SKIP
    try:
        period = periods.resolve(data.period if data else ctx.text, common.today(prefs, ctx), prefs.week_start)
    except periods.PeriodError as error:
        if data is not None:
            return SKIP
        ctx.reply(ctx.t(f"error.period.{error}") + "\n" + ctx.t("error.period.examples"),
                  buttons=_picker(ctx, prefs))
        return None
    ctx.session.end()
    show_stats(ctx, prefs, period, edit=data is not None)
    return None


def show_stats(ctx: Context, prefs: ExpenseSettings, period: periods.Period, *, edit: bool = False) -> None:
    """Totals, categories, top expenses, comparison, and a chart."""
    report = stats.build(ctx.user, period.start, period.end, (period.previous_start, period.previous_end),
                         prefs.currency, lambda target: rates.factors(ctx.user, target),
                         top_n=int(ctx.settings["top_n"]))
    view = View(ctx.t, prefs)
    title = ctx.t("stats.title", period=view.span(period.start, period.end))
    (ctx.edit if edit else ctx.reply)(view.report(report, title))
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
