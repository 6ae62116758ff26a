"""/settings and /rate."""
from __future__ import annotations

from decimal import Decimal

from framework import Context, arg

from .. import (
    preferences,
    rates,
)
from ..models import ExpenseSettings
from ..views import (
    View,
)
from . import common

SETTINGS_ARGS = [arg.choice("key", list(preferences.SETTERS), optional=True), arg.text("value", optional=True)]


def settings_(ctx: Context, key: str | None, value: str | None) -> None:
    """/settings shows everything; /settings KEY VALUE changes one setting."""
    prefs = common.prefs(ctx)
    if key is not None or value is not None:
        if key is None or value is None:  # an unknown key (passed on to the value), or no value
            ctx.reply(ctx.t("settings.usage"))
            return
        try:
            preferences.SETTERS[key](prefs, value, ctx.now())
        except preferences.SettingError as error:
            ctx.reply(ctx.t(f"settings.error.{error.code}", **error.params))
            return
        ctx.audit("settings_changed", "settings", prefs.id, {key: value})
        ctx.reply(ctx.t("settings.saved") + "\n\n" + _settings_text(ctx, prefs))
        return
    ctx.reply(_settings_text(ctx, prefs) + "\n\n" + ctx.t("settings.usage"))


def _switch(ctx: Context, value: bool) -> str:
    return ctx.t("settings.on" if value else "settings.off")


def _settings_text(ctx: Context, prefs: ExpenseSettings) -> str:
    view = View(ctx.t, prefs)
    budget = view.money(prefs.monthly_budget, prefs.currency) if prefs.monthly_budget else ctx.t("settings.none")
    rate_lines = [f"1 {r.base} = {format(Decimal(r.rate).normalize(), 'f')} {r.quote}"
                  for r in rates.all_rates(ctx.user)]
    return ctx.t(
        "settings.show",
        currency=prefs.currency, timezone=prefs.timezone,
        week_start=ctx.t("weekday.sun" if prefs.week_start == 0 else "weekday.mon"),
        nlp=_switch(ctx, prefs.nlp_enabled), autocategorize=_switch(ctx, prefs.auto_categorize),
        threshold=prefs.budget_alert_threshold, budget=budget, date_format=prefs.date_format,
        number_format=prefs.number_format, rates=", ".join(rate_lines) or ctx.t("settings.none"),
    )


RATE_ARGS = [arg.word("base", parse=common.currency_arg), arg.word("quote", parse=common.currency_arg),
             arg.decimal("rate", max=rates.MAX_RATE)]  # positivity and precision: rates' own messages


def rate(ctx: Context, base: str, quote: str, rate: Decimal) -> None:
    """/rate USD RUB 92.5: 1 USD = 92.5 RUB, used to convert totals."""
    value = rate
    try:
        row = rates.set_rate(ctx.user, base, quote, value, ctx.now())
    except rates.RateError as error:
        ctx.reply(ctx.t(f"rate.error.{error.code}"))
        return
    ctx.audit("exchange_rate_set", "exchange_rate", row.id, {"base": base, "quote": quote, "rate": format(value, "f")})
    ctx.reply(ctx.t("rate.set", base=base, quote=quote, rate=format(value.normalize(), "f")))
