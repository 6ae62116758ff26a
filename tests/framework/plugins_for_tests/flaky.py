"""A plugin with a handler that always raises, and one that works; its middleware sees its own errors."""
from __future__ import annotations

from collections.abc import Callable
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
    register.middleware(watch)


def boom(ctx: Context) -> None:
    ctx.reply("half an answer that must never be sent")
    raise ValueError("the flaky plugin broke")


def watch(ctx: Context, call_next: Callable[[], Any]) -> Any:
    try:
        result = call_next()
    except Exception as exc:
        record("middleware", (ctx.plugin, ctx.command, repr(exc)))
        raise
    record("middleware", (ctx.plugin, ctx.command, None))
    return result
