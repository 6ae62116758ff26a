"""A plugin selling one thing for Telegram Stars: the core's payment routes and the fake Bot API."""
from __future__ import annotations

import threading
from typing import Any

from framework import PluginInfo, SendError, hookimpl

PRICE = 25
busy = threading.Event()  # /slow waits for it: a chat whose queue is busy
slow_started = threading.Event()  # set once /slow's handler runs (its transaction holds the user's row)
slow_done = threading.Event()  # set when it returns


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="shop", version="0.1.0", description="sells a star for Stars")


def buy(ctx: Any) -> None:
    ctx.send_invoice(ctx.chat_id, title="A star", description="One shiny star", payload=f"star:{ctx.telegram_id}",
                     amount=PRICE)


def link(ctx: Any) -> None:
    url = ctx.create_invoice_link(title="Monthly star", description="A star a month", payload=f"sub:{ctx.telegram_id}",
                                  amount=PRICE, subscription_period=2592000)
    ctx.reply(url)


def refund(ctx: Any) -> None:
    try:
        ctx.call_api("refund_star_payment", user_id=ctx.telegram_id, telegram_payment_charge_id=ctx.args)
        ctx.reply("refunded")
    except SendError as exc:
        ctx.reply(f"refused: {exc.description}")


def slow(ctx: Any) -> None:
    slow_started.set()
    busy.wait(10)
    slow_done.set()
    ctx.reply("slow done")


def pre_checkout(ctx: Any) -> None:
    query = ctx.update.pre_checkout_query
    if query.invoice_payload != f"star:{ctx.telegram_id}" or query.total_amount != PRICE:
        ctx.answer_pre_checkout(False, "This invoice is not valid.")
    else:
        ctx.answer_pre_checkout(True)


def paid(ctx: Any) -> None:
    payment = ctx.message.successful_payment
    ctx.reply(f"paid {payment.total_amount} {payment.currency}: {payment.telegram_payment_charge_id}")


def refunded(ctx: Any) -> None:
    ctx.reply(f"refunded {ctx.refunded_payment['telegram_payment_charge_id']}")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.command("buy", buy)
    register.command("link", link)
    register.command("refund", refund)
    register.command("slow", slow)
    register.payment(pre_checkout=pre_checkout, successful=paid, refunded=refunded)
