"""The nightly summaries and the retention job."""
from __future__ import annotations

import datetime as dt

from framework import JobContext

from . import summaries
from .repositories import ChatRepository, MessageRepository, OptOutRepository, SummaryRepository


def nightly(job: JobContext) -> None:
    """For every active chat that talked in the last day: its daily summary, then the 7-day and
    30-day ones built from the dailies."""
    end = job.now().replace(minute=0, second=0, microsecond=0)
    repo = SummaryRepository()
    for chat in ChatRepository().active_with_messages_since(end - summaries.DAY):
        latest = repo.get_latest(chat.id, "daily")
        if latest is not None and latest.period_end >= end:
            continue  # already written (a rerun of tonight's job)
        opted_out = set(OptOutRepository().users_of(chat.id))
        if summaries.daily(job.settings, job.llm, chat.id, end, opted_out) is None:
            continue
        for span in ("7day", "30day"):
            summaries.rollup(job.settings, job.llm, chat.id, span, end)


def retention(job: JobContext) -> None:
    """Hard-delete stored messages older than ``retention_days``."""
    cutoff = job.now() - dt.timedelta(days=int(job.settings["retention_days"]))
    removed = MessageRepository().delete_older_than(cutoff)
    if removed:
        job.audit("chatmemory.retention", details={"deleted": removed, "before": cutoff.isoformat()})
