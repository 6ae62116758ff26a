"""Registers a command whose name Telegram would refuse (``/do-it``)."""
from __future__ import annotations

from typing import Any

from framework import PluginInfo, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="bad_command", version="0.1.0")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.command("do-it", lambda ctx: ctx.reply("done"))
