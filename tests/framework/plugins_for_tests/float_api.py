"""Declares ``api_version=2.0`` (a number, not a range): refused in one line."""
from __future__ import annotations

from typing import Any

from framework import PluginInfo, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="float_api", version="0.1.0", api_version=2.0)  # type: ignore[arg-type]


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.command("float", lambda ctx: ctx.reply("float"))
