"""Commands, quick add and buttons: read the input, call the domain, reply.

The core parses the commands' declared arguments and the buttons' typed data
(``views``), and refuses malformed presses and other users' ones. The ids in a
button can still be forged by its own owner, so each button handler looks the
row up *through the pressing user* (``ledger.get_own(ctx.user, id)``) and
returns ``SKIP`` for a row that is not theirs or no longer there: the core
then tells them the button is no longer valid.
"""
from __future__ import annotations

import datetime as dt
import shlex
from decimal import Decimal
from typing import Any

from framework import SKIP, BadArgument, Button, Context, arg

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
from .views import (
    DeleteListed,
    EditExpense,
    ListPage,
    RecurringAction,
    RecurringVerb,
    RestoreExpense,
    SetCategory,
    UndoExpense,
    View,
)


def _prefs(ctx: Context, create: bool = True) -> ExpenseSettings:
    return preferences.get(ctx.user, ctx.settings, ctx.lang, create=create)


def _lang(ctx: Context) -> str:
    return (ctx.lang or "en").split("-")[0]


def _today(prefs: ExpenseSettings, ctx: Context) -> dt.date:
    return preferences.today(prefs, ctx.now())


def _period_arg(text: str, ctx: Context) -> periods.Period:
    """The period argument of /list, /stats and /export, in the user's timezone and week."""
    prefs = _prefs(ctx)
    try:
        return periods.resolve(text, _today(prefs, ctx), prefs.week_start)
    except periods.PeriodError as error:
        raise BadArgument(ctx.t(f"error.period.{error}") + "\n" + ctx.t("error.period.examples")) from error


def _this_month(ctx: Context, prefs: ExpenseSettings) -> periods.Period:
    return periods.resolve(None, _today(prefs, ctx), prefs.week_start)


def _currency_arg(text: str, ctx: Context) -> str:
    code = money.resolve_currency(text) or text.upper()
    if not money.is_currency(code):
        raise BadArgument(ctx.t("rate.error.currency"))
    return code


# The arguments the commands declare (see plugbot_register_handlers); the core parses them.
PERIOD_ARGS = [arg.text("period", optional=True, parse=_period_arg)]
BUDGET_ARGS = [arg.text("amount", optional=True)]
RATE_ARGS = [arg.word("base", parse=_currency_arg), arg.word("quote", parse=_currency_arg),
             arg.decimal("rate", max=rates.MAX_RATE)]  # positivity and precision: rates' own messages


# --------------------------------------------------------------------------
# Quick add
# --------------------------------------------------------------------------


def quick_add(ctx: Context) -> Any:
    """Free text like "coffee $5": saved at once with Undo and category buttons.

    Returns SKIP for anything that is not clearly an expense, so other
    plugins (and plain chat) get it untouched.
    """
    text = ctx.text
    if not ctx.settings.get("quick_add", True) or not any(ch.isdigit() for ch in text):
        return SKIP
    prefs = _prefs(ctx, create=False)  # read once; a text that is no expense creates no row
    if not prefs.nlp_enabled:
        return SKIP
    book = categories.CategoryBook.of(ctx)  # one load serves the parser, the guess and the keyboard
    parsed = nlp.parse_expense(text, today=_today(prefs, ctx), lang=_lang(ctx), default_currency=prefs.currency,
                               known_words=book.learned_words())
    if parsed is None:
        return SKIP
    if not periods.FIRST_YEAR <= parsed.date.year <= periods.LAST_YEAR:  # the rule of every date typed
        ctx.reply(ctx.t("error.period.range"))
        return None
    try:
        amount = money.validate_amount(parsed.amount, parsed.currency)
    except money.AmountError as error:
        ctx.reply(ctx.t(f"error.amount.{error.code}", **error.params))
        return None
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
    return None


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


def list_(ctx: Context, period: periods.Period | None) -> None:
    """/list [period]: the period's expenses, a page at a time, with Edit and Delete."""
    prefs = _prefs(ctx)
    text, buttons = _list_page(ctx, prefs, period or _this_month(ctx, prefs), 0)
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
    return "\n".join(lines), views.list_keyboard(view, rows, first, page, pages, period.spec())


# --------------------------------------------------------------------------
# /stats, /export
# --------------------------------------------------------------------------


def stats_(ctx: Context, period: periods.Period | None) -> None:
    """/stats [period]: totals, categories, top expenses, comparison, and a chart."""
    prefs = _prefs(ctx)
    period = period or _this_month(ctx, prefs)
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


def export_(ctx: Context, period: periods.Period | None) -> None:
    """/export [period]: the period's expenses as a CSV document."""
    prefs = _prefs(ctx)
    period = period or _this_month(ctx, prefs)
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


def budget_(ctx: Context, amount: str | None) -> None:
    """/budget shows the month's progress; /budget 500 sets it; /budget off removes it."""
    prefs = _prefs(ctx)
    view = View(ctx.t, prefs)
    if amount is not None and amount.lower() in OFF_WORDS:
        preferences.set_budget(prefs, None, ctx.now())
        ctx.audit("budget_changed", "settings", prefs.id, {"monthly_budget": None})
        ctx.reply(ctx.t("budget.removed"))
        return
    if amount is not None:
        try:
            budget, currency = money.parse_money(amount, prefs.currency, _lang(ctx))
        except money.AmountError as error:
            key = "budget.too_large" if error.code == "too_large" else f"error.amount.{error.code}"  # no expense
            ctx.reply(ctx.t(key, **error.params))
            return
        if currency != prefs.currency:
            ctx.reply(ctx.t("budget.currency_mismatch", currency=prefs.currency))
            return
        preferences.set_budget(prefs, budget, ctx.now())
        ctx.audit("budget_changed", "settings", prefs.id, {"monthly_budget": format(budget, "f")})
        ctx.reply(ctx.t("budget.set", budget=view.money(budget, currency), threshold=prefs.budget_alert_threshold))
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


