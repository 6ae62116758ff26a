"""How expenses look in chat: lines, summaries, reports and keyboards.

Nothing here reads the database or changes state; each function turns domain
objects into text (through the plugin's catalog) or into rows of buttons. The
buttons' data classes live here too, next to the keyboards that carry them;
the /add conversation's own are in ``conversation``.
"""
from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from framework import Button, CallbackData

from . import preferences
from .budget import Progress, bar
from .models import Category, Expense, ExpenseSettings, RecurringExpense
from .stats import Report

Translate = Callable[..., str]
WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class View:
    """A user's way of seeing things: their language (``t``) and their settings."""

    def __init__(self, t: Translate, prefs: ExpenseSettings):
        self.t = t
        self.prefs = prefs

    def money(self, amount: Decimal, currency: str) -> str:
        return preferences.format_money(Decimal(amount), currency, self.prefs)

    def date(self, day: dt.date) -> str:
        return preferences.format_date(day, self.prefs)

    def span(self, start: dt.date, end: dt.date) -> str:
        return self.date(start) if start == end else f"{self.date(start)} – {self.date(end)}"

    def category(self, category: Category | None) -> str:
        """"🍔 Food" / "🍔 Еда": system names are translated, users' names are their own."""
        if category is None:
            return self.t("category.none")
        name = self.t(f"category.{category.name}") if category.is_system else category.name
        return f"{category.emoji} {name}" if category.emoji else name

    def category_name(self, category: Category | None) -> str:
        """The name without emoji (chart labels: the chart font has no emoji)."""
        if category is None:
            return self.t("category.none")
        return self.t(f"category.{category.name}") if category.is_system else category.name

    def expense(self, expense: Expense, category: Category | None = None) -> str:
        """One line: "$5.00 · 🍔 Food · coffee · 2025-03-12"."""
        category = category if category is not None else expense.category
        parts = [self.money(expense.amount, expense.currency), self.category(category)]
        if expense.note:
            parts.append(expense.note)
        parts.append(self.date(expense.expense_date))
        return " · ".join(parts)

    def draft(self, data: dict[str, Any], category: Category | None) -> str:
        """The /add summary before it is saved."""
        lines = [
            self.t("add.summary.title"),
            self.t("add.summary.amount", amount=self.money(Decimal(data["amount"]), data["currency"])),
            self.t("add.summary.category", category=self.category(category)),
            self.t("add.summary.note", note=data.get("note") or "—"),
            self.t("add.summary.date", date=self.date(dt.date.fromisoformat(data["date"]))),
        ]
        return "\n".join(lines)

    def progress(self, progress: Progress) -> str:
        return self.t(
            "budget.progress",
            spent=self.money(progress.spent, progress.currency),
            budget=self.money(progress.budget, progress.currency),
            remaining=self.money(max(progress.remaining, Decimal(0)), progress.currency),
            bar=bar(progress.percent),
        )

    def schedule(self, row: RecurringExpense) -> str:
        if row.schedule_kind == "daily":
            return self.t("recurring.kind.daily")
        if row.schedule_kind == "weekly":
            return self.t("recurring.kind.weekly", day=self.t(f"weekday.{WEEKDAY_KEYS[row.schedule_day]}"))
        return self.t("recurring.kind.monthly", day=row.schedule_day)

    def recurring(self, number: int, row: RecurringExpense) -> str:
        status = "" if row.active else " " + self.t("recurring.paused_mark")
        note = f" · {row.note}" if row.note else ""
        return self.t("recurring.line", number=number, amount=self.money(row.amount, row.currency), note=note,
                      schedule=self.schedule(row), next=self.date(row.next_run), status=status)

    def report(self, report: Report, title: str) -> str:
        """The /stats text."""
        if report.count == 0 and not report.unconverted:
            return "\n".join([title, "", self.t("stats.empty")])
        lines = [title, "", self.t("stats.total", total=self.money(report.total, report.currency),
                                   count=report.count)]
        lines.append(self._comparison(report))
        if len(report.by_currency) > 1:
            lines.append(self.t("stats.by_currency", items="; ".join(
                f"{self.money(total, code)} ({count})" for code, total, count in report.by_currency)))
        for code, total, count in report.unconverted:
            lines.append(self.t("stats.unconverted", amount=self.money(total, code), count=count,
                                currency=code, target=report.currency))
        if report.by_category:
            lines += ["", self.t("stats.by_category")]
            lines += [self.t("stats.category_line", category=self.category(row.category),
                             total=self.money(row.total, report.currency), count=row.count,
                             share=f"{row.share:.1f}") for row in report.by_category]
        if report.top:
            lines += ["", self.t("stats.top", n=len(report.top))]
            lines += [f"{i}. {self.expense(top.expense)}" for i, top in enumerate(report.top, 1)]
        return "\n".join(lines)

    def _comparison(self, report: Report) -> str:
        previous = self.money(report.previous_total, report.currency)
        change = report.change
        if change is None:
            return self.t("stats.no_previous")
        sign = "+" if change > 0 else ""
        return self.t("stats.previous", previous=previous, change=f"{sign}{change}")


