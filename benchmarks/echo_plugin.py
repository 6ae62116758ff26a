"""The smallest useful plugbot plugin: reply to every text with the same text.

Workload (a) of the benchmark (and, with ``/slow``, of the slow-chat row), and the bot of the "Telegram misbehaves"
reliability case, where unique texts make every reply identifiable. Enable with
``plugins: {echo: {module: benchmarks.echo_plugin}}``.
"""
from __future__ import annotations

import time
from typing import Any

from framework import Context, PluginInfo, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="echo", version="1.0.0", description="echoes every text (benchmark plugin)",
                      api_version=">=2.0,<3.0")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.text(echo, priority=-100)
    register.command("slow", slow, help="take a second (the slow_chat benchmark)")


SLOW_SECONDS = 1.0


def echo(ctx: Context) -> None:
    ctx.reply(ctx.text)


def slow(ctx: Context) -> None:
    """A handler that waits on something slow (an LLM, a remote API) for a second. Its answer is a
    chat action, not a message, so the fake server's reply latencies are the other chats' only."""
    time.sleep(SLOW_SECONDS)
    ctx.call_api("send_chat_action", chat_id=ctx.chat_id, action="typing")
