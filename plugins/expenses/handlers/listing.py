"""/undo and /list, and the buttons of the list (Delete, Edit, Prev/Next)."""
from __future__ import annotations

from typing import Any

from framework import SKIP, Button, Context

from .. import (
    conversation,
    ledger,
    periods,
    service,
    views,
)
from ..models import Expense, ExpenseSettings
from ..views import (
    DeleteListed,
    EditExpense,
    ListPage,
    View,
)
from . import common


def undo(ctx: Context) -> None:
    """/undo: delete the last expense (restorable for 24 hours)."""
    expense = ledger.last(ctx.user)
    if expense is None:
        ctx.reply(ctx.t("undo.nothing"))
        return
    delete_and_offer_restore(ctx, expense, edit=False)


def delete_and_offer_restore(ctx: Context, expense: Expense, edit: bool) -> None:
    view = View(ctx.t, common.prefs(ctx))
    service.delete(ctx, expense)
    text = ctx.t("deleted", line=view.expense(expense), hours=int(ledger.RESTORE_WINDOW.total_seconds() // 3600))
    (ctx.edit if edit else ctx.reply)(text, buttons=views.restore_keyboard(view, expense))


def list_(ctx: Context, period: periods.Period | None) -> None:
    """/list [period]: the period's expenses, a page at a time, with Edit and Delete."""
    prefs = common.prefs(ctx)
    text, buttons = list_page(ctx, prefs, period or common.this_month(ctx, prefs), 0)
    ctx.reply(text, buttons=buttons)


def list_page(ctx: Context, prefs: ExpenseSettings, period: periods.Period,
               page: int) -> tuple[str, list[list[Button]] | None]:
    size = max(1, int(ctx.settings["page_size"]))
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


def on_delete(ctx: Context, data: DeleteListed) -> Any:
    """Delete from /list: refresh the page, and offer Restore in a new message."""
    expense = ledger.get_own(ctx.user, data.expense_id)
    prefs = common.prefs(ctx)
    period = common.spec_period(prefs, ctx, data.period)
    if expense is None or period is None or data.page < 0:
        return SKIP
    view = View(ctx.t, prefs)
    service.delete(ctx, expense)
    text, buttons = list_page(ctx, prefs, period, fit_page(ctx, period, data.page))
    ctx.edit(text, buttons=buttons)
    ctx.reply(ctx.t("deleted", line=view.expense(expense), hours=int(ledger.RESTORE_WINDOW.total_seconds() // 3600)),
              buttons=views.restore_keyboard(view, expense))
    return None


def fit_page(ctx: Context, period: periods.Period, page: int) -> int:
    """After a delete the last page may be gone: step back to the last one left."""
    size = max(1, int(ctx.settings["page_size"]))
    _, total = ledger.page(ctx.user, period.start, period.end, 0, 1)
    return max(0, min(page, (total - 1) // size if total else 0))


def on_page(ctx: Context, data: ListPage) -> Any:
    """Prev/Next of /list (only its owner may turn the pages: the core checks)."""
    prefs = common.prefs(ctx)
    period = common.spec_period(prefs, ctx, data.period)
    if period is None or data.page < 0:
        return SKIP
    text, buttons = list_page(ctx, prefs, period, fit_page(ctx, period, data.page))
    ctx.edit(text, buttons=buttons)
    return None


def on_edit(ctx: Context, data: EditExpense) -> Any:
    expense = ledger.get_own(ctx.user, data.expense_id)
    if expense is None:
        return SKIP
    conversation.edit_existing(ctx, expense)
    return None
