"""A plugin others depend on: records the order of its startup and shutdown."""
from __future__ import annotations

from typing import Any

from framework import Plugin, PluginInfo, hookimpl

from . import record


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="alpha", version="0.1.0", description="the base of a dependency chain")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.command("alpha", lambda ctx: ctx.reply("alpha here"))


@hookimpl
def plugbot_startup(plugin: Plugin) -> None:
    record("startup", plugin.name)


@hookimpl
def plugbot_shutdown(plugin: Plugin) -> None:
    record("shutdown", plugin.name)