# --------------------------------------------------------------------------
# Buttons: their data, declared once (the core packs, checks and parses it)
# --------------------------------------------------------------------------


class UndoExpense(CallbackData, prefix="exu"):
    """Undo under a saved expense."""

    expense_id: int


class QuickAnswer(CallbackData, prefix="exq"):
    """Save / No under the quick-add question; ``ask_id`` names the draft kept in the plugin cache."""

    save: bool
    ask_id: int


class RestoreExpense(CallbackData, prefix="exr"):
    """Restore under a deleted one."""

    expense_id: int


class EditExpense(CallbackData, prefix="exe"):
    """Edit N in /list: opens the /add screens on a saved expense."""

    expense_id: int


class SetCategory(CallbackData, prefix="exc"):
    """One-tap category correction under a quick-add reply."""

    expense_id: int
    category_id: int


class DeleteListed(CallbackData, prefix="exd"):
    """Delete N in /list; ``page`` and ``period`` redraw the list after it."""

    expense_id: int
    page: int
    period: str


class ListPage(CallbackData, prefix="exl"):
    """Prev/Next in /list."""

    page: int
    period: str


class RecurringVerb(enum.Enum):
    TOGGLE = "t"    # pause an active schedule, resume a paused one
    DELETE = "d"


class RecurringAction(CallbackData, prefix="exs"):
    """Pause/Resume N and Delete N under /recurring."""

    verb: RecurringVerb
    recurring_id: int


def category_rows(view: View, categories: Sequence[Category], make: Callable[[Category], CallbackData],
                  selected: int | None = None, per_row: int = 2) -> list[list[Button]]:
    """Category buttons, two per row, the selected one ticked."""
    buttons = [Button(("✓ " if c.id == selected else "") + view.category(c), make(c)) for c in categories]
    return [buttons[i:i + per_row] for i in range(0, len(buttons), per_row)]


def saved_keyboard(view: View, expense: Expense, categories: Sequence[Category]) -> list[list[Button]]:
    """Under a saved expense: Undo, then one-tap category correction."""
    rows = [[Button(view.t("button.undo"), UndoExpense(expense_id=expense.id))]]
    rows += category_rows(view, categories, lambda c: SetCategory(expense_id=expense.id, category_id=c.id),
                          selected=expense.category_id)
    return rows


def question_keyboard(view: View, ask_id: int) -> list[list[Button]]:
    return [[Button(view.t("button.save"), QuickAnswer(save=True, ask_id=ask_id)),
             Button(view.t("button.dont_save"), QuickAnswer(save=False, ask_id=ask_id))]]


def restore_keyboard(view: View, expense: Expense) -> list[list[Button]]:
    return [[Button(view.t("button.restore"), RestoreExpense(expense_id=expense.id))]]


def list_keyboard(view: View, rows: Sequence[Expense], first_number: int, page: int, pages: int,
                  spec: str) -> list[list[Button]]:
    """Edit and Delete for each listed expense, then Prev/Next (the core keeps them the list owner's)."""
    keyboard = [[Button(view.t("button.edit_n", n=n), EditExpense(expense_id=e.id)),
                 Button(view.t("button.delete_n", n=n), DeleteListed(expense_id=e.id, page=page, period=spec))]
                for n, e in enumerate(rows, first_number)]
    nav = []
    if page > 0:
        nav.append(Button(view.t("button.prev"), ListPage(page=page - 1, period=spec)))
    if page + 1 < pages:
        nav.append(Button(view.t("button.next"), ListPage(page=page + 1, period=spec)))
    if nav:
        keyboard.append(nav)
    return keyboard


def recurring_keyboard(view: View, rows: Sequence[RecurringExpense]) -> list[list[Button]]:
    return [[Button(view.t("button.resume_n" if not r.active else "button.pause_n", n=n),
                    RecurringAction(verb=RecurringVerb.TOGGLE, recurring_id=r.id)),
             Button(view.t("button.delete_n", n=n), RecurringAction(verb=RecurringVerb.DELETE, recurring_id=r.id))]
            for n, r in enumerate(rows, 1)]
