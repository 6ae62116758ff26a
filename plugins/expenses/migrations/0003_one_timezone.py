"""Expenses plugin: one timezone per user, the core's ``users.timezone``.

The plugin kept its own copy in ``expense_settings.timezone``, so an admin's change
through ``users.change_settings`` never reached /stats or the recurring job. A timezone
a user chose here moves to ``users`` where the core still has its default; the old
column stays unused (dropping it on SQLite means rebuilding the table for nothing).
"""


def up(migrator, db):
    db.execute_sql(
        "UPDATE users SET timezone = (SELECT s.timezone FROM expense_settings s WHERE s.user_id = users.id) "
        "WHERE timezone = 'UTC' AND EXISTS (SELECT 1 FROM expense_settings s "
        "WHERE s.user_id = users.id AND s.timezone <> 'UTC')")


def down(migrator, db):
    db.execute_sql("UPDATE expense_settings SET timezone = "
                   "(SELECT u.timezone FROM users u WHERE u.id = expense_settings.user_id)")
