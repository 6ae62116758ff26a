"""The user's data: /mydata exports it, /deleteme deletes readings and anonymises the ledger."""
from __future__ import annotations

from typing import Any

import peewee

from framework import User

from . import ledger, wallet
from .models import Credits, DailyCard, Reading, Subscription, Transaction, UserSession


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export(user: User) -> dict[str, Any] | None:
    account = Credits.get_or_none(Credits.user == user.id)
    transactions = list(Transaction.select().where(Transaction.user == user.id).order_by(Transaction.id))
    readings = list(Reading.select().where(Reading.user == user.id).order_by(Reading.id))
    subscriptions = list(Subscription.select().where(Subscription.user == user.id).order_by(Subscription.id))
    if account is None and not transactions and not readings and not subscriptions:
        return None
    return {
        "credits": account.balance if account is not None else 0,
        "transactions": [{"id": t.id, "type": t.type, "amount": t.amount, "credits_before": t.credits_before,
                          "credits_after": t.credits_after, "status": t.status, "payment_reference": t.payment_reference,
                          "refund_reference": t.refund_reference, "created_at": _time(t.created_at),
                          "completed_at": _time(t.completed_at)} for t in transactions],
        "readings": [{"id": r.id, "spread_type": r.spread_type, "question": r.question, "cards": r.cards,
                      "interpretation": r.interpretation, "status": r.status,
                      "questionnaire_responses": r.questionnaire_responses, "created_at": _time(r.created_at)}
                     for r in readings],
        "subscriptions": [{"tier": s.tier, "status": s.status, "started_at": _time(s.started_at),
                           "expires_at": _time(s.expires_at)} for s in subscriptions],
    }


def delete(user: User, cache: Any) -> None:
    """Readings, sessions, daily cards and subscriptions go; the ledger stays, without the user."""
    reading_ids = [r.id for r in Reading.select(Reading.id).where(Reading.user == user.id)]
    for reading_id in reading_ids:
        cache.delete(f"reading:{user.id}:{reading_id}")
    wallet.forget(cache, user)
    Reading.delete().where(Reading.user == user.id).execute()
    UserSession.delete().where(UserSession.user == user.id).execute()
    DailyCard.delete().where(DailyCard.user == user.id).execute()
    Subscription.delete().where(Subscription.user == user.id).execute()
    ledger.anonymise(user)


def counters() -> dict[str, int]:
    return {"tarot_readings": Reading.select().where(Reading.status == "completed").count(),
            "tarot_credits_outstanding": int(Credits.select(peewee.fn.SUM(Credits.balance)).scalar() or 0)}