RECURRING_ARGS = [arg.choice("action", RECURRING_VERBS, optional=True), arg.text("details", optional=True)]


def recurring_(ctx: Context, action: str | None, details: str | None) -> None:
    """/recurring [list | add TEXT | pause N | resume N | delete N]."""
    if action is None and details is not None:  # not a verb: the core passed the words on
        ctx.reply(ctx.t("recurring.usage"))
    elif action is None or action == "list":
        _show_recurring(ctx)
    elif action == "add":
        _add_recurring(ctx, details or "")
    else:
        _change_recurring_by_number(ctx, action, details or "")


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


SETTINGS_ARGS = [arg.choice("key", list(preferences.SETTERS), optional=True), arg.text("value", optional=True)]


def settings_(ctx: Context, key: str | None, value: str | None) -> None:
    """/settings shows everything; /settings KEY VALUE changes one setting."""
    prefs = _prefs(ctx)
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


# --------------------------------------------------------------------------
# Buttons (their data classes are in views)
# --------------------------------------------------------------------------


def on_undo(ctx: Context, data: UndoExpense) -> Any:
    expense = ledger.get_own(ctx.user, data.expense_id)
    if expense is None:
        return SKIP
    _delete_and_offer_restore(ctx, expense, edit=True)
    ctx.answer(ctx.t("deleted_toast"))
    return None


def on_restore(ctx: Context, data: RestoreExpense) -> Any:
    expense = ledger.get_own(ctx.user, data.expense_id, deleted=True)
    if expense is None or not ledger.can_restore(expense, ctx.now()):
        return SKIP
    service.restore(ctx, expense)
    view = View(ctx.t, _prefs(ctx))
    ctx.edit(ctx.t("restored", line=view.expense(expense)),
             buttons=views.saved_keyboard(view, expense, categories.CategoryBook.of(ctx).visible()))
    return None


def on_category(ctx: Context, data: SetCategory) -> Any:
    """One-tap correction under a quick-add reply; the choice is learned for the note's words."""
    book = categories.CategoryBook.of(ctx)
    expense = ledger.get_own(ctx.user, data.expense_id)
    category = book.get_visible(data.category_id)  # checked against this user's own visible categories
    if expense is None or category is None:
        return SKIP
    if expense.category_id != category.id:
        service.edit(ctx, expense, category=category)
        book.remember(categories.words_of(expense.note or ""), category)
    view = View(ctx.t, _prefs(ctx))
    ctx.edit(ctx.t("quick.saved", line=view.expense(expense, category)),
             buttons=views.saved_keyboard(view, expense, book.visible()))
    ctx.answer(ctx.t("quick.category_changed", category=view.category(category)))
    return None


def on_delete(ctx: Context, data: DeleteListed) -> Any:
    """Delete from /list: refresh the page, and offer Restore in a new message."""
    expense = ledger.get_own(ctx.user, data.expense_id)
    prefs = _prefs(ctx)
    period = _spec_period(prefs, ctx, data.period)
    if expense is None or period is None or data.page < 0:
        return SKIP
    view = View(ctx.t, prefs)
    service.delete(ctx, expense)
    text, buttons = _list_page(ctx, prefs, period, _fit_page(ctx, period, data.page))
    ctx.edit(text, buttons=buttons)
    ctx.reply(ctx.t("deleted", line=view.expense(expense), hours=int(ledger.RESTORE_WINDOW.total_seconds() // 3600)),
              buttons=views.restore_keyboard(view, expense))
    return None


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


def on_page(ctx: Context, data: ListPage) -> Any:
    """Prev/Next of /list (only its owner may turn the pages: the core checks)."""
    prefs = _prefs(ctx)
    period = _spec_period(prefs, ctx, data.period)
    if period is None or data.page < 0:
        return SKIP
    text, buttons = _list_page(ctx, prefs, period, _fit_page(ctx, period, data.page))
    ctx.edit(text, buttons=buttons)
    return None


def on_edit(ctx: Context, data: EditExpense) -> Any:
    expense = ledger.get_own(ctx.user, data.expense_id)
    if expense is None:
        return SKIP
    conversation.edit_existing(ctx, expense)
    return None


def on_recurring(ctx: Context, data: RecurringAction) -> Any:
    """Pause/Resume or Delete under /recurring."""
    row = RecurringExpense.get_or_none((RecurringExpense.id == data.recurring_id)
                                       & (RecurringExpense.user == ctx.user.id))
    if row is None:
        return SKIP
    if data.verb is RecurringVerb.DELETE:
        ctx.reply(_change_recurring(ctx, "delete", row))
    else:
        ctx.reply(_change_recurring(ctx, "pause" if row.active else "resume", row))
    _refresh_recurring_list(ctx)
    return None


def _refresh_recurring_list(ctx: Context) -> None:
    view = View(ctx.t, _prefs(ctx))
    rows = _own_recurring(ctx)
    if not rows:
        ctx.edit(ctx.t("recurring.empty"))
        return
    lines = [ctx.t("recurring.title")] + [view.recurring(n, r) for n, r in enumerate(rows, 1)]
    ctx.edit("\n".join(lines), buttons=views.recurring_keyboard(view, rows))


BUTTONS = ((UndoExpense, on_undo), (RestoreExpense, on_restore), (SetCategory, on_category),
           (DeleteListed, on_delete), (ListPage, on_page), (EditExpense, on_edit), (RecurringAction, on_recurring))
"""Each button class with its handler, registered in one loop by the plugin."""
