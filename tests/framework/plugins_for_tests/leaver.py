"""A conversation step that ends the conversation and passes the text on (``return SKIP``): the
end must survive the text handler that takes the text next."""
from __future__ import annotations

from typing import Any

from framework import SKIP, Context, Conversation, PluginInfo, hookimpl

chat = Conversation("chat", states={"TALKING": []}, command="talk")


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="leaver", version="0.1.0")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.conversation(chat)
    register.text(heard)


@chat.entry
def start(ctx: Context) -> None:
    ctx.session.goto("TALKING")
    ctx.reply("talking")


@chat.state("TALKING")
def talking(ctx: Context) -> Any:
    if ctx.text == "bye":
        ctx.session.end()
        return SKIP
    ctx.reply(f"in the conversation: {ctx.text}")
    return None


def heard(ctx: Context) -> None:
    ctx.reply(f"text handler: {ctx.text}")
