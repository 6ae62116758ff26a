"""The /add conversation: amount, category, an optional note, then confirm.

    IDLE → /add → AWAITING_AMOUNT → AWAITING_CATEGORY → AWAITING_NOTE (or Skip)
         → AWAITING_CONFIRMATION → Confirm → IDLE (saved)
                                 → Edit → EDITING_EXPENSE → AWAITING_CONFIRMATION
    any state → /cancel (core) or the Cancel button → IDLE

``/add 12.50`` starts at AWAITING_CATEGORY. The Edit button of /list enters
EDITING_EXPENSE directly with ``expense_id`` set, so changing a saved expense
reuses the same screens. Temp data is JSON: amounts travel as strings.
A wrong answer (bad amount, unknown category) keeps the user in the same state.

The conversation's buttons are the four classes below; the core hands a press
to the current state's handler as ``ctx.callback_data``, and only while the
user is in the conversation (outside it they are stale).
"""
from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from framework import SKIP, Button, CallbackData, Context, Conversation, arg

from . import categories, ledger, money, nlp, preferences, service, views
from .models import Category, Expense, ExpenseSettings
from .views import View

AMOUNT, CATEGORY, NOTE, CONFIRM, EDITING = (
    "AWAITING_AMOUNT", "AWAITING_CATEGORY", "AWAITING_NOTE", "AWAITING_CONFIRMATION", "EDITING_EXPENSE")

class Step(enum.Enum):
    CANCEL = "cancel"
    OK = "ok"
    EDIT = "edit"
    BACK = "back"
    SKIP = "skip"


class Field(enum.Enum):
    AMOUNT = "amount"
    CATEGORY = "category"
    NOTE = "note"
    DATE = "date"


class AddStep(CallbackData, prefix="add"):
    """Cancel, Confirm, Edit, Back and Skip."""

    step: Step


class AddCategory(CallbackData, prefix="addc"):
    category_id: int


class AddField(CallbackData, prefix="addf"):
    """A field of the Edit screen."""

    field: Field


class AddDate(CallbackData, prefix="addd"):
    """Today / Yesterday on the date screen."""

    day: dt.date


add_conversation = Conversation("add", states={
    AMOUNT: [CATEGORY],
    CATEGORY: [NOTE],
    NOTE: [CONFIRM],
    CONFIRM: [EDITING],
    EDITING: [CONFIRM],
}, command="add", help="help.add", args=[arg.text("amount", optional=True)],
    callbacks=[AddStep, AddCategory, AddField, AddDate])


# --------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------


def _prefs(ctx: Context) -> ExpenseSettings:
    return preferences.get(ctx.user, ctx.settings, ctx.lang)


def _view(ctx: Context) -> View:
    return View(ctx.t, _prefs(ctx))


def _lang(ctx: Context) -> str:
    return (ctx.lang or "en").split("-")[0]


def _step(ctx: Context) -> Step | None:
    """The Cancel/Confirm/Edit/Back/Skip button pressed, if that is what this update is."""
    data = ctx.callback_data
    return data.step if isinstance(data, AddStep) else None


def _cancel_row(ctx: Context) -> list[Button]:
    return [Button(ctx.t("button.cancel"), AddStep(step=Step.CANCEL))]


def _amount_error(ctx: Context, error: money.AmountError) -> str:
    return ctx.t(f"error.amount.{error.code}", **error.params)


def _category_keyboard(ctx: Context, selected: int | None = None) -> list[list[Button]]:
    rows = views.category_rows(_view(ctx), categories.CategoryBook.of(ctx).visible(),
                               lambda c: AddCategory(category_id=c.id), selected)
    return rows + [_cancel_row(ctx)]


def _confirm_keyboard(ctx: Context) -> list[list[Button]]:
    return [[Button(ctx.t("button.confirm"), AddStep(step=Step.OK)), Button(ctx.t("button.edit"), AddStep(step=Step.EDIT))],
            _cancel_row(ctx)]


def _fields_keyboard(ctx: Context) -> list[list[Button]]:
    fields = [Button(ctx.t(f"button.field.{f.value}"), AddField(field=f)) for f in Field]
    return [fields[:2], fields[2:], [Button(ctx.t("button.back"), AddStep(step=Step.BACK))], _cancel_row(ctx)]


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


