"""Sees every update once it is over (``plugbot_update_done``); fails on purpose on "/observe_fail"."""
from __future__ import annotations

from framework import Context, PluginInfo, hookimpl

from . import record


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="observer", version="0.1.0")


@hookimpl
def plugbot_update_done(ctx: Context, error: BaseException | None) -> None:
    if ctx.text == "/observe_fail":
        raise RuntimeError("the observer broke")
    record("done", (ctx.plugin, ctx.text or ctx.data, None if error is None else repr(error)))
