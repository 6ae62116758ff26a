"""Test plugin ``notes``: a second one-step conversation, a free-text handler and /peek.

Used to show that two plugins never see each other's conversation state.
"""
from __future__ import annotations

from typing import Any

from framework import Context, Conversation, PluginInfo, hookimpl

note_conversation = Conversation("note", states={"AWAITING_TEXT": []}, command="note")


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="notes", version="0.1.0", description="test plugin: notes")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.command("peek", peek)
    register.conversation(note_conversation)
    register.text(free_text)


@note_conversation.entry
def start_note(ctx: Context) -> None:
    ctx.session.goto("AWAITING_TEXT", started=True)
    ctx.reply("What should I note?")


@note_conversation.state("AWAITING_TEXT")
def on_text(ctx: Context) -> None:
    ctx.reply(f"noted: {ctx.text}")
    ctx.session.end()


def peek(ctx: Context) -> None:
    ctx.reply(f"notes sees state={ctx.session.state} data={ctx.session.data}")


def free_text(ctx: Context) -> None:
    ctx.reply(f"notes heard: {ctx.text}")
