"""Test plugin ``wizard``: a two-step conversation with a bug in its second step.

``/order`` asks for a size (ASK_SIZE), then for confirmation (ASK_CONFIRM).
"yes" completes the order. Any other answer is the bug: the handler writes
an audit row, queues a reply, then asks to go back to ASK_SIZE, a transition
ASK_CONFIRM does not declare ("colour" asks for a state no conversation has).
"""
from __future__ import annotations

from typing import Any

from framework import Context, Conversation, PluginInfo, hookimpl

order = Conversation("order", states={"ASK_SIZE": ["ASK_CONFIRM"], "ASK_CONFIRM": []}, command="order")


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="wizard", version="0.1.0", description="test plugin: a buggy two-step conversation")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.conversation(order)


@order.entry
def start_order(ctx: Context) -> None:
    ctx.session.goto("ASK_SIZE")
    ctx.reply("Which size?")


@order.state("ASK_SIZE")
def on_size(ctx: Context) -> None:
    ctx.audit("wizard_size", details={"size": ctx.text})
    ctx.session.goto("ASK_CONFIRM", size=ctx.text)
    ctx.reply(f"Order a {ctx.text} one? Answer yes or change.")


@order.state("ASK_CONFIRM")
def on_confirm(ctx: Context) -> None:
    size = ctx.session.data["size"]
    if ctx.text == "yes":
        ctx.audit("wizard_ordered", details={"size": size})
        ctx.session.end()
        ctx.reply(f"Ordered: {size}.")
        return
    ctx.audit("wizard_change", details={"size": size})         # work the failure must roll back
    ctx.reply("Which size then?")                               # a reply that must never be sent
    ctx.session.goto("ASK_COLOUR" if ctx.text == "colour" else "ASK_SIZE", size=None)
