"""Claims /hello, which the example plugin already answers: a clash to be refused at startup."""
from __future__ import annotations

from typing import Any

from framework import PluginInfo, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="copycat", version="0.1.0")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.command("hello", lambda ctx: ctx.reply("me too"))
