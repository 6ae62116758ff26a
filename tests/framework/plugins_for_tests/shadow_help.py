"""Registers /help without ``override=True``: a clash with the built-in, refused at startup."""
from __future__ import annotations

from typing import Any

from framework import PluginInfo, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="shadow_help", version="0.1.0")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.command("help", lambda ctx: ctx.reply("which help?"))
