"""/settings (with its picker, seed 000's CONFIGURING_SETTINGS) and /rate.

``/settings KEY VALUE`` changes one setting at once, as before. A bare ``/settings``
opens the picker: Currency, Week start, Timezone and Notifications buttons (and
Done). Currency offers the common codes as buttons; a timezone, or any other
currency, is typed in reply. The picker is a conversation of one state, so its
buttons are stale once it is closed, /cancel leaves it, and it times out.

Two settings are the core's, shared by every plugin: the timezone
(``users.timezone``, changed through ``users.change_settings``) and notifications
(``users.notifications_enabled``: off mutes what the bot sends on its own, such as
budget alerts, recurring notices and reminders; answers are never muted).

A new currency converts the monthly budget with the user's stored rate; without
one the change is refused with what to do, rather than relabelling $30 as €30.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from framework import SKIP, Button, CallbackData, Context, Conversation, arg

from .. import money, periods, preferences, rates
from ..models import ExpenseSettings
from ..views import View
from . import common

CONFIGURING_SETTINGS = "CONFIGURING_SETTINGS"
CORE_KEYS = {"timezone": "timezone", "tz": "timezone", "notifications": "notifications"}
PICKER_CURRENCIES = ("USD", "EUR", "RUB", "GBP", "UAH", "KZT", "TRY", "JPY")

SETTINGS_ARGS = [arg.choice("key", [*preferences.SETTERS, *CORE_KEYS], optional=True),
                 arg.text("value", optional=True)]


class SettingsPick(CallbackData, prefix="exg"):
    """A button of the /settings picker: a setting to open (``value`` empty) or a value for it."""

    key: str
    value: str = ""


settings_conversation = Conversation("settings", states={CONFIGURING_SETTINGS: []}, command="settings",
                                     help="help.settings", args=SETTINGS_ARGS, usage="settings.usage",
                                     callbacks=[SettingsPick])


@settings_conversation.entry
def settings_(ctx: Context, key: str | None, value: str | None) -> None:
    """/settings opens the picker; /settings KEY VALUE changes one setting."""
    prefs = common.prefs(ctx)
    if key is None and value is None:
        ctx.session.end()
        ctx.session.goto(CONFIGURING_SETTINGS, awaiting=None)
        ctx.reply(_settings_text(ctx, prefs), buttons=_menu(ctx, prefs))
        return
    if key is None or value is None:  # an unknown key (passed on to the value), or no value
        ctx.reply(ctx.t("settings.usage"))
        return
    problem = _change(ctx, prefs, CORE_KEYS.get(key, key), value)
    if problem is not None:
        ctx.reply(problem)
        return
    ctx.reply(ctx.t("settings.saved") + "\n\n" + _settings_text(ctx, prefs))


def _change(ctx: Context, prefs: ExpenseSettings, key: str, value: str) -> str | None:
    """Apply one setting; the message that explains why not, or None when it was saved."""
    if key == "timezone":
        name = periods.timezone_name(value.strip())  # any letter case; a directory or a path is unknown
        if name is None:
            return ctx.t("settings.error.bad_timezone", value=value.strip()[:64])
        ctx.users.change_settings(ctx.user, actor=ctx.user, timezone=name)
        ctx.user.timezone = name  # this update goes on in the new timezone
        return None
    if key == "notifications":
        try:
            enabled = preferences.switch(value)
        except preferences.SettingError as error:
            return ctx.t(f"settings.error.{error.code}", **error.params)
        ctx.users.set_notifications(ctx.user, enabled)
        ctx.audit("settings_changed", "settings", prefs.id, {"notifications": enabled})
        return None
    if key == "currency":
        return _change_currency(ctx, prefs, value)
    try:
        preferences.SETTERS[key](prefs, value, ctx.now())
    except preferences.SettingError as error:
        return ctx.t(f"settings.error.{error.code}", **error.params)
    ctx.audit("settings_changed", "settings", prefs.id, {key: value})
    return None


def _change_currency(ctx: Context, prefs: ExpenseSettings, value: str) -> str | None:
    """A new currency, and the monthly budget converted into it with the user's stored rate.

    Read from the table, not the cached row, and written with compare-and-set on the old
    currency and budget: two changes at once (say, in a group and in the private chat) must
    not leave one's currency with the other's budget. Without a rate, say how to get one.
    """
    code = money.resolve_currency(value.strip()) or value.strip().upper()
    if not money.is_currency(code):
        return ctx.t("settings.error.bad_currency", value=value)
    stored = ExpenseSettings.get_by_id(prefs.id)
    changes: dict[str, Any] = {"currency": code}
    if stored.monthly_budget is not None and code != stored.currency:
        factor = rates.factors(ctx.user, code).get(stored.currency)
        if factor is None:
            return ctx.t("settings.budget_needs_rate",
                         budget=View(ctx.t, stored).money(stored.monthly_budget, stored.currency),
                         base=stored.currency, quote=code)
        places = Decimal(1).scaleb(-money.exponent(code))
        try:
            converted = money.validate_amount((Decimal(stored.monthly_budget) * factor).quantize(places), code)
        except money.AmountError as error:
            return ctx.t(f"error.amount.{error.code}", **error.params)
        # A new budget starts the month's alerts afresh, as /budget does.
        changes.update(monthly_budget=converted, budget_alert_level=0, budget_alert_month=None)
    same_budget = (ExpenseSettings.monthly_budget.is_null() if stored.monthly_budget is None
                   else ExpenseSettings.monthly_budget == stored.monthly_budget)
    written = (ExpenseSettings.update(updated_at=ctx.now(), **changes)
               .where(ExpenseSettings.id == stored.id, ExpenseSettings.currency == stored.currency, same_budget)
               .execute())
    preferences.forget(prefs)
    if not written:
        return ctx.t("settings.changed_meanwhile")
    for name, new in changes.items():
        setattr(prefs, name, new)
    details: dict[str, Any] = {"currency": code}
    if "monthly_budget" in changes:
        details["monthly_budget"] = [format(stored.monthly_budget, "f"), format(changes["monthly_budget"], "f")]
    ctx.audit("settings_changed", "settings", prefs.id, details)
    return None


# --------------------------------------------------------------------------
# The picker (CONFIGURING_SETTINGS)
# --------------------------------------------------------------------------


def _menu(ctx: Context, prefs: ExpenseSettings) -> list[list[Button]]:
    week = ctx.t("weekday.sun" if prefs.week_start == 0 else "weekday.mon")
    notifications = _switch(ctx, ctx.user.notifications_enabled)
    return [[Button(ctx.t("settings.pick.currency", value=prefs.currency), SettingsPick(key="currency")),
             Button(ctx.t("settings.pick.week_start", value=week), SettingsPick(key="week_start"))],
            [Button(ctx.t("settings.pick.timezone", value=ctx.user.timezone), SettingsPick(key="timezone")),
             Button(ctx.t("settings.pick.notifications", value=notifications), SettingsPick(key="notifications"))],
            [Button(ctx.t("settings.pick.done"), SettingsPick(key="done"))]]


def _currency_keyboard(ctx: Context) -> list[list[Button]]:
    codes = [Button(code, SettingsPick(key="currency", value=code)) for code in PICKER_CURRENCIES]
    return [codes[:4], codes[4:], [Button(ctx.t("button.back"), SettingsPick(key="back"))]]


@settings_conversation.state(CONFIGURING_SETTINGS)
def on_settings(ctx: Context) -> Any:
    """A picker button, or the currency or timezone typed after its button asked for it."""
    prefs = common.prefs(ctx)
    data = ctx.callback_data
    if data is None:
        awaiting = ctx.session.data.get("awaiting")
        if awaiting is None:
            return SKIP  # nothing asked: the text is for someone else (quick add, the core's hint)
        return _apply(ctx, prefs, awaiting, ctx.text)
    if not isinstance(data, SettingsPick):
        return SKIP
    if data.key == "done":
        ctx.session.end()
        ctx.edit(_settings_text(ctx, prefs) + "\n\n" + ctx.t("settings.usage"))
    elif data.key == "back":
        _show_menu(ctx, prefs)
    elif data.key == "currency" and not data.value:
        ctx.session.update(awaiting="currency")
        ctx.edit(ctx.t("settings.ask_currency"), buttons=_currency_keyboard(ctx))
    elif data.key == "timezone":
        ctx.session.update(awaiting="timezone")
        ctx.edit(ctx.t("settings.ask_timezone", timezone=ctx.user.timezone),
                 buttons=[[Button(ctx.t("button.back"), SettingsPick(key="back"))]])
    elif data.key == "week_start":
        return _apply(ctx, prefs, "week_start", "sunday" if prefs.week_start == 1 else "monday")
    elif data.key == "notifications":
        return _apply(ctx, prefs, "notifications", "off" if ctx.user.notifications_enabled else "on")
    elif data.key == "currency":
        return _apply(ctx, prefs, "currency", data.value)
    else:
        return SKIP
    return None


def _apply(ctx: Context, prefs: ExpenseSettings, key: str, value: str) -> None:
    problem = _change(ctx, prefs, key, value)
    if problem is not None:  # the question stays open: the user can answer again or go back
        ctx.reply(problem)
        return
    _show_menu(ctx, prefs, saved=True)


def _show_menu(ctx: Context, prefs: ExpenseSettings, saved: bool = False) -> None:
    ctx.session.update(awaiting=None)
    text = (ctx.t("settings.saved") + "\n\n" if saved else "") + _settings_text(ctx, prefs)
    (ctx.edit if ctx.callback is not None else ctx.reply)(text, buttons=_menu(ctx, prefs))


def _switch(ctx: Context, value: bool) -> str:
    return ctx.t("settings.on" if value else "settings.off")


def _settings_text(ctx: Context, prefs: ExpenseSettings) -> str:
    view = View(ctx.t, prefs)
    budget = view.money(prefs.monthly_budget, prefs.currency) if prefs.monthly_budget else ctx.t("settings.none")
    rate_lines = [f"1 {r.base} = {format(Decimal(r.rate).normalize(), 'f')} {r.quote}"
                  for r in rates.all_rates(ctx.user)]
    return ctx.t(
        "settings.show",
        currency=prefs.currency, timezone=ctx.user.timezone,
        week_start=ctx.t("weekday.sun" if prefs.week_start == 0 else "weekday.mon"),
        notifications=_switch(ctx, ctx.user.notifications_enabled),
        nlp=_switch(ctx, prefs.nlp_enabled), autocategorize=_switch(ctx, prefs.auto_categorize),
        threshold=prefs.budget_alert_threshold, budget=budget, date_format=prefs.date_format,
        number_format=prefs.number_format, rates=", ".join(rate_lines) or ctx.t("settings.none"),
    )


# --------------------------------------------------------------------------
# /rate
# --------------------------------------------------------------------------

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
