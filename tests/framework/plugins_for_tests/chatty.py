"""Says a lot: a reply longer than one Telegram message, and answers to photos and stickers."""
from __future__ import annotations

from typing import Any

from framework import Button, CallbackData, Context, PluginInfo, hookimpl

PARAGRAPH = "All work and no play makes a long reply. " * 24  # ~1,000 characters
ESSAY = "\n\n".join(f"{n}. {PARAGRAPH.strip()}" for n in range(1, 11))  # ~10,000 characters


class More(CallbackData, prefix="chatty", owner=False):
    """A public button: anyone in the chat may ask for more."""

    what: str


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="chatty", version="0.1.0")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.command("essay", essay)
    register.callback(More, more)
    register.content(["photo", "sticker"], on_media)


def essay(ctx: Context) -> None:
    ctx.reply(ESSAY, buttons=[[Button("More", More(what="more"))]])


def more(ctx: Context, data: More) -> None:
    ctx.answer(f"no {data.what}, that was all")


def on_media(ctx: Context) -> None:
    kind = ctx.message.content_type
    ctx.reply(f"nice {kind}" + (f": {ctx.message.caption}" if ctx.message.caption else ""))
