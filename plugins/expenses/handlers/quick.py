"""Quick add: free text like "coffee $5", and the buttons under its answer (Undo, Restore, category)."""
from __future__ import annotations

from typing import Any

from framework import SKIP, Context

from .. import (
    categories,
    ledger,
    money,
    nlp,
    service,
    views,
)
from ..views import (
    RestoreExpense,
    SetCategory,
    UndoExpense,
    View,
)
from . import common, listing


def quick_add(ctx: Context) -> Any:
    """Free text like "coffee $5": saved at once with Undo and category buttons.

    Returns SKIP for anything that is not clearly an expense, so other
    plugins (and plain chat) get it untouched.
    """
    text = ctx.text
    if not ctx.settings["quick_add"] or not any(ch.isdigit() for ch in text):
        return SKIP
    prefs = common.prefs(ctx, create=False)  # read once; a text that is no expense creates no row
    if not prefs.nlp_enabled:
        return SKIP
    book = categories.CategoryBook.of(ctx)  # one load serves the parser, the guess and the keyboard
    parsed = nlp.parse_expense(text, today=common.today(prefs, ctx), lang=ctx.lang, default_currency=prefs.currency,
                               known_words=book.learned_words())
    if parsed is None:
        return SKIP
    try:
        amount = money.validate_amount(parsed.amount, parsed.currency)
    except money.AmountError as error:
        ctx.reply(ctx.t(f"error.amount.{error.code}", **error.params))
        return None
    if prefs.id is None:  # the user's first expense: now the settings row is worth creating
        prefs = common.prefs(ctx)
    category = book.guess(list(parsed.words), prefs.auto_categorize)
    expense = service.add(ctx, amount=amount, currency=parsed.currency, category=category,
                          note=parsed.note, date=parsed.date, source="nlp", original=text)
    view = View(ctx.t, prefs)
    ctx.reply(ctx.t("quick.saved", line=view.expense(expense, category)),
              buttons=views.saved_keyboard(view, expense, book.visible()))
    alert = service.budget_alert(view, ctx.user, prefs, common.today(prefs, ctx))
    if alert:
        ctx.reply(alert)
    return None


def on_undo(ctx: Context, data: UndoExpense) -> Any:
    expense = ledger.get_own(ctx.user, data.expense_id)
    if expense is None:
        return SKIP
    listing.delete_and_offer_restore(ctx, expense, edit=True)
    ctx.answer(ctx.t("deleted_toast"))
    return None


def on_restore(ctx: Context, data: RestoreExpense) -> Any:
    expense = ledger.get_own(ctx.user, data.expense_id, deleted=True)
    if expense is None or not ledger.can_restore(expense, ctx.now()):
        return SKIP
    service.restore(ctx, expense)
    view = View(ctx.t, common.prefs(ctx))
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
    view = View(ctx.t, common.prefs(ctx))
    ctx.edit(ctx.t("quick.saved", line=view.expense(expense, category)),
             buttons=views.saved_keyboard(view, expense, book.visible()))
    ctx.answer(ctx.t("quick.category_changed", category=view.category(category)))
    return None
