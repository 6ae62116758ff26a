"""A job that talks to users at a local time: good morning at ``morning_hour`` in each user's timezone."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from framework import JobContext, User

from .models import Greeting


def _local(now: dt.datetime, tz_name: str) -> dt.datetime:
    try:
        return now.astimezone(ZoneInfo(tz_name))
    except (ZoneInfoNotFoundError, ValueError):
        return now


def morning_greetings(job: JobContext) -> None:
    """Runs every 15 minutes; greets each opted-in user once, in the quarter after their morning hour."""
    now = job.now()
    hour = job.settings["morning_hour"]
    rows = Greeting.select(Greeting, User).join(User).where(Greeting.morning == True)  # noqa: E712
    for row in rows:
        local = _local(now, row.user.timezone or "UTC")
        if local.hour != hour or local.minute >= 15 or row.last_morning == local.date():
            continue
        row.last_morning = local.date()
        row.save()
        name = row.nickname or row.user.first_name or "friend"
        job.notify(row.user, "good_morning", name=name)  # in the language the user chose with /language
