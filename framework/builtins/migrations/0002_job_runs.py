"""Job run statistics: last run, duration, outcome and counts per scheduled job.

Frozen copy of ``framework.models.JobRun``. Kept in the database because
``plugbot plugins`` runs in a process of its own and a restarted bot should
still know when each job last ran.
"""
from peewee import *

from framework.db import UtcDateTimeField


def up(migrator, db):
    class JobRun(Model):
        job_id = CharField(max_length=200, primary_key=True)
        runs = IntegerField(default=0)
        failures = IntegerField(default=0)
        missed = IntegerField(default=0)
        last_run_at = UtcDateTimeField(null=True)
        last_duration_s = DoubleField(null=True)
        last_outcome = CharField(max_length=10, null=True)
        last_error = TextField(null=True)
        updated_at = UtcDateTimeField()
        class Meta:
            database = db
            table_name = 'job_runs'
    db.create_tables([JobRun])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('job_runs'))
