"""Scheduled work: interrupted conversations, subscription expiry and reminders, reconciliation
of Telegram Stars payments with the ledger."""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from framework import SendError, User

from . import ledger, payments, wallet
from .models import Reading, Subscription, Transaction, UserSession
from .payments import Payload

log = logging.getLogger("plugbot.tarot")

REMIND_BEFORE = dt.timedelta(days=3)
PAGE = 100


def expire_sessions(job: Any) -> None:
    """Reading conversations left midway: the session expired, the reading is ``interrupted`` (free)."""
    cutoff = job.now() - dt.timedelta(minutes=int(job.settings["session_timeout_minutes"]))
    stale = list(UserSession.select().where((UserSession.status == "active") & (UserSession.last_activity_at < cutoff)))
    for session in stale:
        reading_id = (session.data or {}).get("reading")
        if reading_id is not None:
            (Reading.update(status="interrupted").where((Reading.id == reading_id) & (Reading.status == "in_progress"))
             .execute())
        session.status, session.completed_at = "expired", job.now()
        session.save()
    # A reading whose conversation never got a session row (an aborted /reading <spread>) is interrupted too.
    (Reading.update(status="interrupted").where((Reading.status == "in_progress") & (Reading.created_at < cutoff))
     .execute())


def subscriptions(job: Any) -> None:
    """Daily: expire what ran out, and remind users three days before their subscription ends or renews."""
    now = job.now()
    ended = list(Subscription.select(Subscription, User).join(User)
                 .where(Subscription.status.in_(("active", "cancelled")) & (Subscription.expires_at <= now)))
    for sub in ended:
        sub.status = "expired"
        sub.save()
        job.notify(sub.user, "subscription.expired", tier=job.t(f"tier.{sub.tier}", lang=job.language_of(sub.user)))
    due = list(Subscription.select(Subscription, User).join(User)
               .where(Subscription.status.in_(("active", "cancelled")) & (Subscription.expires_at > now)
                      & (Subscription.expires_at <= now + REMIND_BEFORE) & Subscription.reminded_at.is_null()))
    for sub in due:
        sub.reminded_at = now
        sub.save()
        key = "subscription.reminder_renews" if sub.status == "active" else "subscription.reminder_ends"
        job.notify(sub.user, key, tier=job.t(f"tier.{sub.tier}", lang=job.language_of(sub.user)),
                   expires=sub.expires_at.date().isoformat())


def reconcile(job: Any) -> None:
    """Nightly: every Stars payment Telegram lists must have its completed transaction, and every
    refund Telegram lists its refund in the ledger. Credit a payment that has none (a payment
    message that never arrived), take back a refund the ledger missed (a lost ``refunded_payment``),
    each once, and report them."""
    offset, credited, refunded = 0, [], []
    while True:
        try:
            page = job.call_api("get_star_transactions", offset=offset, limit=PAGE)
        except SendError as exc:
            log.warning("reconciliation: get_star_transactions failed: %s", exc)
            return
        items = list(getattr(page, "transactions", None) or [])
        for item in items:
            if getattr(item, "source", None) is not None:
                line = _missing(job, item)
                if line is not None:
                    credited.append(line)
            else:
                line = _missed_refund(job, item)
                if line is not None:
                    refunded.append(line)
        if len(items) < PAGE:
            break
        offset += PAGE
    for line in credited + refunded:
        log.warning("reconciliation: %s", line)
        job.audit("tarot_reconciled", details={"payment": line})
    reports = ([job.t("reconcile.report", count=len(credited), payments="\n".join(credited))] if credited else []) + (
        [job.t("reconcile.report_refunds", count=len(refunded), refunds="\n".join(refunded))] if refunded else [])
    for report in reports:
        for admin in sorted(job.access.admins):
            job.send_message(admin, report)


def _missing(job: Any, item: Any) -> str | None:
    source = getattr(item, "source", None)
    payload = Payload.parse(getattr(source, "invoice_payload", None))
    if payload is None or getattr(source, "type", None) != "user":
        return None  # not a purchase of ours (a withdrawal, another bot's payload)
    charge_id = item.id
    if Transaction.select().where((Transaction.payment_reference == charge_id)
                                  & Transaction.status.in_(("completed", "refunded"))).exists():
        return None
    user = User.get_or_none((User.telegram_id == source.user.id) & (User.status != "deleted"))
    if user is None:  # never met, or erased (/deleteme): their tombstone gets no account
        return f"{charge_id}: {item.amount} Stars from {source.user.id}, who is not a user any more: not credited"
    tx, created = ledger.purchase(user, payload.credits, charge_id, job.now(),
                                  kind="subscription" if payload.kind == "s" else "purchase",
                                  metadata={"item": payload.item, "stars": item.amount, "reconciled": True})
    if created:
        # Dropped now and again once the job committed: an update reading the balance in between
        # would otherwise cache the old one for 5 minutes.
        wallet.changed(job, user)
    return f"{charge_id}: {item.amount} Stars from {source.user.id} had no transaction; credited {payload.credits}"


def _missed_refund(job: Any, item: Any) -> str | None:
    """A Stars transaction going out to a user: Telegram's refund of the payment whose charge id it
    carries (the Bot API gives a refund the id of the transaction it reverses)."""
    receiver = getattr(item, "receiver", None)
    if getattr(receiver, "type", None) != "user":
        return None  # a withdrawal, an ad payment: no purchase of ours is reversed
    tx = Transaction.get_or_none((Transaction.payment_reference == item.id) & (Transaction.status == "completed")
                                 & Transaction.type.in_(("purchase", "subscription")))
    if tx is None:
        return None  # refunded in the ledger already, or not a payment of this plugin
    reversal = payments.apply_refund(job, tx, item.id, "refunded by Telegram (found by reconciliation)")
    if reversal is None:
        return None  # a refund that reached the ledger while this job ran
    return (f"{item.id}: {item.amount} Stars refunded to {receiver.user.id} had no refund in the ledger; "
            f"took back {-reversal.amount} credits")
