"""plugbot-hello: the example plugin walked through in docs/plugins.md.

Only hook implementations live here; the rest is in models.py, handlers.py
and jobs.py, as in every plugbot plugin. It implements every hook plugbot
has, so each one has a working example (see docs/plugin_hooks.md).
"""
from __future__ import annotations

import logging
import os
from typing import Any

from framework import Context, PluginInfo, User, hookimpl

from . import handlers, jobs
from .models import Greeting

HERE = os.path.dirname(__file__)
NAME = "hello"

log = logging.getLogger("plugbot.hello")


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="hello", version="1.0.0", description="Greets you and remembers your nickname",
                      api_version=">=1.0,<2.0")


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
    register.command("nickname", handlers.nickname, help="help_nickname")
    register.command("morning", handlers.morning, help="help_morning")
    register.conversation(handlers.nickname_conversation)


@hookimpl
def plugbot_register_jobs(register: Any) -> None:
    register("morning", jobs.morning_greetings, trigger="interval", minutes=15)


@hookimpl
def plugbot_before_update(ctx: Context) -> bool | None:
    """Keep quiet in the group chats listed in ``quiet_chats`` (all of hello's handlers at once)."""
    if ctx.plugin != NAME:
        return None  # the hook sees every plugin's updates: only act on our own
    quiet = {str(chat) for chat in ctx.settings["quiet_chats"]}
    return False if str(ctx.chat_id) in quiet else None


@hookimpl
def plugbot_after_update(ctx: Context, error: BaseException | None) -> None:
    """A /nickname step that failed leaves the conversation, so the next message starts afresh
    instead of hitting the same failing step again."""
    if error is not None and ctx.plugin == NAME and ctx.session.state is not None:
        log.warning("leaving /nickname for user %s after %s", ctx.telegram_id, error.__class__.__name__)
        ctx.session.end()


@hookimpl
def plugbot_startup(app: Any) -> None:
    if app.plugin_settings(NAME).get("announce_restarts"):
        app.notify_admins(app.i18n.t(NAME, "bot_started", app.config["default_language"]))


@hookimpl
def plugbot_shutdown(app: Any) -> None:
    if app.plugin_settings(NAME).get("announce_restarts"):
        app.notify_admins(app.i18n.t(NAME, "bot_stopping", app.config["default_language"]))


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
def plugbot_stats() -> dict[str, Any]:
    return {"hello_users": Greeting.select().count()}
