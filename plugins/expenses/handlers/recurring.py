"""/recurring and its Pause/Resume/Delete buttons."""
from __future__ import annotations

from typing import Any

from framework import SKIP, Context, arg

from .. import (
    categories,
    money,
    recurring,
    views,
)
from ..models import RecurringExpense
from ..views import (
    RecurringAction,
    RecurringVerb,
    View,
)
from . import common

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
    view = View(ctx.t, common.prefs(ctx))
    rows = _own_recurring(ctx)
    if not rows:
        ctx.reply(ctx.t("recurring.empty") + "\n\n" + ctx.t("recurring.usage"))
        return
    lines = [ctx.t("recurring.title")] + [view.recurring(n, r) for n, r in enumerate(rows, 1)]
    ctx.reply("\n".join(lines), buttons=views.recurring_keyboard(view, rows))


def _add_recurring(ctx: Context, text: str) -> None:
    prefs = common.prefs(ctx)
    today = common.today(prefs, ctx)
    try:
        spec = recurring.parse_schedule(text, today, ctx.lang)
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
    view = View(ctx.t, common.prefs(ctx))
    line = view.recurring(_own_recurring(ctx).index(row) + 1, row)
    if action == "delete":
        row.delete_instance()
        ctx.audit("recurring_deleted", "recurring", row.id, {"note": row.note})
        return ctx.t("recurring.deleted", line=line)
    row.active = action == "resume"
    if row.active:
        row.next_run = recurring.next_due(row.schedule_kind, row.schedule_day, common.today(view.prefs, ctx))
    row.updated_at = ctx.now()
    row.save()
    ctx.audit(f"recurring_{'resumed' if row.active else 'paused'}", "recurring", row.id, {"note": row.note})
    return ctx.t("recurring.resumed" if row.active else "recurring.paused", line=view.recurring(
        _own_recurring(ctx).index(row) + 1, row))


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
    view = View(ctx.t, common.prefs(ctx))
    rows = _own_recurring(ctx)
    if not rows:
        ctx.edit(ctx.t("recurring.empty"))
        return
    lines = [ctx.t("recurring.title")] + [view.recurring(n, r) for n, r in enumerate(rows, 1)]
    ctx.edit("\n".join(lines), buttons=views.recurring_keyboard(view, rows))
