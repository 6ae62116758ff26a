"""Built-in plugin ``datarights``: /mydata, /deleteme, the consent gate's buttons, retention.

Its commands are defaults like the core's, registered ``trylast``.

Every plugin contributes through ``plugbot_export_user_data`` and
``plugbot_delete_user_data``; each operation is written to ``pd_audit_log``.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

from ..access import ConsentAnswer
from ..callbacks import CallbackData
from ..context import Button, Context, JobContext
from ..models import AuditLog, PdAuditLog, User, UserRestriction, UserSettings
from ..plugins import PluginInfo, hookimpl

_PROFILE = ("telegram_id", "username", "first_name", "last_name", "language_code", "timezone", "status",
            "created_at", "last_active")


class DeleteMeAnswer(CallbackData, prefix="deleteme"):
    """The /deleteme confirmation: bound to the user who asked, so in a group nobody else can press it."""

    confirm: bool


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="datarights", version="1.0.0", description="personal data: export, deletion, consent")


@hookimpl
def plugbot_register_locales(register: Any) -> None:
    register(os.path.join(os.path.dirname(os.path.dirname(__file__)), "locales"))


@hookimpl(trylast=True)
def plugbot_register_handlers(register: Any) -> None:
    register.command("mydata", mydata, help="help_mydata")
    register.command("deleteme", deleteme, help="help_deleteme")
    register.callback(DeleteMeAnswer, confirm_delete)
    register.callback(ConsentAnswer, consent)


@hookimpl
def plugbot_register_jobs(register: Any) -> None:
    register("retention", retention, trigger="cron", hour=10, minute=0)


@hookimpl
def plugbot_export_user_data(user: User) -> dict[str, Any]:
    settings = UserSettings.get_or_none(UserSettings.user == user.id)
    row = User.get_by_id(user.id)
    audit = [{"action": a.action, "plugin": a.plugin, "entity_type": a.entity_type, "entity_id": a.entity_id,
              "details": a.details, "created_at": a.created_at.isoformat()}
             for a in AuditLog.select().where(AuditLog.user == user.id).order_by(AuditLog.id)]
    return {
        "profile": {name: _jsonable(getattr(row, name)) for name in _PROFILE},
        "settings": None if settings is None else {
            "language": settings.language, "consent_at": _jsonable(settings.consent_at),
            "preferences": settings.preferences},
        "audit_log": audit,
        "restrictions": _restrictions_of(user),
        "personal_data_log": _pd_log_of(user),
    }


def _restrictions_of(user: User) -> list[dict[str, Any]]:
    """Bans and restrictions, lifted ones too; which admin imposed them is not the user's data."""
    return [{"type": r.restriction_type, "reason": r.reason, "expires_at": _jsonable(r.expires_at),
             "is_active": r.is_active, "created_at": _jsonable(r.created_at)}
            for r in UserRestriction.select().where(UserRestriction.user == user.id).order_by(UserRestriction.id)]


def _pd_log_of(user: User) -> list[dict[str, Any]]:
    """Who did what with the user's personal data (152-FZ): the user, an administrator or the system."""
    rows = PdAuditLog.select().where(PdAuditLog.target_user == user.id).order_by(PdAuditLog.id)
    return [{"action": r.action, "details": r.details, "created_at": _jsonable(r.created_at),
             "by": "you" if r.actor_id == user.id else "system" if r.actor_id is None else "administrator"}
            for r in rows]


def _private_only(ctx: Context) -> bool:
    """In a group, ask the user to come to a private chat instead: personal data and the erase
    confirmation are never posted where others read them. True when the command may go on."""
    if ctx.chat_type == "private":
        return True
    username = ctx.app.bot_username
    where = f"https://t.me/{username}" if username else ctx.t("core.private_chat_with_me")
    ctx.reply(ctx.t("core.private_only", command=ctx.command or "mydata", where=where))
    return False


def mydata(ctx: Context) -> None:
    """Everything every enabled plugin holds about the user, as one JSON document (in private only)."""
    if not _private_only(ctx):
        return
    document = ctx.user_data(ctx.user)
    ctx.audit.pd(ctx.user, ctx.user, "export_data", {"plugins": sorted(document["plugins"])})
    payload = json.dumps(document, ensure_ascii=False, indent=2, default=str).encode("utf-8")
    ctx.send_document(payload, "mydata.json", caption=ctx.t("core.mydata.caption"))


