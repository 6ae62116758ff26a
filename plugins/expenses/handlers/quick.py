"""Quick add: free text like "coffee $5", and the buttons under its answer (Undo, Restore, category).

A text that is plausibly an expense but not certainly one ("haircut 5") gets a
one-tap question instead of silence. Its draft waits in the plugin cache for a
day under the message's id; Save stores it and teaches the note's words, so the
same text is saved at once next time; No drops it.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from framework import SKIP, Context

from .. import (
    categories,
    ledger,
    money,
    nlp,
    periods,
    service,
    views,
)
from ..models import ExpenseSettings
from ..views import (
    QuickAnswer,
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
    if not periods.FIRST_YEAR <= parsed.date.year <= periods.LAST_YEAR:  # the rule of every date typed
        ctx.reply(ctx.t("error.period.range"))
        return None
    try:
        amount = money.validate_amount(parsed.amount, parsed.currency)
    except money.AmountError as error:
        ctx.reply(ctx.t(f"error.amount.{error.code}", **error.params))
        return None
    if not parsed.certain:
        _ask(ctx, prefs, amount, parsed)
        return None
    if prefs.id is None:  # the user's first expense: now the settings row is worth creating
        prefs = common.prefs(ctx)
    _save(ctx, prefs, book, amount=amount, currency=parsed.currency, note=parsed.note, date=parsed.date,
          original=text)
    return None


QUESTION_TTL = 24 * 3600  # seconds an unanswered question's draft is kept


def _draft_key(ctx: Context, ask_id: int) -> str:
    """Message ids are per chat: the chat is part of the key, so a question in a group and one in
    the private chat never share a draft."""
    return f"ask:{ctx.user.id}:{ctx.chat_id}:{ask_id}"


def _ask(ctx: Context, prefs: ExpenseSettings, amount: Decimal, parsed: nlp.ParsedExpense) -> None:
    ask_id = ctx.message.message_id
    ctx.cache.set(_draft_key(ctx, ask_id), {"amount": format(amount, "f"), "currency": parsed.currency,
                                            "note": parsed.note, "date": parsed.date.isoformat(),
                                            "original": ctx.text[:500]}, ttl=QUESTION_TTL)
    view = View(ctx.t, prefs)
    ctx.reply(ctx.t("quick.ask", amount=view.money(amount, parsed.currency), note=parsed.note),
              buttons=views.question_keyboard(view, ask_id))


def _save(ctx: Context, prefs: ExpenseSettings, book: categories.CategoryBook, *, amount: Decimal, currency: str,
          note: str, date: dt.date, original: str, teach: bool = False, edit: bool = False) -> None:
    words = categories.words_of(note)
    category = book.guess(words, prefs.auto_categorize)
    if teach:  # the user said this is spending: the same words are saved at once next time
        book.remember(words, category)
    expense = service.add(ctx, amount=amount, currency=currency, category=category,
                          note=note, date=date, source="nlp", original=original)
    view = View(ctx.t, prefs)
    (ctx.edit if edit else ctx.reply)(ctx.t("quick.saved", line=view.expense(expense, category)),
                                      buttons=views.saved_keyboard(view, expense, book.visible()))
    alert = service.budget_alert(view, ctx.user, prefs, common.today(prefs, ctx))
    if alert:
        ctx.reply(alert)


def on_answer(ctx: Context, data: QuickAnswer) -> Any:
    """Save or No under the question; a draft that is gone (a day passed, answered) is a stale button."""
    key = _draft_key(ctx, data.ask_id)
    draft = ctx.cache.get(key)
    if not isinstance(draft, dict):
        return SKIP
    ctx.cache.delete(key)
    if not data.save:
        ctx.edit(ctx.t("quick.not_saved"))
        return None
    _save(ctx, common.prefs(ctx), categories.CategoryBook.of(ctx), amount=Decimal(draft["amount"]), currency=draft["currency"],
          note=draft["note"], date=dt.date.fromisoformat(draft["date"]), original=draft["original"], teach=True,
          edit=True)
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
