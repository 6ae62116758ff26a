"""/botstats: users and their activity, what the bot processed, caches, LLM usage, and each
plugin's own counters (``plugbot_stats``), with new users per day as a chart."""
from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any

from framework import Context, Plugin, User

from . import stats_chart

CHART_DAYS = 14


@dataclass
class UpdateCounters:
    """Updates this process finished since it started: counted by ``plugbot_update_done``, in memory,
    so counting costs an update no query. The core's shared counters (``plugin.counters``) add them
    up over every process of the bot (:func:`track`)."""

    since: dt.datetime
    processed: int = 0
    errors: int = 0
    rate_limited: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, error: BaseException | None, refused: str | None) -> None:
        with self._lock:
            self.processed += 1
            self.errors += error is not None
            self.rate_limited += refused == "rate_limit"

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {"processed": self.processed, "errors": self.errors, "rate_limited": self.rate_limited}


# One set of counters per running plugin (its runtime name), replaced when the bot starts again.
counters: dict[str, UpdateCounters] = {}


def counters_name(plugin: str) -> str:
    """The shared counters of the admin plugin loaded as ``plugin`` (Redis hash ``stats:<this>``)."""
    return f"updates:{plugin}"


def track(plugin: Plugin) -> None:
    """Count this process's updates from now on, and add them to every other process's."""
    seen = counters[plugin.name] = UpdateCounters(since=plugin.now())
    plugin.counters.track(counters_name(plugin.name), seen.snapshot)


def register(register: Any) -> None:
    register.command("botstats", botstats, help="stats.help", permission="view_stats")


def users_summary(now: dt.datetime) -> dict[str, int]:
    """Users in total and active (a message, a press) within a day, a week, a month. An erased user's
    tombstone (``status='deleted'``) is nobody: not counted."""
    present = User.select().where(User.status != "deleted")
    summary = {"total": present.count()}
    for key, days in (("day", 1), ("week", 7), ("month", 30)):
        summary[key] = present.where(User.last_active >= now - dt.timedelta(days=days)).count()
    return summary


def new_users_per_day(today: dt.date, days: int = CHART_DAYS) -> list[tuple[dt.date, int]]:
    """Users first seen on each of the last ``days`` days (UTC), oldest first, days without any as 0."""
    first = today - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    per_day = dict.fromkeys((first + dt.timedelta(days=n) for n in range(days)), 0)
    for (created,) in (User.select(User.created_at).where((User.created_at >= start) & (User.status != "deleted"))
                       .tuples()):
        day = created.astimezone(dt.UTC).date() if created.tzinfo else created.date()
        if day in per_day:
            per_day[day] += 1
    return sorted(per_day.items())


def cache_hit_rate(ctx: Context) -> tuple[int, int]:
    """Hits and lookups of every cache, in every process of the bot."""
    totals = ctx.app.counters.totals("cache")
    hits = totals.get("hits", 0)
    return hits, hits + totals.get("misses", 0)


def plugin_counters(ctx: Context) -> list[tuple[str, dict[str, Any]]]:
    """What each plugin contributes through ``plugbot_stats`` (a failing one is left out)."""
    return [(name, values) for name, values in ctx.app.plugins.call_each("plugbot_stats") if values]


def botstats(ctx: Context) -> None:
    now = ctx.now()
    users = users_summary(now)
    days = new_users_per_day(now.astimezone(dt.UTC).date())
    lines = [ctx.t("stats.header"),
             ctx.t("stats.users", total=f"{users['total']:,}", day=f"{users['day']:,}", week=f"{users['week']:,}",
                   month=f"{users['month']:,}"),
             ctx.t("stats.new_users", days=CHART_DAYS, count=f"{sum(n for _, n in days):,}")]
    if ctx.plugin in counters:
        seen = ctx.app.counters.totals(counters_name(ctx.plugin))  # every process's, since the first began
        since = dt.datetime.fromtimestamp(seen["since"], dt.UTC)
        lines.append(ctx.t("stats.updates", since=since.strftime("%Y-%m-%d %H:%M"),
                           processed=f"{seen.get('processed', 0):,}", errors=f"{seen.get('errors', 0):,}",
                           rate_limited=f"{seen.get('rate_limited', 0):,}"))
    hits, lookups = cache_hit_rate(ctx)
    lines.append(ctx.t("stats.cache", rate=f"{hits / lookups:.0%}" if lookups else "—", hits=f"{hits:,}",
                       lookups=f"{lookups:,}"))
    usage = ctx.llm.usage()
    if usage:
        lines.append(ctx.t("stats.llm_header"))
        lines.extend(ctx.t("stats.llm_vendor", vendor=vendor, requests=f"{u['requests']:,}",
                           tokens=f"{u['tokens']:,}", users=f"{u['users']:,}") for vendor, u in usage.items())
    else:
        lines.append(ctx.t("stats.llm_none"))
    contributed = plugin_counters(ctx)
    if contributed:
        lines.append(ctx.t("stats.plugins_header"))
        lines.extend(f"• {name}: " + ", ".join(f"{key} = {value:,}" if isinstance(value, int) else f"{key} = {value}"
                                              for key, value in values.items())
                     for name, values in contributed)
    ctx.reply("\n".join(lines))
    chart = stats_chart.render(days, ctx.t("stats.chart_title", days=CHART_DAYS))
    if chart is not None:
        ctx.send_photo(chart, caption=ctx.t("stats.chart_caption", days=CHART_DAYS))
