"""The tarot plugin: readings paid with credits, a ledger that always balances, Telegram Stars.

This module only wires hooks; the work lives in the modules it names (``ledger``, ``deck``,
``spreads``, ``interpretation``, the handlers and the jobs).
"""
from __future__ import annotations

import os
from typing import Any

from framework import PluginInfo, hookimpl

from . import admin_cli, spreads
from .models import MODELS

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
        "reversal_probability": 0.3,  # chance that a drawn card is reversed
        "welcome_bonus": 3,           # credits given once per person, ever
    }


@hookimpl
def plugbot_validate_config(settings: dict[str, Any]) -> list[str]:
    problems = spreads.problems(settings)
    if not 0.0 <= float(settings["reversal_probability"]) <= 1.0:
        problems.append("reversal_probability: must be between 0 and 1")
    if int(settings["welcome_bonus"]) < 0:
        problems.append("welcome_bonus: must be 0 or more")
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
def plugbot_register_cli(register: Any) -> None:
    register("verify-ledger", admin_cli.verify_ledger, help="check every balance against its transactions")
