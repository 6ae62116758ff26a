"""A plugin whose text handler takes a while: updates stay in hand long enough to stop a bot mid-batch."""
from __future__ import annotations

import time
from typing import Any

from framework import Context, PluginInfo, hookimpl

SECONDS = 0.3


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="slow", version="0.1.0", description="answers every text, slowly")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.text(answer_slowly)


def answer_slowly(ctx: Context) -> bool:
    time.sleep(SECONDS)
    ctx.reply(f"done: {ctx.text}")
    return True
