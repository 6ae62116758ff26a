"""plugbot-hello: the example plugin walked through in docs/plugins.md.

Only hook implementations live here; the rest is in models.py, handlers.py
and jobs.py, as in every plugbot plugin.
"""
from __future__ import annotations

import os
from typing import Any

from framework import PluginInfo, User, hookimpl

from . import handlers, jobs
from .models import Greeting

HERE = os.path.dirname(__file__)


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="hello", version="1.0.0", description="Greets you and remembers your nickname",
                      api_version=">=1.0,<2.0")


@hookimpl
def plugbot_config_defaults() -> dict[str, Any]:
    return {"greeting_emoji": "👋", "morning_hour": 9}


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
def plugbot_export_user_data(user: User) -> dict[str, Any] | None:
    row = Greeting.get_or_none(Greeting.user == user.id)
    if row is None:
        return None
    return {"greetings": row.count, "nickname": row.nickname, "morning": row.morning}


@hookimpl
def plugbot_delete_user_data(user: User) -> None:
    Greeting.delete().where(Greeting.user == user.id).execute()


@hookimpl
def plugbot_stats() -> dict[str, Any]:
    return {"hello_users": Greeting.select().count()}