def _cancel(ctx: Context) -> None:
    ctx.session.end()
    _say(ctx, ctx.t("core.cancel.done"))


# --------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------


@add_conversation.entry
def start(ctx: Context, amount: str | None) -> None:
    """/add [amount]: start (or restart) the conversation."""
    prefs = _prefs(ctx)
    today = preferences.today(prefs, ctx.now())
    draft = {"currency": prefs.currency, "date": today.isoformat(), "note": "", "category_id": None,
             "expense_id": None, "field": None, "original": ctx.text[:500]}
    ctx.session.end()
    if amount is None:
        ctx.session.goto(AMOUNT, **draft)
        ctx.reply(ctx.t("add.ask_amount"), buttons=[_cancel_row(ctx)])
        return
    try:
        value, currency = money.parse_money(amount, prefs.currency, _lang(ctx))
    except money.AmountError as error:
        ctx.session.goto(AMOUNT, **draft)
        ctx.reply(_amount_error(ctx, error) + "\n" + ctx.t("add.ask_amount"), buttons=[_cancel_row(ctx)])
        return
    ctx.session.goto(CATEGORY, **{**draft, "amount": str(value), "currency": currency})
    _ask_category(ctx, value, currency)


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
def on_amount(ctx: Context) -> Any:
    """Parse the amount (with an optional currency); a bad one is explained and asked again."""
    step = _step(ctx)
    if step is Step.CANCEL:
        return _cancel(ctx)
    if ctx.callback_data is not None:
        return SKIP  # a button of another step: stale here
    try:
        amount, currency = money.parse_money(ctx.text, ctx.session.data["currency"], _lang(ctx))
    except money.AmountError as error:
        ctx.reply(_amount_error(ctx, error) + "\n" + ctx.t("add.ask_amount"), buttons=[_cancel_row(ctx)])
        return None
    ctx.session.goto(CATEGORY, amount=str(amount), currency=currency)
    _ask_category(ctx, amount, currency)
    return None


def _chosen_category(ctx: Context) -> Category | None:
    """The category button pressed or the category name typed; None for anything else."""
    data = ctx.callback_data
    if data is None:
        return categories.CategoryBook.of(ctx).find_by_name(ctx.text)
    if isinstance(data, AddCategory):
        return categories.CategoryBook.of(ctx).get_visible(data.category_id)
    return None


@add_conversation.state(CATEGORY)
def on_category(ctx: Context) -> Any:
    """A category button, or its name typed; anything else shows the keyboard again."""
    if _step(ctx) is Step.CANCEL:
        return _cancel(ctx)
    category = _chosen_category(ctx)
    if category is None:
        if ctx.callback_data is not None:
            return SKIP  # another step's button, or a category that is not (or no longer) the user's
        ctx.reply(ctx.t("add.use_buttons"), buttons=_category_keyboard(ctx))
        return None
    ctx.session.goto(NOTE, category_id=category.id)
    text = ctx.t("add.chosen_category", category=_view(ctx).category(category)) + "\n" + ctx.t("add.ask_note")
    _say(ctx, text, [[Button(ctx.t("button.skip"), AddStep(step=Step.SKIP))], _cancel_row(ctx)])
    return None


def _note_from(ctx: Context) -> str | None:
    """The typed note, "" for Skip, None when the input is not a note."""
    if _step(ctx) is Step.SKIP:
        return ""
    if ctx.callback_data is None:
        return ctx.text.strip()
    return None


@add_conversation.state(NOTE)
def on_note(ctx: Context) -> Any:
    """The note typed, or Skip for none."""
    if _step(ctx) is Step.CANCEL:
        return _cancel(ctx)
    note = _note_from(ctx)
    if note is None:
        return SKIP
    if len(note) > ledger.MAX_NOTE:
        ctx.reply(ctx.t("error.note_too_long", max=ledger.MAX_NOTE))
        return None
    _show_confirmation(ctx, note=note)
    return None


