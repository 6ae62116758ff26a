"""Reading what the admin plugin left in the database, in a connection of the test's own."""
from __future__ import annotations

from typing import Any

from framework import User, connection_scope
from framework.models import AuditLog, PdAuditLog

UNKNOWN = "I don't know /{command}. See /help."
NOT_ALLOWED = "You are not allowed to do that."


def texts(replies: list[Any]) -> list[str]:
    return [reply.text for reply in replies if reply.text]


def text(replies: list[Any]) -> str:
    return "\n".join(texts(replies))


def user(telegram_id: int) -> User:
    with connection_scope():
        return User.get(User.telegram_id == telegram_id)


def audit_rows(action: str | None = None) -> list[AuditLog]:
    with connection_scope():
        query = AuditLog.select().order_by(AuditLog.id)
        return list(query.where(AuditLog.action == action) if action else query)


def pd_rows(action: str | None = None) -> list[PdAuditLog]:
    with connection_scope():
        query = PdAuditLog.select().order_by(PdAuditLog.id)
        return list(query.where(PdAuditLog.action == action) if action else query)


def counts() -> tuple[int, int]:
    """How many rows both audit trails hold: a refused command must leave both as they were."""
    return len(audit_rows()), len(pd_rows())
