"""Create admin_broadcasts, admin_broadcast_recipients and admin_bot_blocked.

Frozen copies of ``plugins/admin/broadcast_models.py`` as of this migration.
"""
from peewee import *

from framework.db import UtcDateTimeField


def up(migrator, db):
    class User(Model):  # frozen stub of the core table, for the foreign keys only
        class Meta:
            database = db
            table_name = 'users'

    class Broadcast(Model):
        author = ForeignKeyField(User, null=True, on_delete='SET NULL')
        text = TextField()
        lang = CharField(max_length=10)
        status = CharField(max_length=20, default='draft', index=True)
        chat_id = BigIntegerField(null=True)
        message_id = BigIntegerField(null=True)
        total = IntegerField(default=0)
        pauses = IntegerField(default=0)
        worker = CharField(max_length=64, null=True)
        lease_until = UtcDateTimeField(null=True)
        created_at = UtcDateTimeField()
        started_at = UtcDateTimeField(null=True)
        finished_at = UtcDateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'admin_broadcasts'

    class BroadcastRecipient(Model):
        broadcast = ForeignKeyField(Broadcast, on_delete='CASCADE')
        user = ForeignKeyField(User, on_delete='CASCADE')
        telegram_id = BigIntegerField()
        status = CharField(max_length=20, default='pending')
        error = CharField(max_length=200, null=True)
        sent_at = UtcDateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'admin_broadcast_recipients'
            indexes = ((('broadcast', 'user'), True), (('broadcast', 'status'), False))

    class BotBlocked(Model):
        user = ForeignKeyField(User, unique=True, on_delete='CASCADE')
        blocked_at = UtcDateTimeField()
        class Meta:
            database = db
            table_name = 'admin_bot_blocked'

    db.create_tables([Broadcast, BroadcastRecipient, BotBlocked])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('admin_bot_blocked'))
    migrator.migrate(migrator.drop_table('admin_broadcast_recipients'))
    migrator.migrate(migrator.drop_table('admin_broadcasts'))
