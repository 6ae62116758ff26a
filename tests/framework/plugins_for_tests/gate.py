"""Middleware of its own: stops any of gate's handlers when the text contains "forbidden",
and fails on purpose when it contains "explode"."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from framework import Context, PluginInfo, hookimpl

from . import record


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="gate", version="0.1.0")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.command("gated", lambda ctx: ctx.reply(f"gate let {ctx.args!r} through"))
    register.middleware(outer)
    register.middleware(inner)


def outer(ctx: Context, call_next: Callable[[], Any]) -> Any:
    record("middleware", ("outer", ctx.plugin, ctx.text))
    if "explode" in ctx.text:
        ctx.reply("a reply the failure must drop")
        raise RuntimeError("the gate's middleware broke")
    return call_next()


def inner(ctx: Context, call_next: Callable[[], Any]) -> Any:
    record("middleware", ("inner", ctx.plugin, ctx.text))
    if "forbidden" in ctx.text:
        return None
    return call_next()
