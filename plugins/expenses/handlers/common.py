"""What every command family shares: the user's settings row, their today, the period argument."""
from __future__ import annotations

import datetime as dt

from framework import BadArgument, Context, arg

from .. import money, periods, preferences
from ..models import ExpenseSettings


def prefs(ctx: Context, create: bool = True) -> ExpenseSettings:
    """The user's settings row (see :func:`preferences.of`)."""
    return preferences.of(ctx, create=create)


def today(prefs: ExpenseSettings, ctx: Context) -> dt.date:
    """The user's local date (their timezone is the core's, not a setting of this plugin)."""
    return preferences.today(ctx.user, ctx.now())


def period_arg(text: str, ctx: Context) -> periods.Period:
    """The period argument of /list, /stats and /export, in the user's timezone and week."""
    settings = prefs(ctx)
    try:
        return periods.resolve(text, today(settings, ctx), settings.week_start)
    except periods.PeriodError as error:
        raise BadArgument(ctx.t(f"error.period.{error}") + "\n" + ctx.t("error.period.examples")) from error


def this_month(ctx: Context, prefs: ExpenseSettings) -> periods.Period:
    return periods.resolve(None, today(prefs, ctx), prefs.week_start)


def spec_period(prefs: ExpenseSettings, ctx: Context, spec: str) -> periods.Period | None:
    """A period a button carries (``Period.spec()``); None when it no longer resolves."""
    try:
        return periods.resolve(spec, today(prefs, ctx), prefs.week_start)
    except periods.PeriodError:
        return None


def currency_arg(text: str, ctx: Context) -> str:
    code = money.resolve_currency(text) or text.upper()
    if not money.is_currency(code):
        raise BadArgument(ctx.t("rate.error.currency"))
    return code


# The period argument /list, /stats and /export declare; the core parses it.
PERIOD_ARGS = [arg.text("period", optional=True, parse=period_arg)]
