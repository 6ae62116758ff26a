"""Audit trails: ``audit_logs`` for actions, ``pd_audit_log`` for personal-data operations.

Both are written through the update's own database connection, so an audit
row commits or rolls back together with the change it describes.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import peewee

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

    def recent(self, *, target: User | None = None, action: str | None = None, limit: int = 10,
               offset: int = 0) -> list[dict[str, Any]]:
        """The newest entries of both trails, merged, newest first: for an admin's audit view.

        Each is ``{"trail": "audit" | "pd", "at", "action", "actor" (telegram id | None), "target"
        (telegram id | None), "plugin", "details"}``. ``target`` keeps the entries about that user
        (an ``audit_logs`` row it made or that names it as its entity, a ``pd_audit_log`` row where it
        is actor or target); ``action`` keeps one action.
        """
        wanted = offset + limit
        actor_alias, target_alias = User.alias(), User.alias()
        logs = AuditLog.select()
        pds = (PdAuditLog.select(PdAuditLog, actor_alias.telegram_id.alias("actor_tid"),
                                 target_alias.telegram_id.alias("target_tid"))
               .join_from(PdAuditLog, actor_alias, peewee.JOIN.LEFT_OUTER, on=(PdAuditLog.actor == actor_alias.id))
               .join_from(PdAuditLog, target_alias, peewee.JOIN.LEFT_OUTER,
                          on=(PdAuditLog.target_user == target_alias.id)))
        if target is not None:
            logs = logs.where((AuditLog.user == target.id)
                              | ((AuditLog.entity_type == "user") & (AuditLog.entity_id == target.telegram_id)))
            pds = pds.where((PdAuditLog.actor == target.id) | (PdAuditLog.target_user == target.id))
        if action is not None:
            logs = logs.where(AuditLog.action == action)
            pds = pds.where(PdAuditLog.action == action)
        entries = [{"trail": "audit", "at": row.created_at, "action": row.action, "actor": row.telegram_id,
                    "target": row.entity_id if row.entity_type == "user" else None, "plugin": row.plugin,
                    "details": row.details, "_id": row.id}
                   for row in logs.order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(wanted)]
        entries += [{"trail": "pd", "at": row.created_at, "action": row.action, "actor": row.actor_tid,
                     "target": row.target_tid, "plugin": None, "details": row.details, "_id": row.id}
                    for row in pds.order_by(PdAuditLog.created_at.desc(), PdAuditLog.id.desc()).limit(wanted).objects()]
        entries.sort(key=lambda entry: (entry["at"], entry["trail"] == "pd", entry["_id"]), reverse=True)
        for entry in entries:
            del entry["_id"]
        return entries[offset:wanted]

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
