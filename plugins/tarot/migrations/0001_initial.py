"""Tarot plugin, initial schema: credits, transactions, readings, subscriptions, user sessions,
welcome grants and daily cards, with the CHECKs and the (partial) indexes of seeds 001/002.

Frozen on purpose: the models below are copies of ``plugins/tarot/models.py`` as of this
migration and must never import it. ``users`` belongs to the core and is only referenced.
"""
from peewee import *

from framework.db import JSONField, UtcDateTimeField

TYPES = "('purchase', 'reading', 'refund', 'bonus', 'subscription')"
STATUSES = "('pending', 'completed', 'failed', 'refunded')"
SPREADS = ("('single', 'three', 'celtic', 'relationship', 'career', 'week_ahead', 'monthly_guidance', "
           "'yearly_path', 'life_path')")


def up(migrator, db) -> None:
    class User(Model):
        class Meta:
            database = db
            table_name = "users"

    class Credits(Model):
        user = ForeignKeyField(User, null=True, unique=True, on_delete="SET NULL")
        balance = IntegerField(default=0, constraints=[Check("balance >= 0")])
        version = IntegerField(default=1)
        created_at = UtcDateTimeField()
        last_updated_at = UtcDateTimeField()

        class Meta:
            database = db
            table_name = "tarot_credits"

    class Transaction(Model):
        account = ForeignKeyField(Credits, on_delete="RESTRICT")
        user = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)
        type = CharField(max_length=20, constraints=[Check(f"type IN {TYPES}")])
        amount = IntegerField()
        credits_before = IntegerField()
        credits_after = IntegerField()
        status = CharField(max_length=20, default="pending", constraints=[Check(f"status IN {STATUSES}")])
        payment_provider = CharField(max_length=50, null=True)
        payment_reference = CharField(max_length=255, null=True, unique=True)
        refund_reference = CharField(max_length=255, null=True)
        error_message = TextField(null=True)
        metadata = JSONField(null=True)
        created_at = UtcDateTimeField(index=True)
        updated_at = UtcDateTimeField()
        completed_at = UtcDateTimeField(null=True)

        class Meta:
            database = db
            table_name = "tarot_transactions"
            indexes = ((("user", "type", "created_at"), False), (("account", "id"), False))
            constraints = [SQL("CHECK (status NOT IN ('completed', 'refunded') "
                               "OR credits_after = credits_before + amount)")]

    Transaction.add_index(Transaction.index(Transaction.created_at, name="tarot_transactions_pending")
                          .where(SQL("status = 'pending'")))

    class Reading(Model):
        user = ForeignKeyField(User, on_delete="CASCADE", index=False)
        spread_type = CharField(max_length=50, index=True, constraints=[Check(f"spread_type IN {SPREADS}")])
        question = TextField(null=True)
        cards = JSONField()
        interpretation = TextField(default="")
        status = CharField(max_length=20, default="in_progress",
                           constraints=[Check("status IN ('in_progress', 'completed', 'error', 'interrupted')")])
        questionnaire_responses = JSONField(null=True)
        duration_seconds = IntegerField(null=True)
        error_message = TextField(null=True)
        transaction = ForeignKeyField(Transaction, null=True, on_delete="SET NULL")
        created_at = UtcDateTimeField(index=True)
        completed_at = UtcDateTimeField(null=True)

        class Meta:
            database = db
            table_name = "tarot_readings"
            indexes = ((("user", "created_at"), False),)

    class Subscription(Model):
        user = ForeignKeyField(User, on_delete="CASCADE")
        tier = CharField(max_length=20, constraints=[Check("tier IN ('basic', 'premium', 'professional')")])
        status = CharField(max_length=20, default="active",
                           constraints=[Check("status IN ('active', 'cancelled', 'expired')")])
        started_at = UtcDateTimeField()
        expires_at = UtcDateTimeField()
        charge_id = CharField(max_length=255, null=True)
        reminded_at = UtcDateTimeField(null=True)
        cancelled_at = UtcDateTimeField(null=True)

        class Meta:
            database = db
            table_name = "tarot_subscriptions"

    Subscription.add_index(Subscription.index(Subscription.expires_at, name="tarot_subscriptions_active")
                           .where(SQL("status = 'active'")))

    class UserSession(Model):
        user = ForeignKeyField(User, on_delete="CASCADE")
        session_type = CharField(max_length=50)
        status = CharField(max_length=20, default="active",
                           constraints=[Check("status IN ('active', 'completed', 'expired', 'error')")])
        started_at = UtcDateTimeField()
        last_activity_at = UtcDateTimeField()
        completed_at = UtcDateTimeField(null=True)
        data = JSONField(null=True)

        class Meta:
            database = db
            table_name = "tarot_user_sessions"
            indexes = ((("status", "last_activity_at"), False),)

    class WelcomeGrant(Model):
        subject = CharField(max_length=64, unique=True)
        granted_at = UtcDateTimeField()

        class Meta:
            database = db
            table_name = "tarot_welcome_grants"

    class DailyCard(Model):
        user = ForeignKeyField(User, on_delete="CASCADE")
        day = DateField()
        card = CharField(max_length=40)
        reversed = BooleanField(default=False)
        created_at = UtcDateTimeField()

        class Meta:
            database = db
            table_name = "tarot_daily_cards"
            indexes = ((("user", "day"), True),)

    db.create_tables([Credits, Transaction, Reading, Subscription, UserSession, WelcomeGrant, DailyCard])


def down(migrator, db) -> None:
    for table in ("tarot_daily_cards", "tarot_welcome_grants", "tarot_user_sessions", "tarot_subscriptions",
                  "tarot_readings", "tarot_transactions", "tarot_credits"):
        db.execute_sql(f"DROP TABLE IF EXISTS {table}")
