"""Per-user settings of the plugin (the ``expense_settings`` row) and how to change them.

The row is created on first use with defaults from the plugin configuration and
the user's language, so a Russian user sees "1 234,56" and "31.03.2025" without
touching /settings. Every setter validates and raises :class:`SettingError`
with a locale code, never a raw exception.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from framework import Context, User

from . import money, periods
from .models import ExpenseSettings

DATE_FORMATS = {"YYYY-MM-DD": "%Y-%m-%d", "DD.MM.YYYY": "%d.%m.%Y", "MM/DD/YYYY": "%m/%d/%Y", "DD/MM/YYYY": "%d/%m/%Y"}
NUMBER_FORMATS = ("en-US", "ru-RU")
ON = frozenset({"on", "yes", "true", "1", "вкл", "да"})
OFF = frozenset({"off", "no", "false", "0", "выкл", "нет"})
WEEK_STARTS = {"sunday": 0, "sun": 0, "воскресенье": 0, "вс": 0, "0": 0,
               "monday": 1, "mon": 1, "понедельник": 1, "пн": 1, "1": 1}


class SettingError(ValueError):
    """A setting value the user typed is not acceptable; ``code`` names the locale message."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def _language_defaults(language: str) -> dict[str, str]:
    if (language or "").lower().startswith("ru"):
        return {"number_format": "ru-RU", "date_format": "DD.MM.YYYY"}
    return {"number_format": "en-US", "date_format": "YYYY-MM-DD"}


def get(user: User, config: dict[str, Any], language: str | None = None, *, create: bool = True) -> ExpenseSettings:
    """The user's settings row, created with defaults on first use.

    With ``create=False`` a missing row is returned unsaved (``id`` None), so merely
    reading chat text for quick add does not write a row for every passer-by.
    """
    row = ExpenseSettings.get_or_none(ExpenseSettings.user == user.id)
    if row is not None:
        return row
    currency = str(config["default_currency"]).upper()
    values = {
        "user": user.id,
        "currency": currency if money.is_currency(currency) else "USD",
        "week_start": int(config["week_start"]),
        "budget_alert_threshold": int(config["budget_alert_threshold"]),
        **_language_defaults(language or user.language_code or "en"),
    }
    if not create:
        return ExpenseSettings(**values)
    ExpenseSettings.insert(**values).on_conflict_ignore().execute()
    return ExpenseSettings.get(ExpenseSettings.user == user.id)


CACHE_TTL = 3600  # seed 000: user:{id}:preferences, an hour; every change drops it
_CACHED_FIELDS = ("id", "user", "monthly_budget", "budget_alert_threshold", "date_format", "number_format",
                  "nlp_enabled", "auto_categorize", "currency", "week_start", "budget_alert_month",
                  "budget_alert_level")


def cache_key(user_id: int) -> str:
    return f"user:{user_id}:preferences"


def of(ctx: Context, *, create: bool = True) -> ExpenseSettings:
    """The current user's settings row, in an update: :func:`get` with the plugin's settings and language.

    Cached in the plugin cache as seed 000's ``user:{id}:preferences`` for an hour, so most
    updates read no settings row; every change through this module drops the entry, now and
    again once its transaction committed (an update in another chat may re-cache the old row
    in between). A missing row (a passer-by's chat text) is not cached.
    """
    key = cache_key(ctx.user.id)
    cached = ctx.cache.get(key)
    if isinstance(cached, dict) and cached.get("user") == ctx.user.id:
        row = _from_cache(cached)
    else:
        row = get(ctx.user, ctx.settings, ctx.lang, create=create)
        if row.id is not None:
            ctx.cache.set(key, _to_cache(row), ttl=CACHE_TTL)
    cache = ctx.cache

    def forget() -> None:
        cache.delete(key)
        ctx.after_commit(lambda: cache.delete(key))

    row._forget = forget  # type: ignore[attr-defined]  # called by _save and budget alerts
    return row


def forget_user(cache: Any, user_id: int) -> None:
    """Drop a user's cached settings (their data was erased; if they come back, under the same id)."""
    cache.delete(cache_key(user_id))


def _to_cache(row: ExpenseSettings) -> dict[str, Any]:
    values = {name: getattr(row, "user_id" if name == "user" else name) for name in _CACHED_FIELDS}
    if values["monthly_budget"] is not None:
        values["monthly_budget"] = format(Decimal(values["monthly_budget"]), "f")
    return values


