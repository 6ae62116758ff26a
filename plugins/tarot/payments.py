"""/buy, /subscription and the payment updates: credit packs and subscriptions for Telegram Stars.

An invoice's payload names what is sold, the credits it brings and the buyer:
``tarot:p:<pack>:<credits>:<telegram id>`` or ``tarot:s:<tier>:<credits>:<telegram id>``. The
pre-checkout query checks it against the current price list; the successful payment credits what
the payload says (what the user agreed to pay for), exactly once per ``telegram_payment_charge_id``.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from framework import SKIP, Button, CallbackData, SendError, User

from . import ledger, wallet
from .buttons import SubscriptionMenu
from .models import TIERS, Subscription, Transaction

log = logging.getLogger("plugbot.tarot")

SUBSCRIPTION_PERIOD = 2592000  # 30 days: the only period Telegram Stars subscriptions allow
ALREADY_REFUNDED = "CHARGE_ALREADY_REFUNDED"


class BuyPack(CallbackData, prefix="tarot_pack"):
    item: str  # the pack's name (a field called "pack" would hide CallbackData.pack)


class Subscribe(CallbackData, prefix="tarot_sub"):
    tier: str


class CancelSubscription(CallbackData, prefix="tarot_subcancel"):
    confirm: bool


@dataclass(frozen=True)
class Payload:
    kind: str      # "p" pack | "s" subscription
    item: str      # pack name | tier
    credits: int
    telegram_id: int

    def __str__(self) -> str:
        return f"tarot:{self.kind}:{self.item}:{self.credits}:{self.telegram_id}"

    @classmethod
    def parse(cls, text: str | None) -> Payload | None:
        parts = (text or "").split(":")
        if len(parts) != 5 or parts[0] != "tarot" or parts[1] not in ("p", "s"):
            return None
        try:
            return cls(parts[1], parts[2], int(parts[3]), int(parts[4]))
        except ValueError:
            return None


def price_of(settings: dict[str, Any], payload: Payload) -> tuple[int, int] | None:
    """(credits, stars) the price list asks for the payload's item today; None if it sells no such thing."""
    table = settings["packs"] if payload.kind == "p" else settings["subscriptions"]
    entry = table.get(payload.item)
    return (int(entry["credits"]), int(entry["stars"])) if entry else None


# -- /buy -----------------------------------------------------------------------------------------

def buy(ctx: Any) -> None:
    rows = [[Button(ctx.t("buy.pack_button", credits=entry["credits"], stars=entry["stars"]), BuyPack(item=name))]
            for name, entry in ctx.settings["packs"].items()]
    rows.append([Button(ctx.t("subscription.button"), SubscriptionMenu())])
    ctx.reply(ctx.t("buy.menu", balance=wallet.balance(ctx)), buttons=rows)


def buy_menu(ctx: Any, data: Any) -> None:
    buy(ctx)


def buy_pack(ctx: Any, data: BuyPack) -> Any:
    entry = ctx.settings["packs"].get(data.item)
    if entry is None:
        return SKIP  # a pack that does not exist (a forged or outdated button)
    payload = Payload("p", data.item, int(entry["credits"]), ctx.telegram_id)
    ctx.send_invoice(ctx.chat_id, title=ctx.t("buy.invoice_title", credits=entry["credits"]),
                     description=ctx.t("buy.invoice_description", credits=entry["credits"]),
                     payload=str(payload), amount=int(entry["stars"]))
    return None


# -- payment updates ------------------------------------------------------------------------------

def pre_checkout(ctx: Any) -> Any:
    """Answer fast: the payload must be ours, name this user, and match today's price."""
    query = ctx.update.pre_checkout_query
    payload = Payload.parse(query.invoice_payload)
    if payload is None:
        return SKIP  # another plugin's invoice
    price = price_of(ctx.settings, payload)
    if payload.telegram_id != ctx.telegram_id:
        ctx.answer_pre_checkout(False, ctx.t("buy.not_yours"))
    elif price is None or price != (payload.credits, query.total_amount) or query.currency != "XTR":
        ctx.answer_pre_checkout(False, ctx.t("buy.outdated"))
    elif payload.kind == "s" and _subscribed(ctx, payload.item):
        ctx.answer_pre_checkout(False, ctx.t("subscription.already"))
    else:
        ctx.answer_pre_checkout(True)
    return None


def _subscribed(ctx: Any, tier: str) -> bool:
    current = wallet.subscription(ctx.user, ctx.now())
    return current is not None and current.status == "active" and TIERS.index(current.tier) >= TIERS.index(tier)


def successful(ctx: Any) -> Any:
    payment = ctx.message.successful_payment
    payload = Payload.parse(payment.invoice_payload)
    if payload is None:
        return SKIP
    charge_id = payment.telegram_payment_charge_id
    kind = "subscription" if payload.kind == "s" else "purchase"
    tx, created = ledger.purchase(ctx.user, payload.credits, charge_id, ctx.now(), kind=kind,
                                  metadata={"item": payload.item, "stars": payment.total_amount,
                                            "recurring": bool(getattr(payment, "is_recurring", False))})
    if not created:
        log.info("payment %s was credited before (transaction %s): not again", charge_id, tx.id)
        return None
    wallet.changed(ctx)
    if payload.kind == "s":
        _extend(ctx, payload.item, charge_id, getattr(payment, "subscription_expiration_date", None),
                bool(getattr(payment, "is_recurring", False)))
        ctx.reply(ctx.t("subscription.thanks", tier=ctx.t(f"tier.{payload.item}"), credits=payload.credits,
                        balance=tx.credits_after))
    else:
        ctx.reply(ctx.t("buy.thanks", credits=payload.credits, balance=tx.credits_after))
    return None


