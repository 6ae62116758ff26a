"""A plugin whose /boom always fails: errors for /botstats to count."""
from __future__ import annotations

from typing import Any

from framework import Context, PluginInfo, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="failing", version="0.1.0", description="fails on purpose")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.command("boom", boom)


def boom(ctx: Context) -> None:
    raise ValueError("boom")
