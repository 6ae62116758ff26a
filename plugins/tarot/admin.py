"""Admin commands, permission-checked by the core's access control: grant bonus credits
(``manage_users``), read a user's ledger (``view_stats``), refund a purchase (``manage_users``)."""
from __future__ import annotations

from typing import Any

from framework import User, arg

from . import ledger, payments, wallet
from .models import Transaction

GRANT_ARGS = [arg.user("user"), arg.int("credits", min=1, max=100_000), arg.text("reason", optional=True, max_length=200)]
LEDGER_ARGS = [arg.user("user")]
REFUND_ARGS = [arg.word("charge", max_length=255)]


def grant(ctx: Any, user: User, credits: int, reason: str | None = None) -> None:
    tx = ledger.credit(user, credits, "bonus", ctx.now(), metadata={"by": ctx.telegram_id, "reason": reason})
    wallet.changed(ctx, user)
    ctx.audit("tarot_grant", entity_type="tarot_transaction", entity_id=tx.id,
              details={"user": user.telegram_id, "credits": credits, "reason": reason})
    ctx.reply(ctx.t("admin.granted", credits=credits, user=user.telegram_id, balance=tx.credits_after))


def show_ledger(ctx: Any, user: User) -> None:
    rows = list(Transaction.select().where(Transaction.user == user.id).order_by(Transaction.id.desc()).limit(20))
    lines = [ctx.t("admin.ledger_title", user=user.telegram_id, balance=ledger.balance_of(user))]
    lines.extend(f"#{tx.id} {tx.created_at:%Y-%m-%d %H:%M} {tx.type} {tx.amount:+d} → {tx.credits_after} {tx.status}"
                 + (f" [{tx.payment_reference}]" if tx.payment_reference else "") for tx in rows)
    if not rows:
        lines.append(ctx.t("admin.ledger_empty"))
    ctx.reply("\n".join(lines))


def refund(ctx: Any, charge: str) -> None:
    tx = Transaction.get_or_none(Transaction.payment_reference == charge)
    if tx is None or tx.type not in ("purchase", "subscription"):
        ctx.reply(ctx.t("admin.no_such_charge", charge=charge))
        return
    if tx.status == "refunded":
        ctx.reply(ctx.t("admin.already_refunded", charge=charge))
        return
    done, refusal = payments.refund_charge(ctx, tx)
    if not done:
        ctx.reply(ctx.t("admin.refund_failed", charge=charge, reason=refusal))
        return
    ctx.audit("tarot_refund", entity_type="tarot_transaction", entity_id=tx.id, details={"charge": charge})
    ctx.reply(ctx.t("admin.refunded", charge=charge, credits=tx.amount))
