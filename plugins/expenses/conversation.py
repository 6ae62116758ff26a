"""The /add conversation: seed 000's state machine, exactly.

    IDLE → /add → AWAITING_AMOUNT → AWAITING_CATEGORY → AWAITING_NOTE (or Skip)
         → AWAITING_CONFIRMATION → Confirm → IDLE (saved)
                                 → Edit → EDITING_EXPENSE → AWAITING_CONFIRMATION
    any state → /cancel (core) or the Cancel button → IDLE

``/add 12.50`` starts at AWAITING_CATEGORY. The Edit button of /list enters
EDITING_EXPENSE directly with ``expense_id`` set, so changing a saved expense
reuses the same screens. Temp data is JSON: amounts travel as strings.
A wrong answer (bad amount, unknown category) keeps the user in the same state.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from framework import Button, Context, Conversation

from . import categories, ledger, money, nlp, preferences, service, views
from .models import Category, Expense, ExpenseSettings
from .views import View

AMOUNT, CATEGORY, NOTE, CONFIRM, EDITING = (
    "AWAITING_AMOUNT", "AWAITING_CATEGORY", "AWAITING_NOTE", "AWAITING_CONFIRMATION", "EDITING_EXPENSE")

add_conversation = Conversation("add", states={
    AMOUNT: [CATEGORY],
    CATEGORY: [NOTE],
    NOTE: [CONFIRM],
    CONFIRM: [EDITING],
    EDITING: [CONFIRM],
})

FIELDS = ("amount", "category", "note", "date")


# --------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------


def _prefs(ctx: Context) -> ExpenseSettings:
    return preferences.get(ctx.user, ctx.settings, ctx.lang)


def _view(ctx: Context) -> View:
    return View(ctx.t, _prefs(ctx))


def _lang(ctx: Context) -> str:
    return (ctx.lang or "en").split("-")[0]


def _action(ctx: Context) -> list[str] | None:
    """``add:cat:12`` → ``["cat", "12"]``; None for a text message."""
    if ctx.data is None:
        return None
    return ctx.data.split(":")[1:]


def _cancel_row(ctx: Context) -> list[Button]:
    return [Button(ctx.t("button.cancel"), "add:cancel")]


def _amount_error(ctx: Context, error: money.AmountError) -> str:
    return ctx.t(f"error.amount.{error.code}", **error.params)


def _category_keyboard(ctx: Context, selected: int | None = None) -> list[list[Button]]:
    rows = views.category_rows(_view(ctx), categories.CategoryBook.of(ctx).visible(), lambda c: f"add:cat:{c.id}", selected)
    return rows + [_cancel_row(ctx)]


def _confirm_keyboard(ctx: Context) -> list[list[Button]]:
    return [[Button(ctx.t("button.confirm"), "add:ok"), Button(ctx.t("button.edit"), "add:edit")],
            _cancel_row(ctx)]


def _fields_keyboard(ctx: Context) -> list[list[Button]]:
    return [[Button(ctx.t(f"button.field.{f}"), f"add:f:{f}") for f in FIELDS[:2]],
            [Button(ctx.t(f"button.field.{f}"), f"add:f:{f}") for f in FIELDS[2:]],
            [Button(ctx.t("button.back"), "add:back")], _cancel_row(ctx)]


def _say(ctx: Context, text: str, buttons: Any = None) -> None:
    """Edit the prompt when a button was pressed, else answer the message."""
    if ctx.callback is not None:
        ctx.edit(text, buttons=buttons)
    else:
        ctx.reply(text, buttons=buttons)


def _draft_category(ctx: Context, data: dict[str, Any]) -> Category | None:
    return categories.CategoryBook.of(ctx).get_visible(data.get("category_id"))


def _show_confirmation(ctx: Context, **changes: Any) -> None:
    ctx.session.goto(CONFIRM, field=None, **changes)
    data = ctx.session.data
    _say(ctx, _view(ctx).draft(data, _draft_category(ctx, data)) + "\n\n" + ctx.t("add.ask_confirm"),
         _confirm_keyboard(ctx))


def _ask_category(ctx: Context, amount: Decimal, currency: str) -> None:
    text = ctx.t("add.ask_category", amount=_view(ctx).money(amount, currency))
    _say(ctx, text, _category_keyboard(ctx))


def _stale(ctx: Context) -> None:
    ctx.answer(ctx.t("core.stale_button"))


def _cancel(ctx: Context) -> None:
    ctx.session.end()
    _say(ctx, ctx.t("core.cancel.done"))


# --------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------


def start(ctx: Context) -> None:
    """/add [amount]: start (or restart) the conversation."""
    prefs = _prefs(ctx)
    today = preferences.today(prefs, ctx.now())
    draft = {"currency": prefs.currency, "date": today.isoformat(), "note": "", "category_id": None,
             "expense_id": None, "field": None, "original": ctx.text[:500]}
    ctx.session.end()
    if not ctx.args:
        ctx.session.goto(AMOUNT, **draft)
        ctx.reply(ctx.t("add.ask_amount"), buttons=[_cancel_row(ctx)])
        return
    try:
        amount, currency = money.parse_money(ctx.args, prefs.currency, _lang(ctx))
    except money.AmountError as error:
        ctx.session.goto(AMOUNT, **draft)
        ctx.reply(_amount_error(ctx, error) + "\n" + ctx.t("add.ask_amount"), buttons=[_cancel_row(ctx)])
        return
    ctx.session.goto(CATEGORY, **{**draft, "amount": str(amount), "currency": currency})
    _ask_category(ctx, amount, currency)


def edit_existing(ctx: Context, expense: Expense) -> None:
    """The Edit button of /list: the EDITING_EXPENSE screen for a saved expense."""
    ctx.session.end()
    ctx.session.goto(EDITING, expense_id=expense.id, amount=format(Decimal(expense.amount), "f"),
                     currency=expense.currency, category_id=expense.category_id, note=expense.note or "",
                     date=expense.expense_date.isoformat(), field=None, original=None)
    data = ctx.session.data
    ctx.reply(_view(ctx).draft(data, _draft_category(ctx, data)) + "\n\n" + ctx.t("add.ask_field"),
              buttons=_fields_keyboard(ctx))


# --------------------------------------------------------------------------
# States
# --------------------------------------------------------------------------


@add_conversation.state(AMOUNT)
def on_amount(ctx: Context) -> None:
    """Parse the amount (with an optional currency); a bad one is explained and asked again."""
    action = _action(ctx)
    if action == ["cancel"]:
        _cancel(ctx)
        return
    if action is not None:
        _stale(ctx)
        return
    try:
        amount, currency = money.parse_money(ctx.text, ctx.session.data["currency"], _lang(ctx))
    except money.AmountError as error:
        ctx.reply(_amount_error(ctx, error) + "\n" + ctx.t("add.ask_amount"), buttons=[_cancel_row(ctx)])
        return
    ctx.session.goto(CATEGORY, amount=str(amount), currency=currency)
    _ask_category(ctx, amount, currency)


def _chosen_category(ctx: Context, action: list[str] | None) -> Category | None:
    if action is None:
        return categories.CategoryBook.of(ctx).find_by_name(ctx.text)
    if len(action) == 2 and action[0] == "cat":
        return categories.CategoryBook.of(ctx).get_visible(action[1])
    return None


@add_conversation.state(CATEGORY)
def on_category(ctx: Context) -> None:
    """A category button, or its name typed; anything else shows the keyboard again."""
    action = _action(ctx)
    if action == ["cancel"]:
        _cancel(ctx)
        return
    category = _chosen_category(ctx, action)
    if category is None:
        if action is not None:
            _stale(ctx)
            return
        ctx.reply(ctx.t("add.use_buttons"), buttons=_category_keyboard(ctx))
        return
    ctx.session.goto(NOTE, category_id=category.id)
    text = ctx.t("add.chosen_category", category=_view(ctx).category(category)) + "\n" + ctx.t("add.ask_note")
    _say(ctx, text, [[Button(ctx.t("button.skip"), "add:skip")], _cancel_row(ctx)])


def _note_from(ctx: Context, action: list[str] | None) -> str | None:
    """The typed note, "" for Skip, None when the input is not a note."""
    if action == ["skip"]:
        return ""
    if action is None:
        return ctx.text.strip()
    return None


@add_conversation.state(NOTE)
def on_note(ctx: Context) -> None:
    """The note typed, or Skip for none."""
    action = _action(ctx)
    if action == ["cancel"]:
        _cancel(ctx)
        return
    note = _note_from(ctx, action)
    if note is None:
        _stale(ctx)
        return
    if len(note) > ledger.MAX_NOTE:
        ctx.reply(ctx.t("error.note_too_long", max=ledger.MAX_NOTE))
        return
    _show_confirmation(ctx, note=note)


@add_conversation.state(CONFIRM)
def on_confirmation(ctx: Context) -> None:
    """Confirm saves, Edit opens the field menu, Cancel drops the draft."""
    action = _action(ctx)
    if action == ["cancel"]:
        _cancel(ctx)
    elif action == ["ok"]:
        _save(ctx)
    elif action == ["edit"]:
        ctx.session.goto(EDITING, field=None)
        data = ctx.session.data
        _say(ctx, _view(ctx).draft(data, _draft_category(ctx, data)) + "\n\n" + ctx.t("add.ask_field"),
             _fields_keyboard(ctx))
    elif action is None:
        ctx.reply(ctx.t("add.use_buttons"), buttons=_confirm_keyboard(ctx))
    else:
        _stale(ctx)


@add_conversation.state(EDITING)
def on_editing(ctx: Context) -> None:
    """The field menu, then the new value of the chosen field; back to confirmation after."""
    action = _action(ctx)
    field = ctx.session.data.get("field")
    if action == ["cancel"]:
        _cancel(ctx)
    elif action == ["back"]:
        _show_confirmation(ctx)
    elif action is not None and len(action) == 2 and action[0] == "f" and action[1] in FIELDS:
        _ask_field(ctx, action[1])
    elif field == "amount" and action is None:
        _edit_amount(ctx)
    elif field == "category":
        _edit_category(ctx, action)
    elif field == "note" and (action is None or action == ["skip"]):
        _edit_note(ctx, action)
    elif field == "date" and (action is None or (len(action) == 2 and action[0] == "date")):
        _edit_date(ctx, action)
    elif action is None:
        ctx.reply(ctx.t("add.use_buttons"), buttons=_fields_keyboard(ctx))
    else:
        _stale(ctx)


def _ask_field(ctx: Context, field: str) -> None:
    ctx.session.update(field=field)
    back = [Button(ctx.t("button.back"), "add:back")]
    if field == "amount":
        _say(ctx, ctx.t("add.ask_amount"), [back])
    elif field == "category":
        rows = views.category_rows(_view(ctx), categories.CategoryBook.of(ctx).visible(), lambda c: f"add:cat:{c.id}",
                                   ctx.session.data.get("category_id"))
        _say(ctx, ctx.t("add.ask_new_category"), rows + [back])
    elif field == "note":
        _say(ctx, ctx.t("add.ask_note"), [[Button(ctx.t("button.clear_note"), "add:skip")], back])
    else:
        today = preferences.today(_prefs(ctx), ctx.now())
        days = [(ctx.t("button.today"), today), (ctx.t("button.yesterday"), today - dt.timedelta(days=1))]
        _say(ctx, ctx.t("add.ask_date"), [[Button(label, f"add:date:{day.isoformat()}") for label, day in days],
                                          back])


def _edit_amount(ctx: Context) -> None:
    try:
        amount, currency = money.parse_money(ctx.text, ctx.session.data["currency"], _lang(ctx))
    except money.AmountError as error:
        ctx.reply(_amount_error(ctx, error) + "\n" + ctx.t("add.ask_amount"))
        return
    _show_confirmation(ctx, amount=str(amount), currency=currency)


def _edit_category(ctx: Context, action: list[str] | None) -> None:
    category = _chosen_category(ctx, action)
    if category is None:
        if action is not None:
            _stale(ctx)
        else:
            ctx.reply(ctx.t("add.use_buttons"))
        return
    _show_confirmation(ctx, category_id=category.id)


def _edit_note(ctx: Context, action: list[str] | None) -> None:
    note = _note_from(ctx, action) or ""
    if len(note) > ledger.MAX_NOTE:
        ctx.reply(ctx.t("error.note_too_long", max=ledger.MAX_NOTE))
        return
    _show_confirmation(ctx, note=note)


def _edit_date(ctx: Context, action: list[str] | None) -> None:
    today = preferences.today(_prefs(ctx), ctx.now())
    if action is not None:
        try:
            day = dt.date.fromisoformat(action[1])
        except ValueError:
            _stale(ctx)
            return
    else:
        day = nlp.parse_date(ctx.text, today)
        if day is None:
            ctx.reply(ctx.t("error.date"))
            return
    if not dt.date(2000, 1, 1) <= day <= today + dt.timedelta(days=366):
        ctx.reply(ctx.t("error.date_range"))
        return
    _show_confirmation(ctx, date=day.isoformat())


# --------------------------------------------------------------------------
# Saving
# --------------------------------------------------------------------------


def _validated(ctx: Context, data: dict[str, Any]) -> tuple[Decimal, Category] | None:
    """Re-check the draft at the last moment: a category may have been archived meanwhile."""
    try:
        amount = money.validate_amount(Decimal(data["amount"]), data["currency"])
    except (money.AmountError, ArithmeticError, KeyError, TypeError):
        return None
    category = _draft_category(ctx, data)
    return (amount, category) if category is not None else None


def _save(ctx: Context) -> None:
    data = ctx.session.data
    checked = _validated(ctx, data)
    if checked is None:
        ctx.session.goto(EDITING, field=None)
        _say(ctx, ctx.t("add.fix_draft"), _fields_keyboard(ctx))
        return
    amount, category = checked
    view = _view(ctx)
    fields = {"amount": amount, "currency": data["currency"], "category": category, "note": data.get("note"),
              "expense_date": dt.date.fromisoformat(data["date"])}
    if data.get("expense_id"):
        expense = ledger.get_own(ctx.user, data["expense_id"])
        ctx.session.end()
        if expense is None:
            _say(ctx, ctx.t("error.expense_gone"))
            return
        service.edit(ctx, expense, **fields)
        _say(ctx, ctx.t("add.updated", line=view.expense(expense, category)))
        return
    ctx.session.end()
    expense = service.add(ctx, amount=amount, currency=fields["currency"], category=category,
                          note=fields["note"], date=fields["expense_date"], source="manual",
                          original=data.get("original"))
    _say(ctx, ctx.t("add.saved", line=view.expense(expense, category)),
         [[Button(ctx.t("button.undo"), views.data("undo", expense.id))]])
    alert = service.budget_alert(view, ctx.user, view.prefs, preferences.today(view.prefs, ctx.now()))
    if alert:
        ctx.reply(alert)
