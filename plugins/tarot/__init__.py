"""The tarot plugin: readings paid with credits, a ledger that always balances, Telegram Stars.

This module only wires hooks; the work lives in the modules it names (``ledger``, ``deck``,
``spreads``, ``interpretation``, ``reading``, ``handlers``, ``payments``, ``admin``, ``jobs``).
"""
from __future__ import annotations

import os
from typing import Any

from framework import Plugin, PluginInfo, User, hookimpl

from . import admin, admin_cli, handlers, jobs, payments, reading, spreads, userdata
from .buttons import BuyMenu, SubscriptionMenu
from .models import MODELS, TIERS

HERE = os.path.dirname(__file__)


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="tarot", version="1.0.0",
                      description="Tarot readings paid with credits; Telegram Stars packs and subscriptions",
                      api_version=">=2.0,<3.0")


@hookimpl
def plugbot_config_defaults() -> dict[str, Any]:
    return {
        "spreads": {name: dict(values) for name, values in spreads.DEFAULT_SETTINGS.items()},
        "packs": {"small": {"credits": 10, "stars": 50}, "medium": {"credits": 30, "stars": 125},
                  "large": {"credits": 100, "stars": 350}},
        "subscriptions": {"premium": {"credits": 20, "stars": 250}, "professional": {"credits": 60, "stars": 600}},
        "reversal_probability": 0.3,    # chance that a drawn card is reversed
        "welcome_bonus": 3,             # credits given once per person, ever
        "session_timeout_minutes": 15,  # a reading conversation quiet this long is interrupted (free)
        "support_contact": "",          # shown by /paysupport, e.g. @your_support
    }


@hookimpl
def plugbot_validate_config(settings: dict[str, Any]) -> list[str]:
    problems = spreads.problems(settings)
    if not 0.0 <= float(settings["reversal_probability"]) <= 1.0:
        problems.append("reversal_probability: must be between 0 and 1")
    if int(settings["welcome_bonus"]) < 0:
        problems.append("welcome_bonus: must be 0 or more")
    for section in ("packs", "subscriptions"):
        for name, entry in settings[section].items():
            if not isinstance(entry, dict) or set(entry) != {"credits", "stars"}:
                problems.append(f"{section}.{name}: needs credits and stars")
            elif int(entry["credits"]) < 1 or int(entry["stars"]) < 1:
                problems.append(f"{section}.{name}: credits and stars must be at least 1")
            if ":" in str(name):
                problems.append(f"{section}.{name}: a name cannot contain ':'")
    for tier in settings["subscriptions"]:
        if tier not in TIERS[1:]:
            problems.append(f"subscriptions.{tier}: must be one of {', '.join(TIERS[1:])}")
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
    register.middleware(handlers.welcome_middleware)
    register.conversation(reading.reading_conversation)  # /reading, its steps and its buttons
    register.command("tarot", reading.start, help="help.tarot", args=reading.ARGS, allow_restricted=False)
    register.command("card", handlers.card, help="help.card")
    register.command("balance", handlers.balance, help="help.balance")
    register.command("history", handlers.history, help="help.history")
    register.command("buy", payments.buy, help="help.buy")
    register.command("subscription", payments.subscription, help="help.subscription")
    register.command("paysupport", handlers.paysupport, help="help.paysupport")
    register.command("terms", handlers.terms, help="help.terms")
    register.command("tarot_grant", admin.grant, help="help.tarot_grant", args=admin.GRANT_ARGS,
                     permission="manage_users")
    register.command("tarot_ledger", admin.show_ledger, help="help.tarot_ledger", args=admin.LEDGER_ARGS,
                     permission="view_stats")
    register.command("tarot_refund", admin.refund, help="help.tarot_refund", args=admin.REFUND_ARGS,
                     permission="manage_users")
    register.callback(handlers.HistoryPage, handlers.history_page)
    register.callback(handlers.HistoryOpen, handlers.history_open)
    register.callback(BuyMenu, payments.buy_menu)
    register.callback(SubscriptionMenu, payments.subscription_menu)
    register.callback(payments.BuyPack, payments.buy_pack)
    register.callback(payments.Subscribe, payments.subscribe)
    register.callback(payments.CancelSubscription, payments.cancel)
    register.payment(pre_checkout=payments.pre_checkout, successful=payments.successful, refunded=payments.refunded)


@hookimpl
def plugbot_register_jobs(register: Any) -> None:
    register("sessions", jobs.expire_sessions, trigger="interval", minutes=5)
    register("subscriptions", jobs.subscriptions, trigger="cron", hour=9, minute=0)
    register("reconcile", jobs.reconcile, trigger="cron", hour=3, minute=30)


@hookimpl
def plugbot_register_cli(register: Any) -> None:
    register("verify-ledger", admin_cli.verify_ledger, help="check every balance against its transactions")


@hookimpl
def plugbot_export_user_data(user: User) -> dict[str, Any] | None:
    return userdata.export(user)


@hookimpl
def plugbot_delete_user_data(user: User, plugin: Plugin) -> None:
    userdata.delete(user, plugin.cache)


@hookimpl
def plugbot_stats() -> dict[str, Any]:
    return userdata.counters()
