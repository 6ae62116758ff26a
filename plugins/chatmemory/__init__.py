"""The chatmemory plugin: a chat's history, layered summaries and what users ask it to remember.

This module only wires hooks; the work lives in the modules it names.
"""
from __future__ import annotations

import os
from typing import Any

from framework import Plugin, PluginInfo, SentMessage, User, hookimpl

from . import jobs, memory_commands, privacy_commands, recorder, summary_commands, userdata
from .models import MODELS

HERE = os.path.dirname(__file__)


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="chatmemory", version="1.0.0",
                      description="Chat history, daily/7-day/30-day summaries and user memories",
                      api_version=">=2.0,<3.0")


@hookimpl
def plugbot_config_defaults() -> dict[str, Any]:
    return {
        "enabled_chats": [],          # group ids with a memory; empty: every group
        "disabled_chats": [],         # chat ids never recorded (wins over enabled_chats)
        "private_chats": True,        # record private chats with the bot
        "nostore_marker": "#nostore", # a message starting with it is not stored ("" turns it off)
        "retention_days": 90,         # stored messages older than this are deleted every night
        "max_facts": 50,              # /remember keeps at most this many facts per user
        "max_fact_length": 300,       # characters of one fact
        "max_pronouns_length": 50,
        "summary_provider": "auto",   # auto (the LLM when a vendor is configured) | local | llm
        "max_prompt_tokens": 3000,    # the LLM prompt is cut to fit this budget
        "daily_llm_tokens_per_chat": 20000,  # past it, the day's summaries of the chat are local
        "summary_hour": 0,            # UTC hour of the nightly summaries and retention
        "top_participants": 5,
        "top_topics": 8,
        "top_replied": 3,
    }


@hookimpl
def plugbot_validate_config(settings: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("enabled_chats", "disabled_chats"):
        value = settings[key]
        if not isinstance(value, list) or not all(isinstance(c, int) or str(c).lstrip("-").isdigit() for c in value):
            problems.append(f"{key}: must be a list of chat ids")
    if settings["summary_provider"] not in ("auto", "local", "llm"):
        problems.append("summary_provider: must be auto, local or llm")
    for key in ("retention_days", "max_facts", "max_fact_length", "max_prompt_tokens", "max_pronouns_length"):
        if not isinstance(settings[key], int) or settings[key] < 1:
            problems.append(f"{key}: must be a positive whole number")
    if not isinstance(settings["summary_hour"], int) or not 0 <= settings["summary_hour"] <= 23:
        problems.append("summary_hour: must be 0..23")
    return problems


@hookimpl
def plugbot_register_models(register: Any) -> None:
    for model in MODELS:
        register(model)


@hookimpl
def plugbot_register_migrations(register: Any) -> None:
    register(os.path.join(HERE, "migrations"))


@hookimpl
def plugbot_register_locales(register: Any) -> None:
    register(os.path.join(HERE, "locales"))


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.observer(recorder.observe, updates=["message", "edited_message", "my_chat_member"])
    register.command("remember", memory_commands.remember, help="help.remember", args=memory_commands.REMEMBER_ARGS)
    register.command("memories", memory_commands.memories, help="help.memories")
    register.command("forget", memory_commands.forget, help="help.forget", args=memory_commands.FORGET_ARGS,
                     usage="memory.forget_usage")
    register.command("pronouns", memory_commands.pronouns, help="help.pronouns", args=memory_commands.PRONOUNS_ARGS)
    register.command("summary", summary_commands.summary, help="help.summary", args=summary_commands.SUMMARY_ARGS,
                     rate_limit="20/hour")
    register.command("context", summary_commands.context, help="help.context")
    register.command("memory", privacy_commands.memory, help="help.memory", args=privacy_commands.MEMORY_ARGS)
    register.command("forgetme", privacy_commands.forgetme, help="help.forgetme")
    register.command("nostore", privacy_commands.nostore, help="help.nostore")


@hookimpl
def plugbot_register_jobs(register: Any) -> None:
    hour = int(register.plugin.settings["summary_hour"])
    register("nightly", jobs.nightly, trigger="cron", hour=hour, minute=0)
    register("retention", jobs.retention, trigger="cron", hour=hour, minute=30)


@hookimpl
def plugbot_message_sent(message: SentMessage, plugin: Plugin) -> None:
    recorder.sent(message, plugin)


@hookimpl
def plugbot_export_user_data(user: User) -> dict[str, Any]:
    return userdata.export(user)


@hookimpl
def plugbot_delete_user_data(user: User) -> None:
    userdata.delete(user)


@hookimpl
def plugbot_stats() -> dict[str, Any]:
    return userdata.counters()
