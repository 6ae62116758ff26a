"""A user's credits as the handlers see them: the cached balance (5 minutes, seed 001), dropped on
every change once it committed; the subscription tier; the welcome bonus, once per person ever."""
from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from framework import User

from . import ledger
from .models import Subscription, WelcomeGrant

BALANCE_TTL = 300


def _key(user: User) -> str:
    return f"balance:{user.id}"


def balance(ctx: Any) -> int:
    """The user's balance, from the cache when it is there."""
    return int(ctx.cache.get_or_set(_key(ctx.user), lambda: ledger.balance_of(ctx.user), ttl=BALANCE_TTL))


def changed(ctx: Any, user: User | None = None) -> None:
    """The balance of ``user`` (default: the update's) changed in this transaction: drop the cached
    copy now and again after the commit, so a parallel update cannot cache the old value in between."""
    cache, key = ctx.cache, _key(user or ctx.user)
    cache.delete(key)
    ctx.after_commit(lambda: cache.delete(key))


def forget(cache: Any, user: User) -> None:
    cache.delete(_key(user))


def subscription(user: User, now: dt.datetime) -> Subscription | None:
    """The subscription in force: active, or cancelled but paid up to ``expires_at``."""
    return (Subscription.select().where((Subscription.user == user.id) & (Subscription.expires_at > now)
                                        & Subscription.status.in_(("active", "cancelled")))
            .order_by(Subscription.expires_at.desc()).first())


def tier(user: User, now: dt.datetime) -> str:
    current = subscription(user, now)
    return current.tier if current is not None else "basic"


def subject(telegram_id: int) -> str:
    """A one-way token for a Telegram id: enough to recognise a returning person, not to name them."""
    return hashlib.sha256(f"plugbot-tarot-welcome:{telegram_id}".encode()).hexdigest()


def welcome(ctx: Any) -> bool:
    """Grant the welcome bonus if this person never had it (even under an account they deleted)."""
    amount = int(ctx.settings["welcome_bonus"])
    if amount <= 0:
        return False
    inserted = (WelcomeGrant.insert(subject=subject(ctx.telegram_id), granted_at=ctx.now())
                .on_conflict_ignore().as_rowcount().execute())
    if not inserted:
        return False
    ledger.credit(ctx.user, amount, "bonus", ctx.now(), metadata={"reason": "welcome"})
    changed(ctx)
    return True
