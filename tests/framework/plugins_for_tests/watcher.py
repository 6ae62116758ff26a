"""Watches every message, edit and member change as an observer (``register.observer``), writes an
audit row for each in the update's transaction, and records the bot's own messages
(``plugbot_message_sent``). A message "watch: fail" makes the observer write, reply, then raise."""
from __future__ import annotations

from typing import Any

from framework import Context, PluginInfo, SentMessage, hookimpl

from . import record


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="watcher", version="0.1.0")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.observer(watch, updates=["message", "edited_message", "my_chat_member", "chat_member"])
    register.command("amiadmin", lambda ctx: ctx.reply(f"{ctx.chat_status()} {ctx.is_chat_admin()} {ctx.member_count()}"))


def watch(ctx: Context) -> None:
    kind = ctx.origin.kind
    message = ctx.message
    what = message.content_type if message is not None else kind
    ctx.audit("watched", details={"kind": kind, "what": what, "text": ctx.text})
    record("watched", (kind, ctx.chat_id, what, ctx.text, ctx.thread_id))
    if ctx.text == "watch: fail":
        ctx.reply("an observer's reply that must never be sent")
        raise RuntimeError("the watcher broke")


@hookimpl
def plugbot_message_sent(message: SentMessage) -> None:
    record("sent", message)
    if message.text == "explode on sent":
        raise RuntimeError("the sent-message hook broke")
