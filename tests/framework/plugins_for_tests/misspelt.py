"""A hook name with a typo (``plugbot_register_handler``): it would never be called."""
from __future__ import annotations

from typing import Any

from framework import PluginInfo, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="misspelt", version="0.1.0")


@hookimpl
def plugbot_register_handler(register: Any) -> None:
    register.command("typo", lambda ctx: ctx.reply("never registered"))
