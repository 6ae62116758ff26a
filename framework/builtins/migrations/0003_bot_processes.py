"""Bot processes: each running bot's heartbeat and progress.

Frozen copy of ``framework.models.BotProcess``. Kept in the database because
``plugbot health``, ``plugins``, ``restore`` and ``migrate --down`` run in
processes of their own and must know whether a bot is running.
"""
from peewee import *

from framework.db import UtcDateTimeField


def up(migrator, db):
    class BotProcess(Model):
        instance = CharField(max_length=255, primary_key=True)
        host = CharField(max_length=255)
        pid = IntegerField()
        mode = CharField(max_length=20)
        started_at = UtcDateTimeField()
        heartbeat_at = UtcDateTimeField()
        polled_at = UtcDateTimeField(null=True)
        poll_error = TextField(null=True)
        in_hand = IntegerField(default=0)
        stopped_at = UtcDateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'bot_processes'
    db.create_tables([BotProcess])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('bot_processes'))
