"""Built-in plugin ``maintenance``: housekeeping jobs of the core tables."""
from __future__ import annotations

import datetime as dt
from typing import Any

from ..context import JobContext
from ..models import ProcessedUpdate, RateLimit
from ..plugins import PluginInfo, hookimpl

PROCESSED_UPDATES_KEEP = dt.timedelta(days=7)


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="maintenance", version="1.0.0", description="housekeeping jobs")


@hookimpl
def plugbot_register_jobs(register: Any) -> None:
    register("audit_retention", audit_retention, trigger="cron", hour=3, minute=15)
    register("prune_updates", prune_updates, trigger="interval", hours=1)
    register("prune_llm_cache", prune_llm_cache, trigger="interval", hours=1)
    register("prune_rate_limits", prune_rate_limits, trigger="interval", hours=1)
    register("resend_outbox", resend_outbox, trigger="interval", minutes=1)
    register("lift_expired_bans", lift_expired_bans, trigger="interval", minutes=5)


def audit_retention(job: JobContext) -> None:
    """Delete audit rows older than ``audit.retention_days`` (365 by default)."""
    job.app.audit.prune(job.app.config["audit"]["retention_days"])


def prune_updates(job: JobContext) -> None:
    """Telegram redelivers for at most a day; a week of update ids is plenty for the exactly-once guard."""
    ProcessedUpdate.delete().where(ProcessedUpdate.processed_at < job.now() - PROCESSED_UPDATES_KEEP).execute()


def prune_llm_cache(job: JobContext) -> None:
    """Expired answers are never served (the lookup checks ``expires_at``); this only reclaims the rows."""
    job.llm.prune_cache(now=job.now())


def prune_rate_limits(job: JobContext) -> None:
    """DB rate-limit windows older than a day can no longer limit anything."""
    RateLimit.delete().where(RateLimit.window_start < job.now() - dt.timedelta(days=1)).execute()


def resend_outbox(job: JobContext) -> None:
    """Send the replies of a process that died after committing them (another machine's, say):
    the start of a process only finds those of processes already gone by then."""
    job.app.outbox.recover()


def lift_expired_bans(job: JobContext) -> None:
    """``users.status`` of users whose ban ran out goes back to ``active``, so a broadcast or a job
    selecting active users reaches them even before they write again."""
    for telegram_id in job.app.access.lift_expired_bans():
        job.app.users.invalidate(telegram_id)
