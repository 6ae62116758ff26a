"""Create ticker_runs."""
import peewee

from framework.db import UtcDateTimeField


def up(migrator, db):
    class TickerRun(peewee.Model):
        scheduled_for = UtcDateTimeField()
        pid = peewee.IntegerField()

        class Meta:
            database = db
            table_name = 'ticker_runs'
    db.create_tables([TickerRun])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('ticker_runs'))
