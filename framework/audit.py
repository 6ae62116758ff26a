"""Audit trails: ``audit_logs`` for actions, ``pd_audit_log`` for personal-data operations.

Both are written through the update's own database connection, so an audit
row commits or rolls back together with the change it describes.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from .models import AuditLog, PdAuditLog, User


class AuditService:
    """Writes and prunes the audit tables; ``clock`` stamps the rows (the application's clock)."""

    def __init__(self, clock: Callable[[], dt.datetime]):
        self.clock = clock

    def log(self, action: str, *, user: User | None = None, plugin: str | None = None,
            entity_type: str | None = None, entity_id: int | None = None,
            details: dict[str, Any] | None = None) -> AuditLog:
        """Record ``action`` (e.g. ``expense_added``) by ``user`` on an entity."""
        return AuditLog.create(
            user=user.id if user is not None else None,
            telegram_id=user.telegram_id if user is not None else None,
            plugin=plugin, action=action[:50], entity_type=entity_type, entity_id=entity_id,
            details=details, created_at=self.clock(),
        )

    def pd(self, actor: User | None, target: User | None, action: str,
           details: dict[str, Any] | None = None) -> PdAuditLog:
        """Record an operation on personal data (view, export, deletion, admin change)."""
        return PdAuditLog.create(actor=actor.id if actor is not None else None,
                                 target_user=target.id if target is not None else None,
                                 action=action, details=details, created_at=self.clock())

    def anonymise(self, user: User) -> int:
        """Keep the audit trail of an erased user without anything that identifies them."""
        changed = (AuditLog.update(user=None, telegram_id=None, details=None)
                   .where(AuditLog.user == user.id).execute())
        changed += PdAuditLog.update(actor=None).where(PdAuditLog.actor == user.id).execute()
        changed += PdAuditLog.update(target_user=None).where(PdAuditLog.target_user == user.id).execute()
        return changed

    def prune(self, retention_days: int) -> int:
        """Delete audit rows older than the retention period (a year by default: what the privacy policy promises)."""
        cutoff = self.clock() - dt.timedelta(days=retention_days)
        removed = AuditLog.delete().where(AuditLog.created_at < cutoff).execute()
        removed += PdAuditLog.delete().where(PdAuditLog.created_at < cutoff).execute()
        return removed


class AuditTrail:
    """The audit service as a context sees it: ``ctx.audit(action, ...)`` records the context's plugin
    (and in an update, its user); ``ctx.audit.pd(...)`` and the service's other methods pass through."""

    def __init__(self, service: AuditService, plugin: str, user: User | None = None):
        self._service = service
        self._plugin = plugin
        self._user = user

    def __call__(self, action: str, entity_type: str | None = None, entity_id: int | None = None,
                 details: dict[str, Any] | None = None, *, user: User | None = None) -> AuditLog:
        """Record ``action`` by ``user`` (by default the update's user; nobody in a job)."""
        return self._service.log(action, user=user if user is not None else self._user, plugin=self._plugin,
                                 entity_type=entity_type, entity_id=entity_id, details=details)

    def log(self, action: str, *, user: User | None = None, plugin: str | None = None,
            entity_type: str | None = None, entity_id: int | None = None,
            details: dict[str, Any] | None = None) -> AuditLog:
        return self._service.log(action, user=user if user is not None else self._user,
                                 plugin=plugin or self._plugin, entity_type=entity_type, entity_id=entity_id,
                                 details=details)

    def pd(self, actor: User | None, target: User | None, action: str,
           details: dict[str, Any] | None = None) -> PdAuditLog:
        return self._service.pd(actor, target, action, details)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)