def deleteme(ctx: Context) -> None:
    """Ask to confirm erasing the user's data (in private only)."""
    if not _private_only(ctx):
        return
    ctx.reply(ctx.t("core.deleteme.confirm"),
              buttons=[[Button(ctx.t("core.deleteme.confirm_button"), DeleteMeAnswer(confirm=True)),
                        Button(ctx.t("core.deleteme.cancel_button"), DeleteMeAnswer(confirm=False))]])


def confirm_delete(ctx: Context, data: DeleteMeAnswer) -> None:
    if not data.confirm:
        ctx.edit(ctx.t("core.deleteme.cancelled"))
        return
    erase_user(ctx.app, ctx.user, actor=None)
    ctx.session.end()
    ctx.edit(ctx.t("core.deleteme.done"))


def erase_user(app: Any, user: User, *, actor: User | None) -> list[str]:
    """Delete a user's data in every plugin, anonymise their audit trail, and leave their row as a
    tombstone: the Telegram id and ``status='deleted'``, every personal field cleared.

    The tombstone records that the user asked to be erased, so broadcasts and jobs (which take
    ``status='active'`` users) skip the id; a return starts afresh. All in the caller's
    transaction: if one plugin fails, nothing is deleted.
    """
    plugins = [name for name, _ in app.plugins.call_each("plugbot_delete_user_data", isolate=False, user=user)]
    app.audit.anonymise(user)
    app.audit.pd(actor, None, "delete_account", {"plugins": plugins})
    UserSettings.delete().where(UserSettings.user == user.id).execute()
    _drop_rows_pointing_at(user)
    app.users.tombstone(user)
    app.access.forget(user)
    return plugins


def _drop_rows_pointing_at(user: User) -> None:
    """What deleting the row did before there was a tombstone: rows of any table whose foreign key
    to ``users`` says CASCADE go, SET NULL ones lose the user. A plugin that relied on the cascade
    rather than its own ``plugbot_delete_user_data`` still leaves nothing behind."""
    existing = set(User._meta.database.get_tables())
    for field in sorted(User._meta.backrefs, key=lambda f: (f.model._meta.table_name, f.name)):
        if field.model._meta.table_name not in existing:
            continue  # a model of a plugin this bot does not load
        action = (field.on_delete or "").upper()
        if action == "CASCADE":
            field.model.delete().where(field == user.id).execute()
        elif action == "SET NULL":
            field.model.update({field: None}).where(field == user.id).execute()


@hookimpl
def plugbot_delete_user_data(user: User) -> None:
    """The core's own rows other than the user itself (erase_user removes that last)."""
    UserSettings.delete().where(UserSettings.user == user.id).execute()


def consent(ctx: Context, data: ConsentAnswer) -> None:
    if not data.accept:
        ctx.edit(ctx.t("core.consent.declined"))
        return
    row, _ = UserSettings.get_or_create(user=ctx.user.id, defaults={"created_at": ctx.now(),
                                                                     "updated_at": ctx.now()})
    row.consent_at = row.updated_at = ctx.now()
    row.save()
    ctx.audit.pd(ctx.user, ctx.user, "consent_given", {"text_version": ctx.app.settings_row().updated_at})
    ctx.users.invalidate(ctx.telegram_id)
    ctx.edit(ctx.t("core.consent.accepted"))


def retention(job: JobContext) -> None:
    """Seed 000 retention: remind users inactive for 90 days (once); archive at 180 where plugins opt in."""
    config = job.app.config["retention"]
    now = job.now()
    remind_before = now - dt.timedelta(days=config["remind_after_days"])
    archive_before = now - dt.timedelta(days=config["archive_after_days"])
    # An erased user's tombstone holds nothing; a banned or blocked one is archived like anyone
    # inactive, but only an active one is written to (a blocked one cannot be reached).
    for user in User.select().where(User.last_active < remind_before, User.status != "deleted"):
        settings, _ = UserSettings.get_or_create(user=user.id, defaults={"created_at": now, "updated_at": now})
        if user.status == "active" and (settings.inactivity_reminded_at is None
                                        or settings.inactivity_reminded_at < user.last_active):
            job.notify(user, "core.inactivity_reminder", name=user.first_name or "")  # skipped when muted
            settings.inactivity_reminded_at = now
        if user.last_active < archive_before and settings.archived_at is None:
            job.app.plugins.call_each("plugbot_archive_user_data", user=user)
            settings.archived_at = now
            job.audit.pd(None, user, "archive_data", {"inactive_since": user.last_active.isoformat()})
        settings.save()


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.datetime, dt.date)) else value
