"""The smallest useful plugbot plugin: reply to every text with the same text.

Workload (a) of the benchmark, and the bot of the "Telegram misbehaves"
reliability case, where unique texts make every reply identifiable. Enable with
``plugins: {echo: {module: benchmarks.echo_plugin}}``.
"""
from __future__ import annotations

from typing import Any

from framework import Context, PluginInfo, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="echo", version="1.0.0", description="echoes every text (benchmark plugin)",
                      api_version=">=2.0,<3.0")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.text(echo, priority=-100)


def echo(ctx: Context) -> None:
    ctx.reply(ctx.text)
