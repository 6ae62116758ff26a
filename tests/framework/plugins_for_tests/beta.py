"""Depends on ``alpha``: must be loaded (and started) after it."""
from __future__ import annotations

from typing import Any

from framework import Plugin, PluginInfo, hookimpl

from . import record


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="beta", version="0.2.0", description="needs alpha", depends_on=("alpha",))


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.command("beta", lambda ctx: ctx.reply("beta here"))


@hookimpl
def plugbot_startup(plugin: Plugin) -> None:
    record("startup", plugin.name)
