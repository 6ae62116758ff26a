"""Job ticks: one row per scheduled run of a job, claimed by the process that runs it.

Frozen copy of ``framework.models.JobTick``. Every process of a deployment runs a scheduler
and only the leader runs jobs; during a hand-over two processes may both believe they lead
for a moment, and the primary key (job id, scheduled fire time) lets only one of them run
the tick. Old rows are pruned by the scheduler.
"""
from peewee import *

from framework.db import UtcDateTimeField


def up(migrator, db):
    class JobTick(Model):
        job_id = CharField(max_length=200)
        fire_time = UtcDateTimeField()
        holder = CharField(max_length=200)
        claimed_at = UtcDateTimeField()
        class Meta:
            database = db
            table_name = 'job_ticks'
            primary_key = CompositeKey('job_id', 'fire_time')
    db.create_tables([JobTick])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('job_ticks'))
