"""Test plugin ``ticker``: a job every second that writes one row per run, naming the tick it ran
(``job.scheduled_for``) and the process that ran it, in the job's own transaction.

With several processes on one database, the rows show which ticks ran, how often, and where.
"""
from __future__ import annotations

import os
from typing import Any

import peewee

from framework import BaseModel, JobContext, PluginInfo, UtcDateTimeField, connection_scope, hookimpl

HERE = os.path.dirname(os.path.abspath(__file__))


class TickerRun(BaseModel):
    scheduled_for = UtcDateTimeField()  # no unique key: a tick run twice must show as two rows
    pid = peewee.IntegerField()

    class Meta:
        table_name = "ticker_runs"


def runs() -> list[TickerRun]:
    """Every run so far, oldest tick first (read in a connection of its own)."""
    with connection_scope():
        return list(TickerRun.select().order_by(TickerRun.scheduled_for, TickerRun.id))


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="ticker", version="0.1.0", description="one row per job run")


@hookimpl
def plugbot_register_models(register: Any) -> None:
    register(TickerRun)


@hookimpl
def plugbot_register_migrations(register: Any) -> None:
    register(os.path.join(HERE, "ticker_migrations"))


@hookimpl
def plugbot_register_jobs(register: Any) -> None:
    register("beat", beat, trigger="interval", seconds=1)


def beat(job: JobContext) -> None:
    if job.scheduled_for is not None:  # a run by hand is no tick
        TickerRun.create(scheduled_for=job.scheduled_for, pid=os.getpid())
