"""Expenses plugin, initial schema: categories (with the 7 system ones), expenses,
settings, exchange rates, recurring expenses and their runs, learned category words.

Frozen on purpose: the models below are copies of ``plugins/expenses/models.py``
as of this migration and must never import it, so that later model changes
cannot rewrite history. ``users`` belongs to the core and is only referenced.
"""
import datetime

from peewee import *

UTC = datetime.UTC

SYSTEM_CATEGORIES = (
    ("Food", "🍔", "#F4A261", 1),
    ("Transport", "🚗", "#2A9D8F", 2),
    ("Entertainment", "🎬", "#E76F51", 3),
    ("Bills", "🏠", "#264653", 4),
    ("Shopping", "🛍️", "#E9C46A", 5),
    ("Health", "⚕️", "#8AB17D", 6),
    ("Other", "📌", "#8D99AE", 7),
)


class TimestampTZField(DateTimeField):
    """Frozen copy of the core's UTC timestamp: TIMESTAMPTZ on PostgreSQL, naive UTC text on SQLite."""

    field_type = "TIMESTAMPTZ"

    def db_value(self, value: object) -> object:
        if isinstance(value, datetime.datetime):
            value = value.astimezone(UTC)
            if not isinstance(self.model._meta.database, PostgresqlDatabase):
                return value.replace(tzinfo=None).isoformat(" ")
        return value


def now() -> datetime.datetime:
    return datetime.datetime.now(UTC)


def up(migrator, db) -> None:
    class User(Model):
        class Meta:
            database = db
            table_name = "users"

    class Category(Model):
        name = CharField(max_length=100)
        emoji = CharField(max_length=10, null=True)
        color = CharField(max_length=7, null=True)
        is_system = BooleanField(default=False)
        user = ForeignKeyField(User, null=True, on_delete="CASCADE")
        is_active = BooleanField(default=True)
        sort_order = IntegerField(default=0)
        created_at = TimestampTZField(default=now)

        class Meta:
            database = db
            table_name = "categories"
            indexes = ((("user", "name"), True), (("user", "is_active"), False))
            constraints = [SQL("CHECK (is_system = TRUE OR user_id IS NOT NULL)")]

    # UNIQUE (user_id, name) lets NULLs repeat, so system names get their own partial index.
    Category.add_index(Category.index(Category.name, unique=True, name="categories_system_name")
                       .where(Category.user.is_null()))

    class Expense(Model):
        user = ForeignKeyField(User, on_delete="CASCADE", index=False)
        amount = DecimalField(max_digits=12, decimal_places=2, auto_round=False, constraints=[Check("amount > 0")])
        currency = CharField(max_length=3, default="USD")
        category = ForeignKeyField(Category, null=True, on_delete="SET NULL")
        note = TextField(null=True)
        source = CharField(max_length=20, default="manual",
                           constraints=[Check("source IN ('manual', 'nlp', 'recurring')")])
        is_deleted = BooleanField(default=False)
        deleted_at = TimestampTZField(null=True)
        expense_date = DateField()
        created_at = TimestampTZField(default=now, index=True)
        updated_at = TimestampTZField(default=now)

        class Meta:
            database = db
            table_name = "expenses"
            indexes = ((("user", "expense_date"), False),)

    class ExpenseSettings(Model):
        user = ForeignKeyField(User, unique=True, on_delete="CASCADE")
        monthly_budget = DecimalField(max_digits=12, decimal_places=2, auto_round=False, null=True,
                                      constraints=[Check("monthly_budget IS NULL OR monthly_budget > 0")])
        budget_alert_threshold = IntegerField(default=80, constraints=[Check("budget_alert_threshold BETWEEN 1 AND 100")])
        date_format = CharField(max_length=20, default="YYYY-MM-DD")
        number_format = CharField(max_length=20, default="en-US")
        nlp_enabled = BooleanField(default=True)
        auto_categorize = BooleanField(default=True)
        currency = CharField(max_length=3, default="USD")
        timezone = CharField(max_length=50, default="UTC")
        week_start = SmallIntegerField(default=1, constraints=[Check("week_start IN (0, 1)")])
        budget_alert_month = CharField(max_length=7, null=True)
        budget_alert_level = SmallIntegerField(default=0)
        created_at = TimestampTZField(default=now)
        updated_at = TimestampTZField(default=now)

        class Meta:
            database = db
            table_name = "expense_settings"

    class ExchangeRate(Model):
        user = ForeignKeyField(User, on_delete="CASCADE", index=False)
        base = CharField(max_length=3)
        quote = CharField(max_length=3)
        rate = DecimalField(max_digits=14, decimal_places=4, auto_round=False, constraints=[Check("rate > 0")])
        set_at = TimestampTZField(default=now)

        class Meta:
            database = db
            table_name = "exchange_rates"
            indexes = ((("user", "base", "quote"), True),)

    class RecurringExpense(Model):
        user = ForeignKeyField(User, on_delete="CASCADE")
        amount = DecimalField(max_digits=12, decimal_places=2, auto_round=False, constraints=[Check("amount > 0")])
        currency = CharField(max_length=3)
        category = ForeignKeyField(Category, null=True, on_delete="SET NULL")
        note = TextField(null=True)
        schedule_kind = CharField(max_length=10,
                                  constraints=[Check("schedule_kind IN ('monthly', 'weekly', 'daily')")])
        schedule_day = SmallIntegerField(null=True)
        next_run = DateField()
        last_run = DateField(null=True)
        active = BooleanField(default=True)
        created_at = TimestampTZField(default=now)
        updated_at = TimestampTZField(default=now)

        class Meta:
            database = db
            table_name = "recurring_expenses"
            indexes = ((("active", "next_run"), False),)

    class RecurringRun(Model):
        recurring = ForeignKeyField(RecurringExpense, on_delete="CASCADE", index=False)
        due_date = DateField()
        expense = ForeignKeyField(Expense, null=True, on_delete="SET NULL")
        created_at = TimestampTZField(default=now)

        class Meta:
            database = db
            table_name = "recurring_runs"
            indexes = ((("recurring", "due_date"), True),)

    class CategoryMemory(Model):
        user = ForeignKeyField(User, on_delete="CASCADE", index=False)
        word = CharField(max_length=64)
        category = ForeignKeyField(Category, on_delete="CASCADE")
        updated_at = TimestampTZField(default=now)

        class Meta:
            database = db
            table_name = "category_memory"
            indexes = ((("user", "word"), True),)

    db.create_tables([Category, Expense, ExpenseSettings, ExchangeRate, RecurringExpense, RecurringRun,
                      CategoryMemory])

    # Idempotent seed: safe to re-run after a partial failure or on a copied database.
    for name, emoji, color, order in SYSTEM_CATEGORIES:
        exists = Category.select().where(Category.name == name, Category.user.is_null()).exists()
        if not exists:
            Category.create(name=name, emoji=emoji, color=color, is_system=True, user=None, sort_order=order)


def down(migrator, db) -> None:
    for table in ("category_memory", "recurring_runs", "recurring_expenses", "exchange_rates",
                  "expense_settings", "expenses", "categories"):
        migrator.migrate(migrator.drop_table(table))
