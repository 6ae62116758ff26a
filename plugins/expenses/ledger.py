"""Expense rows: create, edit, soft delete, restore, list, export.

Every read takes the owning ``user`` and filters by it, so an id that came from
a button (which anyone can forge) can never reach another user's expense.
Deleting is soft: the row keeps ``is_deleted`` and ``deleted_at`` and can be
restored for :data:`RESTORE_WINDOW`; every query for statistics, lists and
exports skips deleted rows.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import peewee

from framework import User, locked

from .export import ExportRow
from .models import Category, Expense
from .money import to_decimal

RESTORE_WINDOW = dt.timedelta(hours=24)
MAX_NOTE = 500


def clean_note(note: str | None) -> str | None:
    """Collapse whitespace and cap the length; an empty note is stored as NULL."""
    text = " ".join((note or "").split())[:MAX_NOTE]
    return text or None


def add(user: User, *, amount: Decimal, currency: str, category: Category | None, note: str | None,
        date: dt.date, source: str, now: dt.datetime) -> Expense:
    """Store a new expense; ``amount`` must already be validated for ``currency``."""
    return Expense.create(
        user=user.id, amount=amount, currency=currency, category=category, note=clean_note(note),
        source=source, expense_date=date, created_at=now, updated_at=now,
    )


def _as_id(value: Any) -> int | None:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


def get_own(user: User, expense_id: Any, *, deleted: bool | None = False) -> Expense | None:
    """The user's expense with this id (``deleted``: False live only, True deleted only, None both)."""
    number = _as_id(expense_id)
    if number is None:
        return None
    query = Expense.select().where(Expense.id == number, Expense.user == user.id)
    if deleted is not None:
        query = query.where(Expense.is_deleted == deleted)
    return query.first()


def edit(expense: Expense, now: dt.datetime, **changes: Any) -> Expense:
    """Apply changes (amount, currency, category, note, expense_date) and bump ``updated_at``."""
    if "note" in changes:
        changes["note"] = clean_note(changes["note"])
    for name, value in changes.items():
        setattr(expense, name, value)
    expense.updated_at = now
    expense.save()
    return expense


def soft_delete(expense: Expense, now: dt.datetime) -> Expense:
    """Hide the expense from statistics and lists; :func:`restore` can bring it back."""
    expense.is_deleted = True
    expense.deleted_at = now
    expense.updated_at = now
    expense.save()
    return expense


def can_restore(expense: Expense, now: dt.datetime) -> bool:
    """A deleted expense comes back only within :data:`RESTORE_WINDOW` of its deletion."""
    return bool(expense.is_deleted and expense.deleted_at and now - expense.deleted_at <= RESTORE_WINDOW)


def restore(expense: Expense, now: dt.datetime) -> Expense:
    expense.is_deleted = False
    expense.deleted_at = None
    expense.updated_at = now
    expense.save()
    return expense


def last(user: User) -> Expense | None:
    """The most recently created live expense, locked until the update commits (for /undo).

    Two /undo at once (the user in two chats) must remove two different expenses: the second
    waits for the first one's lock, and then reads past the row the first one deleted.
    """
    live = Expense.select().where(Expense.user == user.id, Expense.is_deleted == False,  # noqa: E712
                                  Expense.archived == False)  # noqa: E712
    newest = live.order_by(Expense.created_at.desc(), Expense.id.desc())
    for _ in range(10):
        expense = locked(newest).first()
        # A row deleted while we waited for its lock drops out of the answer and PostgreSQL may
        # return nothing, though other rows are live: read again, in a fresh snapshot.
        if expense is not None or not live.exists():
            return expense
    return None


def _in_period(user: User, start: dt.date, end: dt.date) -> peewee.ModelSelect:
    return (Expense.select(Expense, Category)
            .join(Category, peewee.JOIN.LEFT_OUTER)
            .where(Expense.user == user.id, Expense.is_deleted == False, Expense.archived == False,  # noqa: E712
                   Expense.expense_date.between(start, end)))


def page(user: User, start: dt.date, end: dt.date, number: int, size: int) -> tuple[list[Expense], int]:
    """One page (0-based) of the period's expenses, newest first, and the total count."""
    query = _in_period(user, start, end)
    total = query.count()
    rows = list(query.order_by(Expense.expense_date.desc(), Expense.created_at.desc(), Expense.id.desc())
                .offset(number * size).limit(size))
    return rows, total


def export_rows(user: User, start: dt.date, end: dt.date, label: Any) -> list[ExportRow]:
    """The period's expenses for the CSV file, oldest first; ``label(category)`` names a category."""
    query = _in_period(user, start, end).order_by(Expense.expense_date, Expense.created_at, Expense.id)
    return [
        ExportRow(e.expense_date, to_decimal(e.amount, e.currency), e.currency, label(e.category), e.note or "",
                  e.source)
        for e in query
    ]


def all_of(user: User) -> peewee.ModelSelect:
    """Every expense of the user, deleted ones included (for /mydata)."""
    return (Expense.select(Expense, Category).join(Category, peewee.JOIN.LEFT_OUTER)
            .where(Expense.user == user.id).order_by(Expense.id))
