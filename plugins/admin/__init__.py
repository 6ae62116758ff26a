"""The admin plugin: the operators' console in Telegram, on the public plugin API.

This module only wires hooks. Each command family (users, access lists, settings, the system
view, statistics, broadcasts, backups) lives in its own module with a ``register(register)``
function listed in :data:`FAMILIES`. Every command declares its permission, so the core checks it
on every call and a non-admin hears exactly what an unknown command gets; every button handler
checks it again, since a press reaches it without that check.
"""
from __future__ import annotations

import os
import re
from typing import Any

from framework import Plugin, PluginInfo, User, hookimpl

from . import backups, broadcast, lists, menu, notices, settings, stats, system, users
from .broadcast_models import BotBlocked, Broadcast, BroadcastRecipient
from .delivery import Delivery

HERE = os.path.dirname(__file__)

FAMILIES = (menu, users, lists, settings, system, stats, broadcast, backups)

# The broadcast sender of each running application, so shutdown stops the one startup started.
_deliveries: dict[int, Delivery] = {}


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="admin", version="1.0.0",
                      description="Operators' console: users, roles, access lists, settings, plugins, jobs, audit",
                      api_version=">=2.0,<3.0")


@hookimpl
def plugbot_config_defaults() -> dict[str, Any]:
    return {
        "page_size": 10,                # rows per page of /users and /audit
        "broadcast_per_second": 20.0,   # below Telegram's 30 a second: replies still get through
        "backup_dir": "backups",        # where the scheduled backups go; "" turns them off
        "backup_at": "02:00",           # UTC, daily
        "backup_keep_daily": 7,
        "backup_keep_weekly": 4,
        "backup_keep_monthly": 12,
        "backup_verify": True,          # restore each backup into a scratch database and count its rows
        "backup_scratch_url": "",       # PostgreSQL: that database instead of a temporary one (it is emptied)
    }


@hookimpl
def plugbot_validate_config(settings: dict[str, Any]) -> list[str]:
    problems = [] if 1 <= int(settings["page_size"]) <= 30 else ["page_size: must be between 1 and 30"]
    if not 0 < settings["broadcast_per_second"] <= 30:
        problems.append("broadcast_per_second: must be above 0 and at most 30 (Telegram's limit)")
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", settings["backup_at"]):
        problems.append("backup_at: must be a time of day, HH:MM (UTC)")
    for key in ("backup_keep_daily", "backup_keep_weekly", "backup_keep_monthly"):
        if settings[key] < 0:
            problems.append(f"{key}: must be 0 or more")
    if settings["backup_keep_daily"] < 1:
        problems.append("backup_keep_daily: must be at least 1, or the newest backup would be deleted")
    return problems


@hookimpl
def plugbot_register_models(register: Any) -> None:
    for model in (Broadcast, BroadcastRecipient, BotBlocked):
        register(model)


@hookimpl
def plugbot_register_migrations(register: Any) -> None:
    register(os.path.join(HERE, "migrations"))


@hookimpl
def plugbot_register_locales(register: Any) -> None:
    register(os.path.join(HERE, "locales"))


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    for family in FAMILIES:
        family.register(register)


@hookimpl
def plugbot_plugin_status(name: str, status: str, error: str | None, plugin: Plugin) -> None:
    notices.plugin_status(plugin, name, status, error)


@hookimpl
def plugbot_register_jobs(register: Any) -> None:
    settings = register.plugin.settings
    if settings["backup_dir"]:
        hour, minute = settings["backup_at"].split(":")
        register("backup", backups.nightly, trigger="cron", hour=int(hour), minute=int(minute))


@hookimpl
def plugbot_update_done(ctx: Any, error: BaseException | None, plugin: Plugin) -> None:
    seen = stats.counters.get(plugin.name)
    if seen is not None:
        seen.count(error, ctx.refused)


@hookimpl
def plugbot_startup(plugin: Plugin) -> None:
    stats.track(plugin)
    delivery = Delivery(plugin)
    _deliveries[id(plugin)] = delivery
    delivery.start()  # resumes a broadcast a stopped process left unfinished


@hookimpl
def plugbot_shutdown(plugin: Plugin) -> None:
    delivery = _deliveries.pop(id(plugin), None)
    if delivery is not None:
        delivery.stop()


@hookimpl
def plugbot_export_user_data(user: User) -> dict[str, Any] | None:
    received = list(BroadcastRecipient.select(BroadcastRecipient.sent_at, BroadcastRecipient.status)
                    .where(BroadcastRecipient.user == user.id).order_by(BroadcastRecipient.id))
    blocked = BotBlocked.get_or_none(BotBlocked.user == user.id)
    if not received and blocked is None:
        return None
    return {"broadcasts": [{"status": row.status, "at": row.sent_at.isoformat() if row.sent_at else None}
                           for row in received],
            "blocked_the_bot_at": blocked.blocked_at.isoformat() if blocked else None}


@hookimpl
def plugbot_delete_user_data(user: User) -> None:
    BroadcastRecipient.delete().where(BroadcastRecipient.user == user.id).execute()
    BotBlocked.delete().where(BotBlocked.user == user.id).execute()
    Broadcast.update(author=None).where(Broadcast.author == user.id).execute()
