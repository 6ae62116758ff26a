"""A hook function its author forgot to decorate with ``@hookimpl``."""
from __future__ import annotations

from typing import Any

from framework import PluginInfo, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="undecorated", version="0.1.0")


def plugbot_register_handlers(register: Any) -> None:
    register.command("forgotten", lambda ctx: ctx.reply("never registered"))
