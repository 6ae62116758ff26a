"""Tables of the expenses plugin: ``categories``, ``expenses``, ``user_settings`` and exchange rates.

The schema itself is created by ``migrations/0001_initial.py``; these models are
the application's view of it and must be kept in step with the migrations.

``expenses.amount`` is NUMERIC(12,2), not (10,2), so the largest amount accepted (1e9) fits, and
``user_id`` cascades on delete everywhere so /deleteme leaves nothing behind.
"""
from __future__ import annotations

import peewee

from framework import BaseModel, User, UtcDateTimeField, utcnow

SOURCES = ("manual", "nlp", "recurring")
SCHEDULE_KINDS = ("monthly", "weekly", "daily")


class Category(BaseModel):
    """A system category (``user`` is NULL, ``is_system``) or one a user created."""

    name = peewee.CharField(max_length=100)
    emoji = peewee.CharField(max_length=10, null=True)
    color = peewee.CharField(max_length=7, null=True)  # "#RRGGBB"
    is_system = peewee.BooleanField(default=False)
    user = peewee.ForeignKeyField(User, null=True, on_delete="CASCADE", backref="+")
    is_active = peewee.BooleanField(default=True)
    sort_order = peewee.IntegerField(default=0)
    created_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "categories"
        indexes = ((("user", "name"), True), (("user", "is_active"), False))
        constraints = [peewee.SQL("CHECK (is_system = TRUE OR user_id IS NOT NULL)")]


# UNIQUE (user_id, name) lets NULL user ids repeat, so system names get a partial unique index.
Category.add_index(Category.index(Category.name, unique=True, name="categories_system_name")
                   .where(Category.user.is_null()))


class Expense(BaseModel):
    """One spending. Deleting is soft (``is_deleted``) so it can be undone for 24 hours."""

    user = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="+", index=False)
    amount = peewee.DecimalField(
        max_digits=12, decimal_places=2, auto_round=False, constraints=[peewee.Check("amount > 0")]
    )
    currency = peewee.CharField(max_length=3, default="USD")
    category = peewee.ForeignKeyField(Category, null=True, on_delete="SET NULL", backref="+")
    note = peewee.TextField(null=True)
    source = peewee.CharField(
        max_length=20, default="manual",
        constraints=[peewee.Check("source IN ('manual', 'nlp', 'recurring')")],
    )
    is_deleted = peewee.BooleanField(default=False)
    deleted_at = UtcDateTimeField(null=True)
    expense_date = peewee.DateField()
    created_at = UtcDateTimeField(default=utcnow, index=True)
    updated_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "expenses"
        indexes = ((("user", "expense_date"), False),)


class ExpenseSettings(BaseModel):
    """Seed 000 ``user_settings`` for this plugin (one row per user), plus currency and time."""

    user = peewee.ForeignKeyField(User, unique=True, on_delete="CASCADE", backref="+")
    monthly_budget = peewee.DecimalField(
        max_digits=12, decimal_places=2, auto_round=False, null=True,
        constraints=[peewee.Check("monthly_budget IS NULL OR monthly_budget > 0")],
    )
    budget_alert_threshold = peewee.IntegerField(
        default=80, constraints=[peewee.Check("budget_alert_threshold BETWEEN 1 AND 100")]
    )
    date_format = peewee.CharField(max_length=20, default="YYYY-MM-DD")
    number_format = peewee.CharField(max_length=20, default="en-US")
    nlp_enabled = peewee.BooleanField(default=True)
    auto_categorize = peewee.BooleanField(default=True)
    currency = peewee.CharField(max_length=3, default="USD")
    timezone = peewee.CharField(max_length=50, default="UTC")
    week_start = peewee.SmallIntegerField(default=1, constraints=[peewee.Check("week_start IN (0, 1)")])
    # Budget alerts already sent: level 1 = threshold, 2 = 100 %, for the month "YYYY-MM".
    budget_alert_month = peewee.CharField(max_length=7, null=True)
    budget_alert_level = peewee.SmallIntegerField(default=0)
    created_at = UtcDateTimeField(default=utcnow)
    updated_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "expense_settings"


class ExchangeRate(BaseModel):
    """Seed 003 ``exchange_rate``, generalised: 1 ``base`` = ``rate`` ``quote``, per user."""

    user = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="+", index=False)
    base = peewee.CharField(max_length=3)
    quote = peewee.CharField(max_length=3)
    rate = peewee.DecimalField(
        max_digits=14, decimal_places=4, auto_round=False, constraints=[peewee.Check("rate > 0")]
    )
    set_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "exchange_rates"
        indexes = ((("user", "base", "quote"), True),)


class RecurringExpense(BaseModel):
    """A schedule that creates an expense on each due date (``next_run``, in the user's timezone)."""

    user = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="+")
    amount = peewee.DecimalField(
        max_digits=12, decimal_places=2, auto_round=False, constraints=[peewee.Check("amount > 0")]
    )
    currency = peewee.CharField(max_length=3)
    category = peewee.ForeignKeyField(Category, null=True, on_delete="SET NULL", backref="+")
    note = peewee.TextField(null=True)
    schedule_kind = peewee.CharField(
        max_length=10, constraints=[peewee.Check("schedule_kind IN ('monthly', 'weekly', 'daily')")]
    )
    schedule_day = peewee.SmallIntegerField(null=True)  # 1..31 monthly, 0=Mon..6=Sun weekly
    next_run = peewee.DateField()
    last_run = peewee.DateField(null=True)
    active = peewee.BooleanField(default=True)
    created_at = UtcDateTimeField(default=utcnow)
    updated_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "recurring_expenses"
        indexes = ((("active", "next_run"), False),)


class RecurringRun(BaseModel):
    """The exactly-once guard: one row per (schedule, due date), inserted with the expense."""

    recurring = peewee.ForeignKeyField(RecurringExpense, on_delete="CASCADE", backref="+", index=False)
    due_date = peewee.DateField()
    expense = peewee.ForeignKeyField(Expense, null=True, on_delete="SET NULL", backref="+")
    created_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "recurring_runs"
        indexes = ((("recurring", "due_date"), True),)


class CategoryMemory(BaseModel):
    """A word this user filed under a category; beats the built-in keywords next time."""

    user = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="+", index=False)
    word = peewee.CharField(max_length=64)
    category = peewee.ForeignKeyField(Category, on_delete="CASCADE", backref="+")
    updated_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "category_memory"
        indexes = ((("user", "word"), True),)


MODELS = [Category, Expense, ExpenseSettings, ExchangeRate, RecurringExpense, RecurringRun, CategoryMemory]
