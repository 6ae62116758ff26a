"""A conversation step that moves on and then fails: the move must be undone with its writes."""
from __future__ import annotations

from typing import Any

from framework import Context, Conversation, PluginInfo, hookimpl

steps = Conversation("steps", states={"FIRST": ["SECOND"], "SECOND": []})


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="stepper", version="0.1.0")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.command("steps", start)
    register.conversation(steps)


def start(ctx: Context) -> None:
    ctx.session.goto("FIRST")
    ctx.reply("first step")


@steps.state("FIRST")
def first(ctx: Context) -> None:
    ctx.session.goto("SECOND", answer=ctx.text)
    if ctx.text == "fail":
        raise RuntimeError("the first step broke after moving on")
    ctx.reply("second step")


@steps.state("SECOND")
def second(ctx: Context) -> None:
    ctx.session.end()
    ctx.reply(f"done with {ctx.session.data.get('answer')!r}")
