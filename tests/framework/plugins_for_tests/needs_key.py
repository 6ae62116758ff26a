"""A plugin with a setting the operator must give."""
from __future__ import annotations

from typing import Any

from framework import REQUIRED, PluginInfo, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="needs_key", version="0.1.0")


@hookimpl
def plugbot_config_defaults() -> dict[str, Any]:
    return {"api_key": REQUIRED, "limit": 10}


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.command("key", lambda ctx: ctx.reply(f"key {ctx.settings['api_key']}, limit {ctx.settings['limit']}"))
