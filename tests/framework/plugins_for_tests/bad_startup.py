"""Registers a command, a job and a migration-less model, then fails in its startup hook."""
from __future__ import annotations

from typing import Any

from framework import Plugin, PluginInfo, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="bad_startup", version="0.1.0")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.command("badstart", lambda ctx: ctx.reply("should never answer"))


@hookimpl
def plugbot_register_jobs(register: Any) -> None:
    register("tick", lambda job: None, trigger="interval", minutes=5)


@hookimpl
def plugbot_startup(plugin: Plugin) -> None:
    raise ConnectionError("cannot reach the fortune server")