def _from_cache(values: dict[str, Any]) -> ExpenseSettings:
    values = dict(values)
    if values["monthly_budget"] is not None:
        values["monthly_budget"] = Decimal(values["monthly_budget"])
    row = ExpenseSettings(**values)
    row._dirty.clear()
    return row


def forget(row: ExpenseSettings) -> None:
    """Drop the cached copy of ``row`` (a change was written some other way than :func:`_save`)."""
    callback = getattr(row, "_forget", None)
    if callback is not None:
        callback()


def _save(row: ExpenseSettings, now: dt.datetime, **changes: Any) -> ExpenseSettings:
    """Write only the changed columns (a cached row must not write back stale values of the others)."""
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = now
    ExpenseSettings.update(updated_at=now, **changes).where(ExpenseSettings.id == row.id).execute()
    forget(row)
    return row


def switch(value: str) -> bool:
    """on/off (yes/no, вкл/выкл...) as a bool; SettingError otherwise."""
    value = value.strip().lower()
    if value in ON:
        return True
    if value in OFF:
        return False
    raise SettingError("bad_switch")


# The setters below share one signature so /settings can dispatch through SETTERS.


def set_currency(row: ExpenseSettings, value: str, now: dt.datetime) -> ExpenseSettings:
    """An ISO code or a symbol/word ("€", "рубль"); only currencies of the table are accepted."""
    code = money.resolve_currency(value.strip()) or value.strip().upper()
    if not money.is_currency(code):
        raise SettingError("bad_currency", value=value)
    return _save(row, now, currency=code)


def set_week_start(row: ExpenseSettings, value: str, now: dt.datetime) -> ExpenseSettings:
    key = value.strip().lower()
    if key not in WEEK_STARTS:
        raise SettingError("bad_week_start")
    return _save(row, now, week_start=WEEK_STARTS[key])


def set_nlp(row: ExpenseSettings, value: str, now: dt.datetime) -> ExpenseSettings:
    return _save(row, now, nlp_enabled=switch(value))


def set_auto_categorize(row: ExpenseSettings, value: str, now: dt.datetime) -> ExpenseSettings:
    return _save(row, now, auto_categorize=switch(value))


def set_threshold(row: ExpenseSettings, value: str, now: dt.datetime) -> ExpenseSettings:
    """1..100 percent; a new threshold re-arms this month's alerts."""
    text = value.strip().rstrip("%")
    if not text.isdecimal() or not 1 <= int(text) <= 100:
        raise SettingError("bad_threshold")
    return _save(row, now, budget_alert_threshold=int(text), budget_alert_level=0, budget_alert_month=None)


def set_date_format(row: ExpenseSettings, value: str, now: dt.datetime) -> ExpenseSettings:
    value = value.strip().upper()
    if value not in DATE_FORMATS:
        raise SettingError("bad_date_format", choices=", ".join(DATE_FORMATS))
    return _save(row, now, date_format=value)


def set_number_format(row: ExpenseSettings, value: str, now: dt.datetime) -> ExpenseSettings:
    matches = [f for f in NUMBER_FORMATS if f.lower() == value.strip().lower()]
    if not matches:
        raise SettingError("bad_number_format", choices=", ".join(NUMBER_FORMATS))
    return _save(row, now, number_format=matches[0])


def set_budget(row: ExpenseSettings, amount: Decimal | None, now: dt.datetime) -> ExpenseSettings:
    """A new budget starts the month's alerts afresh."""
    return _save(row, now, monthly_budget=amount, budget_alert_level=0, budget_alert_month=None)


SETTERS = {
    "currency": set_currency,
    "week_start": set_week_start, "weekstart": set_week_start, "nlp": set_nlp,
    "autocategorize": set_auto_categorize, "auto_categorize": set_auto_categorize,
    "threshold": set_threshold, "date_format": set_date_format, "dateformat": set_date_format,
    "number_format": set_number_format, "numberformat": set_number_format,
}


def format_date(date: dt.date, row: ExpenseSettings) -> str:
    """A date in the user's chosen format."""
    return date.strftime(DATE_FORMATS.get(row.date_format, "%Y-%m-%d"))


def format_money(amount: Decimal, currency: str, row: ExpenseSettings) -> str:
    """An amount in the user's number format."""
    return money.format_money(Decimal(amount), currency, row.number_format)


def today(user: User, now: dt.datetime) -> dt.date:
    """The user's local date at the aware UTC ``now``, in their timezone: the core's
    ``users.timezone``, the one /settings and an admin's ``users.change_settings`` change."""
    return periods.local_date(now, user.timezone or "UTC")
