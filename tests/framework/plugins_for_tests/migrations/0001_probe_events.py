"""Create probe_events."""
import peewee

from framework.db import UtcDateTimeField


def up(migrator, db):
    class ProbeEvent(peewee.Model):
        kind = peewee.CharField(max_length=50)
        telegram_id = peewee.BigIntegerField(null=True)
        note = peewee.TextField(null=True)
        created_at = UtcDateTimeField()

        class Meta:
            database = db
            table_name = 'probe_events'
    db.create_tables([ProbeEvent])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('probe_events'))
