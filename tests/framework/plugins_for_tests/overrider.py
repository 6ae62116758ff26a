"""Replaces the built-in /help and the admins' /plugins, saying so with ``override=True``."""
from __future__ import annotations

from typing import Any

from framework import PluginInfo, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="overrider", version="0.1.0")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.command("help", lambda ctx: ctx.reply("overrider's own help"), override=True)
    register.command("plugins", lambda ctx: ctx.reply("overrider's plugin list"), override=True)
