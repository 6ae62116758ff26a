"""Assertion helpers for the expenses bot tests (imported by the test modules)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from framework import User, connection_scope
from framework.models import AuditLog

# The core's answer to private text no plugin took (once in a few minutes per user).
HELP_HINT = "I did not understand that. Send /help to see what I can do."

# Wednesday 12 March 2025, noon UTC: every bot test starts from this clock.
START = dt.datetime(2025, 3, 12, 12, 0, tzinfo=dt.UTC)

def rows(telegram_id: int, include_deleted: bool = False) -> list[Any]:
    """The expenses of a Telegram user, oldest first."""
    from plugins.expenses.models import Expense

    with connection_scope():
        query = (Expense.select().join(User, on=(Expense.user == User.id))
                 .where(User.telegram_id == telegram_id).order_by(Expense.id))
        if not include_deleted:
            query = query.where(Expense.is_deleted == False)  # noqa: E712
        return list(query)


def amounts(telegram_id: int) -> list[Decimal]:
    return [Decimal(e.amount).quantize(Decimal("0.01")) for e in rows(telegram_id)]


def audit(action: str) -> list[Any]:
    with connection_scope():
        return list(AuditLog.select().where(AuditLog.action == action).order_by(AuditLog.id))


def texts(replies: list[Any]) -> str:
    """Every text the bot sent, joined: handy for ``in`` assertions."""
    return "\n".join(r.text or "" for r in replies)
