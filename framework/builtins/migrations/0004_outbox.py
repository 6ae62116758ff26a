"""The outbox: replies of committed updates and jobs until they are sent.

Frozen copy of ``framework.models.OutboxMessage``.
"""
from peewee import *

from framework.db import UtcDateTimeField


def up(migrator, db):
    class OutboxMessage(Model):
        instance = CharField(max_length=255, index=True)
        created_at = UtcDateTimeField()
        calls = TextField()
        class Meta:
            database = db
            table_name = 'outbox'
    db.create_tables([OutboxMessage])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('outbox'))
