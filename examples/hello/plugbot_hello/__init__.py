"""plugbot-hello: the example plugin walked through in docs/plugins.md.

Only hook implementations live here; the rest is in models.py, handlers.py,
middleware.py and jobs.py, as in every plugbot plugin. It implements every
hook a plugin uses, so each one has a working example (see
docs/plugin_hooks.md); the global observer ``plugbot_update_done`` is shown by
the core's built-in, which counts updates for /plugins.

Its name is the operator's: loaded under another config section it is that
plugin, so its hooks read names, settings and texts from ``plugin`` (and
handlers from ``ctx``), never from a constant here.
"""
from __future__ import annotations

import os
from typing import Any

from framework import Plugin, PluginInfo, User, arg, hookimpl

from . import handlers, jobs, middleware
from .models import Greeting

HERE = os.path.dirname(__file__)


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="hello", version="1.0.0", description="Greets you and remembers your nickname",
                      api_version=">=2.0,<3.0")


@hookimpl
def plugbot_config_defaults() -> dict[str, Any]:
    return {
        "greeting_emoji": "👋",
        "morning_hour": 9,
        "quiet_chats": [],              # group chat ids where hello keeps silent
        "announce_restarts": False,     # tell the admins when the bot starts and stops
    }


@hookimpl
def plugbot_validate_config(settings: dict[str, Any]) -> list[str]:
    return [] if 0 <= settings["morning_hour"] <= 23 else ["morning_hour: must be between 0 and 23"]


@hookimpl
def plugbot_register_models(register: Any) -> None:
    register(Greeting)


@hookimpl
def plugbot_register_migrations(register: Any) -> None:
    register(os.path.join(HERE, "migrations"))


@hookimpl
def plugbot_register_locales(register: Any) -> None:
    register(os.path.join(HERE, "locales"))


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.command("hello", handlers.hello, help="help_hello")
    register.conversation(handlers.nickname_conversation)  # also registers /nickname and its buttons
    register.command("morning", handlers.morning, help="help_morning",
                     args=[arg.choice("switch", {"on": True, "off": False})])
    register.middleware(middleware.keep_quiet)
    register.middleware(middleware.leave_failed_conversation)


@hookimpl
def plugbot_register_jobs(register: Any) -> None:
    register("morning", jobs.morning_greetings, trigger="interval", minutes=15)


@hookimpl
def plugbot_startup(plugin: Plugin) -> None:
    if plugin.settings["announce_restarts"]:
        plugin.notify_admins(plugin.t("bot_started"))


@hookimpl
def plugbot_shutdown(plugin: Plugin) -> None:
    if plugin.settings["announce_restarts"]:
        plugin.notify_admins(plugin.t("bot_stopping"))


@hookimpl
def plugbot_export_user_data(user: User) -> dict[str, Any] | None:
    row = Greeting.get_or_none(Greeting.user == user.id)
    if row is None:
        return None
    return {"greetings": row.count, "nickname": row.nickname, "morning": row.morning}


@hookimpl
def plugbot_delete_user_data(user: User) -> None:
    Greeting.delete().where(Greeting.user == user.id).execute()


@hookimpl
def plugbot_archive_user_data(user: User) -> None:
    """A user gone for half a year: keep the anonymous count, forget the nickname, stop the mornings."""
    Greeting.update(nickname=None, morning=False).where(Greeting.user == user.id).execute()


@hookimpl
def plugbot_user_info(user: User) -> dict[str, Any] | None:
    """What an admin's /user shows of this plugin: the greetings and the nickname, if any."""
    row = Greeting.get_or_none(Greeting.user == user.id)
    if row is None:
        return None
    return {"greetings": row.count, "nickname": row.nickname or "—", "morning greeting": row.morning}


@hookimpl
def plugbot_stats() -> dict[str, Any]:
    return {"hello_users": Greeting.select().count()}
