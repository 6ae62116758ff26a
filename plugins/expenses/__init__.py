"""The expenses plugin: track spending by command, conversation or plain text.

This module only wires hooks; the work lives in the modules it names. It is the
reference plugin: copy its layout (``models``, ``migrations/``, ``locales/``,
``handlers``, ``conversation``, ``jobs``, pure domain modules with their tests).
"""
from __future__ import annotations

import os
from typing import Any

from framework import Plugin, PluginInfo, User, hookimpl

from . import categories, conversation, handlers, jobs, money, preferences, userdata
from .models import MODELS

HERE = os.path.dirname(__file__)


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="expenses", version="1.0.0",
                      description="Expense tracking: quick add, budgets, statistics, recurring expenses",
                      depends_on=(), api_version=">=2.0,<3.0")


@hookimpl
def plugbot_config_defaults() -> dict[str, Any]:
    return {
        "default_currency": "USD",    # a new user's currency (they change it with /settings currency)
        "week_start": 1,              # 0 = Sunday, 1 = Monday
        "budget_alert_threshold": 80, # percent of the monthly budget for the first alert
        "page_size": 5,               # expenses per /list page
        "top_n": 3,                   # top expenses in /stats
        "charts": True,               # send the /stats chart (needs matplotlib)
        "quick_add": True,            # read expenses from plain text ("coffee $5")
    }


@hookimpl
def plugbot_validate_config(settings: dict[str, Any]) -> list[str]:
    problems = []
    if not money.is_currency(str(settings["default_currency"])):
        problems.append(f"default_currency: unknown currency {settings['default_currency']!r}")
    if settings["week_start"] not in (0, 1):
        problems.append("week_start: must be 0 (Sunday) or 1 (Monday)")
    if not 1 <= int(settings["budget_alert_threshold"]) <= 100:
        problems.append("budget_alert_threshold: must be between 1 and 100")
    if not 1 <= int(settings["page_size"]) <= 20:
        problems.append("page_size: must be between 1 and 20")
    if not 1 <= int(settings["top_n"]) <= 10:
        problems.append("top_n: must be between 1 and 10")
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
    register.conversation(conversation.add_conversation)  # /add, its states and its buttons
    register.command("list", handlers.listing.list_, help="help.list", args=handlers.PERIOD_ARGS)
    register.command("undo", handlers.listing.undo, help="help.undo")
    register.conversation(handlers.reports.stats_conversation)  # /stats and its period picker
    register.command("export", handlers.reports.export_, help="help.export", rate_limit="10/minute",
                     args=handlers.PERIOD_ARGS)
    register.command("categories", handlers.categories.categories_, help="help.categories")
    register.command("budget", handlers.budget.budget_, help="help.budget", args=handlers.budget.BUDGET_ARGS)
    register.command("recurring", handlers.recurring.recurring_, help="help.recurring",
                     args=handlers.recurring.RECURRING_ARGS, usage="recurring.usage")
    register.conversation(handlers.settings.settings_conversation)  # /settings and its picker
    register.command("rate", handlers.settings.rate, help="help.rate", args=handlers.settings.RATE_ARGS,
                     usage="rate.usage")
    register.text(handlers.quick.quick_add, priority=0)
    for data_class, handler in handlers.BUTTONS:
        register.callback(data_class, handler)


@hookimpl
def plugbot_register_jobs(register: Any) -> None:
    register("recurring", jobs.run_recurring, trigger="interval", minutes=10)


@hookimpl
def plugbot_startup(plugin: Plugin) -> None:
    """Migrations ran just before this and may have changed the system categories."""
    categories.forget_everyone(plugin.cache)
    plugin.cache.invalidate("user:")  # the cached settings rows (user:{id}:preferences) too


@hookimpl
def plugbot_export_user_data(user: User) -> dict[str, Any]:
    return userdata.export(user)


@hookimpl
def plugbot_delete_user_data(user: User, plugin: Plugin) -> None:
    userdata.delete(user)
    # A returning user keeps their tombstone's id: the cached categories must not outlive the erasure.
    categories.forget_user(plugin.cache, user.id)
    preferences.forget_user(plugin.cache, user.id)


@hookimpl
def plugbot_archive_user_data(user: User) -> None:
    """Seed 000 retention: a user inactive for 180 days has their expenses archived (out of
    /stats, /list and the counters); their schedules stop while the core marks them archived."""
    userdata.archive(user, True)


@hookimpl
def plugbot_unarchive_user_data(user: User) -> None:
    """The user is back: their expenses are in /stats and /list again, their schedules run again."""
    userdata.archive(user, False)


@hookimpl
def plugbot_stats() -> dict[str, Any]:
    return userdata.counters()
