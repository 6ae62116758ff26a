"""Tables of the tarot plugin (seeds 001/002, the stricter rule where they differ).

The schema is created by ``migrations/``; these models are the application's view of it.

The ledger is kept per *account* (a ``tarot_credits`` row), not per user: /deleteme cuts the
link from the account and its transactions to the user (``user`` becomes NULL) but keeps the
rows, so the books still balance after a user is gone. Amounts are signed: a purchase, bonus
or refund of a reading adds, a reading or a refunded purchase subtracts, and
``credits_after = credits_before + amount`` for every transaction that moved the balance.
"""
from __future__ import annotations

import peewee

from framework import BaseModel, JSONField, User, UtcDateTimeField, utcnow

TRANSACTION_TYPES = ("purchase", "reading", "refund", "bonus", "subscription")
TRANSACTION_STATUSES = ("pending", "completed", "failed", "refunded")
APPLIED = ("completed", "refunded")  # statuses of transactions that moved the balance
SPREAD_TYPES = ("single", "three", "celtic", "relationship", "career", "week_ahead", "monthly_guidance",
                "yearly_path", "life_path")
READING_STATUSES = ("in_progress", "completed", "error", "interrupted")
TIERS = ("basic", "premium", "professional")
SUBSCRIPTION_STATUSES = ("active", "cancelled", "expired")
SESSION_STATUSES = ("active", "completed", "expired", "error")


def _one_of(column: str, values: tuple[str, ...]) -> peewee.SQL:
    return peewee.Check(f"{column} IN ({', '.join(repr(v) for v in values)})")


class Credits(BaseModel):
    """One account per user: the balance, and ``version`` for compare-and-set updates."""

    user = peewee.ForeignKeyField(User, null=True, unique=True, on_delete="SET NULL", backref="+")
    balance = peewee.IntegerField(default=0, constraints=[peewee.Check("balance >= 0")])
    version = peewee.IntegerField(default=1)
    created_at = UtcDateTimeField(default=utcnow)
    last_updated_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "tarot_credits"


class Transaction(BaseModel):
    """One movement of credits (or a failed or pending attempt that moved nothing)."""

    account = peewee.ForeignKeyField(Credits, on_delete="RESTRICT", backref="+")
    user = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+", index=False)
    type = peewee.CharField(max_length=20, constraints=[_one_of("type", TRANSACTION_TYPES)])
    amount = peewee.IntegerField()
    credits_before = peewee.IntegerField()
    credits_after = peewee.IntegerField()
    status = peewee.CharField(max_length=20, default="pending", constraints=[_one_of("status", TRANSACTION_STATUSES)])
    payment_provider = peewee.CharField(max_length=50, null=True)
    payment_reference = peewee.CharField(max_length=255, null=True, unique=True)
    refund_reference = peewee.CharField(max_length=255, null=True)
    error_message = peewee.TextField(null=True)
    metadata = JSONField(null=True)
    created_at = UtcDateTimeField(default=utcnow, index=True)
    updated_at = UtcDateTimeField(default=utcnow)
    completed_at = UtcDateTimeField(null=True)

    class Meta:
        table_name = "tarot_transactions"
        indexes = ((("user", "type", "created_at"), False), (("account", "id"), False))
        constraints = [peewee.SQL("CHECK (status NOT IN ('completed', 'refunded') "
                                  "OR credits_after = credits_before + amount)")]


Transaction.add_index(Transaction.index(Transaction.created_at, name="tarot_transactions_pending")
                      .where(peewee.SQL("status = 'pending'")))


class Reading(BaseModel):
    """A reading: its cards, the interpretation, and what it cost (``transaction``)."""

    user = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="+", index=False)
    spread_type = peewee.CharField(max_length=50, index=True, constraints=[_one_of("spread_type", SPREAD_TYPES)])
    question = peewee.TextField(null=True)
    cards = JSONField(default=list)
    interpretation = peewee.TextField(default="")
    status = peewee.CharField(max_length=20, default="in_progress", constraints=[_one_of("status", READING_STATUSES)])
    questionnaire_responses = JSONField(null=True)
    duration_seconds = peewee.IntegerField(null=True)
    error_message = peewee.TextField(null=True)
    transaction = peewee.ForeignKeyField(Transaction, null=True, on_delete="SET NULL", backref="+")
    created_at = UtcDateTimeField(default=utcnow, index=True)
    completed_at = UtcDateTimeField(null=True)

    class Meta:
        table_name = "tarot_readings"
        indexes = ((("user", "created_at"), False),)


class Subscription(BaseModel):
    """A Telegram Stars subscription: renewed every 30 days by Telegram until cancelled."""

    user = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="+")
    tier = peewee.CharField(max_length=20, constraints=[_one_of("tier", TIERS)])
    status = peewee.CharField(max_length=20, default="active", constraints=[_one_of("status", SUBSCRIPTION_STATUSES)])
    started_at = UtcDateTimeField(default=utcnow)
    expires_at = UtcDateTimeField()
    charge_id = peewee.CharField(max_length=255, null=True)  # the first payment's telegram_payment_charge_id
    reminded_at = UtcDateTimeField(null=True)
    cancelled_at = UtcDateTimeField(null=True)

    class Meta:
        table_name = "tarot_subscriptions"


Subscription.add_index(Subscription.index(Subscription.expires_at, name="tarot_subscriptions_active")
                       .where(peewee.SQL("status = 'active'")))


class UserSession(BaseModel):
    """Seed 002 ``user_sessions``: a durable log of each reading conversation."""

    user = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="+")
    session_type = peewee.CharField(max_length=50)
    status = peewee.CharField(max_length=20, default="active", constraints=[_one_of("status", SESSION_STATUSES)])
    started_at = UtcDateTimeField(default=utcnow)
    last_activity_at = UtcDateTimeField(default=utcnow)
    completed_at = UtcDateTimeField(null=True)
    data = JSONField(null=True)

    class Meta:
        table_name = "tarot_user_sessions"
        indexes = ((("status", "last_activity_at"), False),)


class WelcomeGrant(BaseModel):
    """Who received the welcome bonus, as a one-way hash of the Telegram id: kept after /deleteme so
    the bonus is granted once per person ever, without keeping who they are."""

    subject = peewee.CharField(max_length=64, unique=True)
    granted_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "tarot_welcome_grants"


class DailyCard(BaseModel):
    """The free card of the day: one per user per local day."""

    user = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="+")
    day = peewee.DateField()
    card = peewee.CharField(max_length=40)
    reversed = peewee.BooleanField(default=False)
    created_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "tarot_daily_cards"
        indexes = ((("user", "day"), True),)


MODELS = (Credits, Transaction, Reading, Subscription, UserSession, WelcomeGrant, DailyCard)
