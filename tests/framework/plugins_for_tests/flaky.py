"""A plugin with a handler that always raises, and one that works; it observes its own errors."""
from __future__ import annotations

from typing import Any

from framework import Context, PluginInfo, hookimpl

from . import record


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="flaky", version="0.3.0", description="fails on purpose")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.command("boom", boom)
    register.command("fine", lambda ctx: ctx.reply("fine"))


def boom(ctx: Context) -> None:
    ctx.reply("half an answer that must never be sent")
    raise ValueError("the flaky plugin broke")


@hookimpl
def plugbot_after_update(ctx: Context, error: BaseException | None) -> None:
    record("after_update", (ctx.plugin, ctx.command, None if error is None else repr(error)))