def _extend(ctx: Any, tier: str, charge_id: str, expires_unix: int | None, recurring: bool) -> None:
    now = ctx.now()
    expires = (dt.datetime.fromtimestamp(expires_unix, dt.UTC) if expires_unix
               else now + dt.timedelta(seconds=SUBSCRIPTION_PERIOD))
    current = (Subscription.select().where((Subscription.user == ctx.user.id) & (Subscription.tier == tier))
               .order_by(Subscription.id.desc()).first())
    if recurring and current is not None:
        current.expires_at = max(current.expires_at, expires)
        current.status = "active"
        current.reminded_at = None
        current.save()
        return
    (Subscription.update(status="expired").where((Subscription.user == ctx.user.id)
                                                 & Subscription.status.in_(("active", "cancelled"))).execute())
    Subscription.create(user=ctx.user.id, tier=tier, status="active", started_at=now, expires_at=expires,
                        charge_id=charge_id)


def refunded(ctx: Any) -> Any:
    """Telegram refunded a payment (the user disputed it, or an admin refunded elsewhere)."""
    payment = ctx.refunded_payment
    if Payload.parse(payment.get("invoice_payload")) is None:
        return SKIP
    charge_id = str(payment.get("telegram_payment_charge_id"))
    tx = Transaction.get_or_none(Transaction.payment_reference == charge_id)
    if tx is None:
        log.warning("refunded payment %s was never credited: nothing to take back", charge_id)
        return None
    reversal = apply_refund(ctx, tx, charge_id, "refunded by Telegram")
    if reversal is not None:
        ctx.reply(ctx.t("refund.done", credits=-reversal.amount, balance=reversal.credits_after))
    return None


def apply_refund(ctx: Any, tx: Transaction, charge_id: str, reason: str) -> Transaction | None:
    """Take the refunded purchase out of the ledger (once) and end a refunded subscription."""
    reversal = ledger.refund(tx, ctx.now(), reference=charge_id, reason=reason)
    if reversal is None:
        return None
    if tx.type == "subscription":
        (Subscription.update(status="expired", expires_at=ctx.now())
         .where((Subscription.user == tx.user_id) & Subscription.status.in_(("active", "cancelled"))).execute())
    if tx.user_id is not None:
        owner = User.get_or_none(User.id == tx.user_id)
        if owner is not None:
            wallet.changed(ctx, owner)
    return reversal


def refund_charge(ctx: Any, tx: Transaction) -> tuple[bool, str | None]:
    """Refund ``tx`` with Telegram, then in the ledger; (done, Telegram's refusal)."""
    owner = User.get_or_none(User.id == tx.user_id) if tx.user_id is not None else None
    if owner is None:
        return False, "the buyer deleted their data"
    try:
        ctx.call_api("refund_star_payment", user_id=owner.telegram_id, telegram_payment_charge_id=tx.payment_reference)
    except SendError as exc:
        if ALREADY_REFUNDED not in (exc.description or ""):
            return False, exc.description
    apply_refund(ctx, tx, tx.payment_reference, "refunded by an admin")
    return True, None


# -- /subscription --------------------------------------------------------------------------------

def subscription(ctx: Any) -> None:
    current = wallet.subscription(ctx.user, ctx.now())
    if current is not None:
        text = ctx.t("subscription.current", tier=ctx.t(f"tier.{current.tier}"),
                     expires=current.expires_at.date().isoformat(), state=ctx.t(f"subscription.state.{current.status}"))
        buttons = ([[Button(ctx.t("subscription.cancel_button"), CancelSubscription(confirm=True))]]
                   if current.status == "active" else None)
        ctx.reply(text, buttons=buttons)
        return
    rows = [[Button(ctx.t("subscription.tier_button", tier=ctx.t(f"tier.{tier}"), stars=entry["stars"],
                          credits=entry["credits"]), Subscribe(tier=tier))]
            for tier, entry in ctx.settings["subscriptions"].items()]
    ctx.reply(ctx.t("subscription.none"), buttons=rows)


def subscription_menu(ctx: Any, data: Any) -> None:
    subscription(ctx)


def subscribe(ctx: Any, data: Subscribe) -> Any:
    entry = ctx.settings["subscriptions"].get(data.tier)
    if entry is None:
        return SKIP
    payload = Payload("s", data.tier, int(entry["credits"]), ctx.telegram_id)
    try:
        link = ctx.create_invoice_link(
            title=ctx.t("subscription.invoice_title", tier=ctx.t(f"tier.{data.tier}")),
            description=ctx.t("subscription.invoice_description", credits=entry["credits"]),
            payload=str(payload), amount=int(entry["stars"]), subscription_period=SUBSCRIPTION_PERIOD)
    except SendError as exc:
        log.warning("create_invoice_link failed: %s", exc)
        ctx.reply(ctx.t("subscription.link_failed"))
        return None
    ctx.reply(ctx.t("subscription.link", link=link, stars=entry["stars"]))
    return None


def cancel(ctx: Any, data: CancelSubscription) -> Any:
    current = wallet.subscription(ctx.user, ctx.now())
    if current is None or current.status != "active" or not data.confirm:
        return SKIP
    try:
        ctx.call_api("edit_user_star_subscription", user_id=ctx.telegram_id, telegram_payment_charge_id=current.charge_id,
                     is_canceled=True)
    except SendError as exc:
        log.warning("edit_user_star_subscription failed: %s", exc)
        ctx.reply(ctx.t("subscription.cancel_failed"))
        return None
    current.status, current.cancelled_at = "cancelled", ctx.now()
    current.save()
    ctx.edit(ctx.t("subscription.cancelled", expires=current.expires_at.date().isoformat()))
    return None
