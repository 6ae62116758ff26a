"""Expenses plugin: ``expenses.archived``, set by the retention archive (a user inactive for 180 days)
and cleared when the user comes back. ``NOT NULL DEFAULT FALSE`` lets SQLite add it in place."""


def up(migrator, db):
    db.execute_sql("ALTER TABLE expenses ADD COLUMN archived BOOLEAN NOT NULL DEFAULT FALSE")


def down(migrator, db):
    db.execute_sql("ALTER TABLE expenses DROP COLUMN archived")  # in place on both (SQLite 3.35+)
