"""incoming_updates: every update received and not processed yet (framework.update_queue).

Frozen copy of ``framework.models.IncomingUpdate``. A row is written before the update is
acknowledged to Telegram (getUpdates offset, webhook 200) and deleted in the transaction of
the update's effects, so the table only holds the backlog. The (chat_key, update_id) index
serves the workers' "oldest pending update of each chat" query.
"""
from peewee import *

from framework.db import UtcDateTimeField


def up(migrator, db):
    class IncomingUpdate(Model):
        update_id = BigIntegerField(primary_key=True)
        chat_key = BigIntegerField()
        payload = TextField()
        received_at = UtcDateTimeField()
        attempts = IntegerField(default=0)
        fast = BooleanField(default=False)
        class Meta:
            database = db
            table_name = 'incoming_updates'
            indexes = ((('chat_key', 'update_id'), False),)
    db.create_tables([IncomingUpdate])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('incoming_updates'))