@add_conversation.state(CONFIRM)
def on_confirmation(ctx: Context) -> Any:
    """Confirm saves, Edit opens the field menu, Cancel drops the draft."""
    step = _step(ctx)
    if step is Step.CANCEL:
        _cancel(ctx)
    elif step is Step.OK:
        _save(ctx)
    elif step is Step.EDIT:
        ctx.session.goto(EDITING, field=None)
        data = ctx.session.data
        _say(ctx, _view(ctx).draft(data, _draft_category(ctx, data)) + "\n\n" + ctx.t("add.ask_field"),
             _fields_keyboard(ctx))
    elif ctx.callback_data is None:
        ctx.reply(ctx.t("add.use_buttons"), buttons=_confirm_keyboard(ctx))
    else:
        return SKIP
    return None


@add_conversation.state(EDITING)
def on_editing(ctx: Context) -> Any:
    """The field menu, then the new value of the chosen field; back to confirmation after."""
    data, step = ctx.callback_data, _step(ctx)
    field = ctx.session.data.get("field")
    if step is Step.CANCEL:
        _cancel(ctx)
    elif step is Step.BACK:
        _show_confirmation(ctx)
    elif isinstance(data, AddField):
        _ask_field(ctx, data.field.value)
    elif field == "amount" and data is None:
        _edit_amount(ctx)
    elif field == "category" and (data is None or isinstance(data, AddCategory)):
        return _edit_category(ctx)
    elif field == "note" and (data is None or step is Step.SKIP):
        _edit_note(ctx)
    elif field == "date" and (data is None or isinstance(data, AddDate)):
        _edit_date(ctx)
    elif data is None:
        ctx.reply(ctx.t("add.use_buttons"), buttons=_fields_keyboard(ctx))
    else:
        return SKIP
    return None


def _ask_field(ctx: Context, field: str) -> None:
    ctx.session.update(field=field)
    back = [Button(ctx.t("button.back"), AddStep(step=Step.BACK))]
    if field == "amount":
        _say(ctx, ctx.t("add.ask_amount"), [back])
    elif field == "category":
        rows = views.category_rows(_view(ctx), categories.CategoryBook.of(ctx).visible(),
                                   lambda c: AddCategory(category_id=c.id), ctx.session.data.get("category_id"))
        _say(ctx, ctx.t("add.ask_new_category"), rows + [back])
    elif field == "note":
        _say(ctx, ctx.t("add.ask_note"), [[Button(ctx.t("button.clear_note"), AddStep(step=Step.SKIP))], back])
    else:
        today = preferences.today(_prefs(ctx), ctx.now())
        days = [(ctx.t("button.today"), today), (ctx.t("button.yesterday"), today - dt.timedelta(days=1))]
        _say(ctx, ctx.t("add.ask_date"), [[Button(label, AddDate(day=day)) for label, day in days], back])


def _edit_amount(ctx: Context) -> None:
    try:
        amount, currency = money.parse_money(ctx.text, ctx.session.data["currency"], _lang(ctx))
    except money.AmountError as error:
        ctx.reply(_amount_error(ctx, error) + "\n" + ctx.t("add.ask_amount"))
        return
    _show_confirmation(ctx, amount=str(amount), currency=currency)


def _edit_category(ctx: Context) -> Any:
    category = _chosen_category(ctx)
    if category is None:
        if ctx.callback_data is not None:
            return SKIP
        ctx.reply(ctx.t("add.use_buttons"))
        return None
    _show_confirmation(ctx, category_id=category.id)
    return None


def _edit_note(ctx: Context) -> None:
    note = _note_from(ctx) or ""
    if len(note) > ledger.MAX_NOTE:
        ctx.reply(ctx.t("error.note_too_long", max=ledger.MAX_NOTE))
        return
    _show_confirmation(ctx, note=note)


def _edit_date(ctx: Context) -> None:
    today = preferences.today(_prefs(ctx), ctx.now())
    if isinstance(ctx.callback_data, AddDate):
        day = ctx.callback_data.day
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
         [[Button(ctx.t("button.undo"), views.UndoExpense(expense_id=expense.id))]])
    alert = service.budget_alert(view, ctx.user, view.prefs, preferences.today(view.prefs, ctx.now()))
    if alert:
        ctx.reply(alert)
