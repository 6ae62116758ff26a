"""Commands, quick add and buttons: read the input, call the domain, reply.

Every button handler receives ids from callback data, which any client can
forge, so each one looks the row up *through the pressing user*
(``ledger.get_own(ctx.user, id)``) and answers a forged, stale or malformed
press with ``core.stale_button`` instead of acting or raising.
"""
from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Callable
from decimal import Decimal

from framework import Button, Context

from . import (
    categories,
    charts,
    conversation,
    export,
    ledger,
    money,
    nlp,
    periods,
    preferences,
    rates,
    recurring,
    service,
    stats,
    views,
)
from .budget import progress as budget_progress
from .models import Expense, ExpenseSettings, RecurringExpense
from .views import View


def _prefs(ctx: Context, create: bool = True) -> ExpenseSettings:
    return preferences.get(ctx.user, ctx.settings, ctx.lang, create=create)


def _lang(ctx: Context) -> str:
    return (ctx.lang or "en").split("-")[0]


def _today(prefs: ExpenseSettings, ctx: Context) -> dt.date:
    return preferences.today(prefs, ctx.now())


def _period(ctx: Context, prefs: ExpenseSettings, text: str) -> periods.Period | None:
    """The period the user asked for, or None after telling them how to write one."""
    try:
        return periods.resolve(text, _today(prefs, ctx), prefs.week_start)
    except periods.PeriodError as error:
        ctx.reply(ctx.t(f"error.period.{error}") + "\n" + ctx.t("error.period.examples"))
        return None


# --------------------------------------------------------------------------
# Quick add
# --------------------------------------------------------------------------


def quick_add(ctx: Context) -> bool:
    """Free text like "coffee $5": saved at once with Undo and category buttons.

    Returns False for anything that is not clearly an expense, so other
    plugins (and plain chat) get it untouched.
    """
    text = ctx.text
    if not ctx.settings.get("quick_add", True) or not any(ch.isdigit() for ch in text):
        return False
    prefs = _prefs(ctx, create=False)  # read once; a text that is no expense creates no row
    if not prefs.nlp_enabled:
        return False
    book = categories.CategoryBook.of(ctx)  # one load serves the parser, the guess and the keyboard
    parsed = nlp.parse_expense(text, today=_today(prefs, ctx), lang=_lang(ctx), default_currency=prefs.currency,
                               known_words=book.learned_words())
    if parsed is None:
        return False
    try:
        amount = money.validate_amount(parsed.amount, parsed.currency)
    except money.AmountError as error:
        ctx.reply(ctx.t(f"error.amount.{error.code}", **error.params))
        return True
    if prefs.id is None:  # the user's first expense: now the settings row is worth creating
        prefs = _prefs(ctx)
    category = book.guess(list(parsed.words), prefs.auto_categorize)
    expense = service.add(ctx, amount=amount, currency=parsed.currency, category=category,
                          note=parsed.note, date=parsed.date, source="nlp", original=text)
    view = View(ctx.t, prefs)
    ctx.reply(ctx.t("quick.saved", line=view.expense(expense, category)),
              buttons=views.saved_keyboard(view, expense, book.visible()))
    alert = service.budget_alert(view, ctx.user, prefs, _today(prefs, ctx))
    if alert:
        ctx.reply(alert)
    return True


# --------------------------------------------------------------------------
# /undo, /list
# --------------------------------------------------------------------------


def undo(ctx: Context) -> None:
    """/undo: delete the last expense (restorable for 24 hours)."""
    expense = ledger.last(ctx.user)
    if expense is None:
        ctx.reply(ctx.t("undo.nothing"))
        return
    _delete_and_offer_restore(ctx, expense, edit=False)


