"""Expenses plugin: the seed's SQL defaults, in the database itself.

0001 gave the columns Python-side defaults only, so a row written by another tool or
by hand (``INSERT INTO expenses (user_id, amount) VALUES (...)``) failed on NOT NULL.
Here every column the seed gives a default gets it in SQL: ``currency 'USD'``,
``source 'manual'``, ``is_deleted FALSE``, ``expense_date CURRENT_DATE``, timestamps
``now()``, and the settings' and categories' flags.

PostgreSQL changes a default in place. SQLite cannot, so each table is rebuilt
(peewee's migrator: copy into a new table, drop, rename) with foreign keys off
meanwhile, as SQLite's documented procedure asks: with them on, dropping the old
``expenses`` would null ``recurring_runs.expense``. ``PRAGMA foreign_keys`` cannot
change inside a transaction, so this migration runs outside the runner's and opens
its own for the rebuilds.
"""
from peewee import PostgresqlDatabase

atomic = False

NOW = "CURRENT_TIMESTAMP"
DEFAULTS = {
    "expenses": {"currency": "'USD'", "source": "'manual'", "is_deleted": "FALSE",
                 "expense_date": "CURRENT_DATE", "created_at": NOW, "updated_at": NOW},
    "categories": {"is_system": "FALSE", "is_active": "TRUE", "sort_order": "0", "created_at": NOW},
    "expense_settings": {"budget_alert_threshold": "80", "date_format": "'YYYY-MM-DD'", "number_format": "'en-US'",
                         "nlp_enabled": "TRUE", "auto_categorize": "TRUE", "currency": "'USD'",
                         "timezone": "'UTC'", "week_start": "1", "budget_alert_level": "0",
                         "created_at": NOW, "updated_at": NOW},
    "recurring_expenses": {"active": "TRUE", "created_at": NOW, "updated_at": NOW},
}


def up(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        with db.atomic():
            for table, columns in DEFAULTS.items():
                for column, default in columns.items():
                    db.execute_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET DEFAULT {default}')
        return
    db.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        with db.atomic():
            for table, columns in DEFAULTS.items():
                # Parenthesised, so peewee writes the expression as it is instead of quoting it.
                migrator.migrate(*[migrator.add_column_default(table, column, f"({default})")
                                   for column, default in columns.items()])
            broken = db.execute_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"foreign keys broken by the rebuild: {broken[:5]}")
    finally:
        db.execute_sql("PRAGMA foreign_keys = ON")


def down(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        with db.atomic():
            for table, columns in DEFAULTS.items():
                for column in columns:
                    db.execute_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" DROP DEFAULT')
        return
    db.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        with db.atomic():
            for table, columns in DEFAULTS.items():
                migrator.migrate(*[migrator.drop_column_default(table, column) for column in columns])
    finally:
        db.execute_sql("PRAGMA foreign_keys = ON")
