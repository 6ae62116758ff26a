"""Middleware: stops every update whose text contains "forbidden" before its handler runs."""
from __future__ import annotations

from framework import Context, PluginInfo, hookimpl

from . import record


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="gate", version="0.1.0")


@hookimpl
def plugbot_before_update(ctx: Context) -> bool | None:
    record("before_update", (ctx.plugin, ctx.text))
    return False if "forbidden" in ctx.text else None