def _delete_and_offer_restore(ctx: Context, expense: Expense, edit: bool) -> None:
    view = View(ctx.t, _prefs(ctx))
    service.delete(ctx, expense)
    text = ctx.t("deleted", line=view.expense(expense), hours=int(ledger.RESTORE_WINDOW.total_seconds() // 3600))
    (ctx.edit if edit else ctx.reply)(text, buttons=views.restore_keyboard(view, expense))


def list_(ctx: Context) -> None:
    """/list [period]: the period's expenses, a page at a time, with Edit and Delete."""
    prefs = _prefs(ctx)
    period = _period(ctx, prefs, ctx.args)
    if period is not None:
        text, buttons = _list_page(ctx, prefs, period, 0)
        ctx.reply(text, buttons=buttons)


def _list_page(ctx: Context, prefs: ExpenseSettings, period: periods.Period,
               page: int) -> tuple[str, list[list[Button]] | None]:
    size = max(1, int(ctx.settings.get("page_size", 5)))
    rows, total = ledger.page(ctx.user, period.start, period.end, page, size)
    view = View(ctx.t, prefs)
    title = ctx.t("list.title", period=view.span(period.start, period.end), count=total)
    if total == 0:
        return title + "\n\n" + ctx.t("list.empty"), None
    pages = (total + size - 1) // size
    first = page * size + 1
    lines = [title, ctx.t("list.page", page=page + 1, pages=pages), ""]
    lines += [f"{n}. {view.expense(e)}" for n, e in enumerate(rows, first)]
    return "\n".join(lines), views.list_keyboard(view, rows, first, page, pages, period.spec(), ctx.user.telegram_id)


# --------------------------------------------------------------------------
# /stats, /export
# --------------------------------------------------------------------------


def stats_(ctx: Context) -> None:
    """/stats [period]: totals, categories, top expenses, comparison, and a chart."""
    prefs = _prefs(ctx)
    period = _period(ctx, prefs, ctx.args)
    if period is None:
        return
    report = stats.build(ctx.user, period.start, period.end, (period.previous_start, period.previous_end),
                         prefs.currency, lambda target: rates.factors(ctx.user, target),
                         top_n=int(ctx.settings.get("top_n", 3)))
    view = View(ctx.t, prefs)
    title = ctx.t("stats.title", period=view.span(period.start, period.end))
    ctx.reply(view.report(report, title))
    if report.count and ctx.settings.get("charts", True):
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


def export_(ctx: Context) -> None:
    """/export [period]: the period's expenses as a CSV document."""
    prefs = _prefs(ctx)
    period = _period(ctx, prefs, ctx.args)
    if period is None:
        return
    view = View(ctx.t, prefs)
    rows = ledger.export_rows(ctx.user, period.start, period.end, view.category_name)
    if not rows:
        ctx.reply(ctx.t("export.empty", period=view.span(period.start, period.end)))
        return
    ctx.send_document(export.to_csv(rows), export.filename(period.start, period.end),
                      caption=ctx.t("export.caption", count=len(rows), period=view.span(period.start, period.end)))


# --------------------------------------------------------------------------
# /categories
# --------------------------------------------------------------------------

CATEGORY_VERBS = {"add": "add", "добавить": "add", "rename": "rename", "переименовать": "rename",
                  "archive": "archive", "архивировать": "archive", "архив": "archive"}


def categories_(ctx: Context) -> None:
    """/categories, /categories add Coffee ☕, /categories rename Old New, /categories archive Name."""
    try:
        words = shlex.split(ctx.args)
    except ValueError:
        words = ctx.args.split()
    verb = CATEGORY_VERBS.get(words[0].lower()) if words else None
    if verb is None:
        _show_categories(ctx)
        return
    try:
        message = _change_category(ctx, verb, words[1:])
    except categories.CategoryError as error:
        message = ctx.t(f"categories.error.{error.code}", **error.params)
    ctx.reply(message)


def _change_category(ctx: Context, verb: str, words: list[str]) -> str:
    view = View(ctx.t, _prefs(ctx))
    book = categories.CategoryBook.of(ctx)
    if verb == "add" and words:
        emoji = words[-1] if len(words) > 1 and not any(ch.isalnum() for ch in words[-1]) else None
        name = " ".join(words[:-1] if emoji else words)
        category = book.create(name, emoji[:10] if emoji else None)
        ctx.audit("category_added", "category", category.id, {"name": category.name})
        return ctx.t("categories.added", category=view.category(category))
    if verb == "rename" and len(words) == 2:
        old = categories.find_by_name(ctx.user, words[0], include_archived=True)
        category = book.rename(words[0], words[1])
        ctx.audit("category_renamed", "category", category.id, {"from": old.name if old else words[0],
                                                                  "to": category.name})
        return ctx.t("categories.renamed", category=view.category(category))
    if verb == "archive" and words:
        category = book.archive(" ".join(words))
        ctx.audit("category_archived", "category", category.id, {"name": category.name})
        return ctx.t("categories.archived", category=view.category(category))
    return ctx.t("categories.usage")


def _show_categories(ctx: Context) -> None:
    view = View(ctx.t, _prefs(ctx))
    every = categories.visible(ctx.user, include_archived=True)
    lines = [ctx.t("categories.title")]
    lines += [f"• {view.category(c)}" + ("" if not c.is_system else " " + ctx.t("categories.system_mark"))
              for c in every if c.is_active]
    archived = [c for c in every if not c.is_active]
    if archived:
        lines += ["", ctx.t("categories.archived_title")] + [f"• {view.category(c)}" for c in archived]
    lines += ["", ctx.t("categories.usage")]
    ctx.reply("\n".join(lines))


# --------------------------------------------------------------------------
# /budget
# --------------------------------------------------------------------------

OFF_WORDS = frozenset({"off", "none", "выкл", "нет"})


def budget_(ctx: Context) -> None:
    """/budget shows the month's progress; /budget 500 sets it; /budget off removes it."""
    prefs = _prefs(ctx)
    view = View(ctx.t, prefs)
    if ctx.args.strip().lower() in OFF_WORDS:
        preferences.set_budget(prefs, None, ctx.now())
        ctx.audit("budget_changed", "settings", prefs.id, {"monthly_budget": None})
        ctx.reply(ctx.t("budget.removed"))
        return
    if ctx.args:
        try:
            amount, currency = money.parse_money(ctx.args, prefs.currency, _lang(ctx))
        except money.AmountError as error:
            ctx.reply(ctx.t(f"error.amount.{error.code}", **error.params))
            return
        if currency != prefs.currency:
            ctx.reply(ctx.t("budget.currency_mismatch", currency=prefs.currency))
            return
        preferences.set_budget(prefs, amount, ctx.now())
        ctx.audit("budget_changed", "settings", prefs.id, {"monthly_budget": format(amount, "f")})
        ctx.reply(ctx.t("budget.set", budget=view.money(amount, currency), threshold=prefs.budget_alert_threshold))
    progress = budget_progress(ctx.user, prefs, _today(prefs, ctx))
    if progress is None:
        ctx.reply(ctx.t("budget.none"))
        return
    ctx.reply(ctx.t("budget.title", month=view.span(progress.start, progress.end)) + "\n" + view.progress(progress))


# --------------------------------------------------------------------------
# /recurring
# --------------------------------------------------------------------------

RECURRING_VERBS = {"add": "add", "добавить": "add", "list": "list", "список": "list",
                   "pause": "pause", "пауза": "pause", "resume": "resume", "возобновить": "resume",
                   "delete": "delete", "удалить": "delete"}


def recurring_(ctx: Context) -> None:
    """/recurring [list | add TEXT | pause N | resume N | delete N]."""
    verb, _, rest = ctx.args.partition(" ")
    action = RECURRING_VERBS.get(verb.lower(), "list" if not verb else None)
    if action is None:
        ctx.reply(ctx.t("recurring.usage"))
    elif action == "list":
        _show_recurring(ctx)
    elif action == "add":
        _add_recurring(ctx, rest.strip())
    else:
        _change_recurring_by_number(ctx, action, rest.strip())


def _own_recurring(ctx: Context) -> list[RecurringExpense]:
    return list(RecurringExpense.select().where(RecurringExpense.user == ctx.user.id).order_by(RecurringExpense.id))


def _show_recurring(ctx: Context) -> None:
    view = View(ctx.t, _prefs(ctx))
    rows = _own_recurring(ctx)
    if not rows:
        ctx.reply(ctx.t("recurring.empty") + "\n\n" + ctx.t("recurring.usage"))
        return
    lines = [ctx.t("recurring.title")] + [view.recurring(n, r) for n, r in enumerate(rows, 1)]
    ctx.reply("\n".join(lines), buttons=views.recurring_keyboard(view, rows))


def _add_recurring(ctx: Context, text: str) -> None:
    prefs = _prefs(ctx)
    today = _today(prefs, ctx)
    try:
        spec = recurring.parse_schedule(text, today, _lang(ctx))
        currency = spec.currency or prefs.currency
        amount = money.validate_amount(spec.amount, currency)
    except recurring.ScheduleError as error:
        ctx.reply(ctx.t(f"recurring.error.{error.code}") + "\n\n" + ctx.t("recurring.usage"))
        return
    except money.AmountError as error:
        ctx.reply(ctx.t(f"error.amount.{error.code}", **error.params))
        return
    category = categories.CategoryBook.of(ctx).guess(categories.words_of(spec.note), prefs.auto_categorize)
    row = RecurringExpense.create(
        user=ctx.user.id, amount=amount, currency=currency, category=category, note=spec.note or None,
        schedule_kind=spec.kind, schedule_day=spec.day, next_run=recurring.next_due(spec.kind, spec.day, today),
        created_at=ctx.now(), updated_at=ctx.now())
    ctx.audit("recurring_added", "recurring", row.id, {"amount": format(amount, "f"), "currency": currency,
                                                       "schedule": f"{spec.kind}:{spec.day}", "note": spec.note})
    view = View(ctx.t, prefs)
    ctx.reply(ctx.t("recurring.added", line=view.recurring(len(_own_recurring(ctx)), row)))


def _change_recurring_by_number(ctx: Context, action: str, number: str) -> None:
    rows = _own_recurring(ctx)
    if not number.isdecimal() or not 1 <= int(number) <= len(rows):
        ctx.reply(ctx.t("recurring.error.number", count=len(rows)))
        return
    ctx.reply(_change_recurring(ctx, action, rows[int(number) - 1]))


def _change_recurring(ctx: Context, action: str, row: RecurringExpense) -> str:
    """Pause, resume or delete a schedule of the current user; the confirmation text."""
    view = View(ctx.t, _prefs(ctx))
    line = view.recurring(_own_recurring(ctx).index(row) + 1, row)
    if action == "delete":
        row.delete_instance()
        ctx.audit("recurring_deleted", "recurring", row.id, {"note": row.note})
        return ctx.t("recurring.deleted", line=line)
    row.active = action == "resume"
    if row.active:
        row.next_run = recurring.next_due(row.schedule_kind, row.schedule_day, _today(view.prefs, ctx))
    row.updated_at = ctx.now()
    row.save()
    ctx.audit(f"recurring_{'resumed' if row.active else 'paused'}", "recurring", row.id, {"note": row.note})
    return ctx.t("recurring.resumed" if row.active else "recurring.paused", line=view.recurring(
        _own_recurring(ctx).index(row) + 1, row))


# --------------------------------------------------------------------------
# /settings, /rate
# --------------------------------------------------------------------------


def settings_(ctx: Context) -> None:
    """/settings shows everything; /settings KEY VALUE changes one setting."""
    prefs = _prefs(ctx)
    key, _, value = ctx.args.partition(" ")
    if key:
        setter = preferences.SETTERS.get(key.lower())
        if setter is None or not value.strip():
            ctx.reply(ctx.t("settings.usage"))
            return
        try:
            setter(prefs, value, ctx.now())
        except preferences.SettingError as error:
            ctx.reply(ctx.t(f"settings.error.{error.code}", **error.params))
            return
        ctx.audit("settings_changed", "settings", prefs.id, {key.lower(): value.strip()})
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


def rate(ctx: Context) -> None:
    """/rate USD RUB 92.5: 1 USD = 92.5 RUB, used to convert totals."""
    parts = ctx.args.split()
    if len(parts) != 3:
        ctx.reply(ctx.t("rate.usage"))
        return
    base, quote = (money.resolve_currency(p) or p.upper() for p in parts[:2])
    if not (money.is_currency(base) and money.is_currency(quote)):
        ctx.reply(ctx.t("rate.error.currency") + "\n" + ctx.t("rate.usage"))
        return
    try:
        value = money.parse_number(parts[2], _lang(ctx))
        row = rates.set_rate(ctx.user, base, quote, value, ctx.now())
    except money.AmountError:
        ctx.reply(ctx.t("rate.error.bad_rate") + "\n" + ctx.t("rate.usage"))
        return
    except rates.RateError as error:
        ctx.reply(ctx.t(f"rate.error.{error.code}"))
        return
    ctx.audit("exchange_rate_set", "exchange_rate", row.id, {"base": base, "quote": quote, "rate": format(value, "f")})
    ctx.reply(ctx.t("rate.set", base=base, quote=quote, rate=format(value.normalize(), "f")))


# --------------------------------------------------------------------------
# Buttons ("exp:...")
# --------------------------------------------------------------------------


def on_callback(ctx: Context) -> None:
    """Route an ``exp:`` button; anything unknown, forged or stale gets the stale notice."""
    parts = (ctx.data or "").split(":")
    action = CALLBACKS.get(parts[1]) if len(parts) >= 3 else None
    if action is None or not action(ctx, parts[2:]):
        ctx.answer(ctx.t("core.stale_button"))


def _on_undo(ctx: Context, args: list[str]) -> bool:
    expense = ledger.get_own(ctx.user, args[0]) if len(args) == 1 else None
    if expense is None:
        return False
    _delete_and_offer_restore(ctx, expense, edit=True)
    ctx.answer(ctx.t("deleted_toast"))
    return True


def _on_restore(ctx: Context, args: list[str]) -> bool:
    expense = ledger.get_own(ctx.user, args[0], deleted=True) if len(args) == 1 else None
    if expense is None or not ledger.can_restore(expense, ctx.now()):
        return False
    service.restore(ctx, expense)
    view = View(ctx.t, _prefs(ctx))
    ctx.edit(ctx.t("restored", line=view.expense(expense)),
             buttons=views.saved_keyboard(view, expense, categories.CategoryBook.of(ctx).visible()))
    return True


def _on_category(ctx: Context, args: list[str]) -> bool:
    """One-tap correction under a quick-add reply; the choice is learned for the note's words."""
    if len(args) != 2:
        return False
    book = categories.CategoryBook.of(ctx)
    expense = ledger.get_own(ctx.user, args[0])
    category = book.get_visible(args[1])  # checked against this user's own visible categories
    if expense is None or category is None:
        return False
    if expense.category_id != category.id:
        service.edit(ctx, expense, category=category)
        book.remember(categories.words_of(expense.note or ""), category)
    view = View(ctx.t, _prefs(ctx))
    ctx.edit(ctx.t("quick.saved", line=view.expense(expense, category)),
             buttons=views.saved_keyboard(view, expense, book.visible()))
    ctx.answer(ctx.t("quick.category_changed", category=view.category(category)))
    return True


def _on_delete(ctx: Context, args: list[str]) -> bool:
    """Delete from /list: refresh the page, and offer Restore in a new message."""
    if len(args) != 3 or not args[1].isdecimal():
        return False
    expense = ledger.get_own(ctx.user, args[0])
    prefs = _prefs(ctx)
    period = _spec_period(prefs, ctx, args[2])
    if expense is None or period is None:
        return False
    view = View(ctx.t, prefs)
    service.delete(ctx, expense)
    text, buttons = _list_page(ctx, prefs, period, _fit_page(ctx, period, int(args[1])))
    ctx.edit(text, buttons=buttons)
    ctx.reply(ctx.t("deleted", line=view.expense(expense), hours=int(ledger.RESTORE_WINDOW.total_seconds() // 3600)),
              buttons=views.restore_keyboard(view, expense))
    return True


def _fit_page(ctx: Context, period: periods.Period, page: int) -> int:
    """After a delete the last page may be gone: step back to the last one left."""
    size = max(1, int(ctx.settings.get("page_size", 5)))
    _, total = ledger.page(ctx.user, period.start, period.end, 0, 1)
    return max(0, min(page, (total - 1) // size if total else 0))


def _spec_period(prefs: ExpenseSettings, ctx: Context, spec: str) -> periods.Period | None:
    try:
        return periods.resolve(spec, _today(prefs, ctx), prefs.week_start)
    except periods.PeriodError:
        return None


def _on_page(ctx: Context, args: list[str]) -> bool:
    if len(args) != 3 or args[0] != str(ctx.user.telegram_id) or not args[1].isdecimal():
        return False
    prefs = _prefs(ctx)
    period = _spec_period(prefs, ctx, args[2])
    if period is None:
        return False
    text, buttons = _list_page(ctx, prefs, period, _fit_page(ctx, period, int(args[1])))
    ctx.edit(text, buttons=buttons)
    return True


def _on_edit(ctx: Context, args: list[str]) -> bool:
    expense = ledger.get_own(ctx.user, args[0]) if len(args) == 1 else None
    if expense is None:
        return False
    conversation.edit_existing(ctx, expense)
    return True


def _own_recurring_row(ctx: Context, value: str) -> RecurringExpense | None:
    # isdecimal, not isdigit: int() refuses "²"; and an id past BIGINT would make the driver raise.
    if not value.isdecimal() or not 0 < int(value) < 2**63:
        return None
    return RecurringExpense.get_or_none((RecurringExpense.id == int(value)) & (RecurringExpense.user == ctx.user.id))


def _on_recurring_toggle(ctx: Context, args: list[str]) -> bool:
    row = _own_recurring_row(ctx, args[0]) if len(args) == 1 else None
    if row is None:
        return False
    ctx.reply(_change_recurring(ctx, "pause" if row.active else "resume", row))
    _refresh_recurring_list(ctx)
    return True


def _on_recurring_delete(ctx: Context, args: list[str]) -> bool:
    row = _own_recurring_row(ctx, args[0]) if len(args) == 1 else None
    if row is None:
        return False
    ctx.reply(_change_recurring(ctx, "delete", row))
    _refresh_recurring_list(ctx)
    return True


def _refresh_recurring_list(ctx: Context) -> None:
    view = View(ctx.t, _prefs(ctx))
    rows = _own_recurring(ctx)
    if not rows:
        ctx.edit(ctx.t("recurring.empty"))
        return
    lines = [ctx.t("recurring.title")] + [view.recurring(n, r) for n, r in enumerate(rows, 1)]
    ctx.edit("\n".join(lines), buttons=views.recurring_keyboard(view, rows))


CALLBACKS: dict[str, Callable[[Context, list[str]], bool]] = {
    "undo": _on_undo, "res": _on_restore, "cat": _on_category, "del": _on_delete, "pg": _on_page,
    "edit": _on_edit, "rp": _on_recurring_toggle, "rd": _on_recurring_delete,
}
