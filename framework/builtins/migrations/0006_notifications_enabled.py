"""users.notifications_enabled (seed 000): a user can mute what the bot sends on its own.

Jobs' messages (``job.notify``: budget alerts, recurring notices, inactivity reminders,
broadcasts) are skipped for a user who muted them; answers to the user's own messages are
not notifications. ``DEFAULT TRUE`` in SQL too, so rows written by other tools are valid.
"""
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column(
        'users', 'notifications_enabled',
        BooleanField(default=True, constraints=[SQL('DEFAULT TRUE')])))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('users', 'notifications_enabled'))
