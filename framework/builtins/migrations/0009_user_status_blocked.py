"""users.status may be 'blocked': Telegram refused a message with 403, the user blocked the bot.

Broadcasts and jobs skip such users until they write again (then the core sets 'active').
Only the CHECK constraint changes. PostgreSQL replaces it; SQLite keeps a table's constraints in
its CREATE TABLE text, and widening a CHECK (every stored row already satisfies it) is one of the
changes SQLite documents as safe to make by editing that text (``writable_schema``) instead of
rebuilding the table every plugin's rows point at.
"""
from peewee import *

from framework.db import is_postgres

OLD = ("active", "suspended", "deleted")
NEW = OLD + ("blocked",)


def _check(statuses):
    return "CHECK (status IN ({}))".format(", ".join(f"'{s}'" for s in statuses))


def _postgres(db, statuses):
    names = [row[0] for row in db.execute_sql(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'users'::regclass AND contype = 'c' "
        "AND pg_get_constraintdef(oid) LIKE %s", ("%status%",)).fetchall()]
    for name in names:
        db.execute_sql(f'ALTER TABLE users DROP CONSTRAINT "{name}"')
    db.execute_sql(f"ALTER TABLE users ADD CONSTRAINT users_status_check {_check(statuses)}")


def _sqlite(db, old, new):
    (sql,) = db.execute_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'users'").fetchone()
    if _check(old) not in sql:
        raise RuntimeError(f"users: expected {_check(old)} in its definition, found {sql}")
    (version,) = db.execute_sql("PRAGMA schema_version").fetchone()
    db.execute_sql("PRAGMA writable_schema = ON")
    try:
        db.execute_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'users'",
                       (sql.replace(_check(old), _check(new)),))
        db.execute_sql(f"PRAGMA schema_version = {version + 1}")  # every connection re-reads the schema
    finally:
        db.execute_sql("PRAGMA writable_schema = OFF")


def _change(db, old, new):
    if is_postgres(db):
        _postgres(db, new)
    else:
        _sqlite(db, old, new)


def up(migrator, db):
    _change(db, OLD, NEW)


def down(migrator, db):
    db.execute_sql("UPDATE users SET status = 'active' WHERE status = 'blocked'")
    _change(db, NEW, OLD)
