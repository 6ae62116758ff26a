"""Background jobs: APScheduler 3 with every run wrapped for safety and visibility.

Plugins register jobs by owner and name; the id ``'{owner}.{name}'`` makes a
clash between two plugins an error at startup rather than one job silently
replacing the other. Every run, scheduled or triggered by hand through
:meth:`Scheduler.run_now`, goes through one wrapper that opens the thread's
database connection, times the run, records its outcome and swallows its
exception: a failing job is logged and counted, and the scheduler and the
other jobs carry on.

Jobs run in APScheduler's thread pool, never on the bot's polling thread, so
a slow job cannot delay replies. The job store is in memory: jobs are
declared by code at startup, so there is nothing to persist.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.schedulers.background import BackgroundScheduler

from . import db

log = logging.getLogger(__name__)

TRIGGERS = ("cron", "interval", "date")
DEFAULT_JOB_OPTIONS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}
UTC = dt.UTC


@dataclass(frozen=True)
class JobStats:
    """What the last runs of one job did; shown by ``/jobs`` and checked by tests."""

    runs: int = 0
    failures: int = 0
    last_run_at: dt.datetime | None = None
    last_duration_s: float | None = None
    last_outcome: Literal["ok", "error"] | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class JobInfo:
    id: str
    owner: str
    name: str
    trigger: str
    next_run_time: dt.datetime | None


@dataclass(frozen=True)
class _Registered:
    owner: str
    name: str
    func: Callable[[], Any]
    lock: threading.Lock


class Scheduler:
    """Owner-namespaced jobs on a :class:`BackgroundScheduler`, with per-job run statistics."""

    def __init__(
        self,
        timezone: str = "UTC",
        connection_scope: Callable[[], AbstractContextManager[Any]] = db.connection_scope,
        *,
        job_defaults: dict[str, Any] | None = None,
    ) -> None:
        self.timezone = resolve_timezone(timezone)
        self._connection_scope = connection_scope
        self._scheduler = BackgroundScheduler(
            timezone=self.timezone, job_defaults={**DEFAULT_JOB_OPTIONS, **(job_defaults or {})}
        )
        self._jobs: dict[str, _Registered] = {}
        self._stats: dict[str, JobStats] = {}
        self._lock = threading.Lock()

    # -- registration -------------------------------------------------------

    def add_job(
        self,
        owner: str,
        name: str,
        func: Callable[[], Any],
        *,
        trigger: Literal["cron", "interval", "date"],
        coalesce: bool | None = None,
        max_instances: int | None = None,
        misfire_grace_time: int | None = None,
        **trigger_args: Any,
    ) -> str:
        """Schedule ``func()`` under the id ``'{owner}.{name}'`` and return that id.

        ``trigger_args`` go to the APScheduler trigger (``minutes=5`` for
        ``interval``, ``hour=9, minute=0`` for ``cron``, ``run_date=`` for
        ``date``); the other keywords override the scheduler's job defaults.
        """
        if trigger not in TRIGGERS:
            raise ValueError(f"job {owner}.{name}: trigger must be one of {', '.join(TRIGGERS)}, got {trigger!r}")
        job_id = f"{owner}.{name}"
        options = {
            key: value
            for key, value in (
                ("coalesce", coalesce), ("max_instances", max_instances), ("misfire_grace_time", misfire_grace_time)
            )
            if value is not None
        }
        with self._lock:
            existing = self._jobs.get(job_id)
            if existing is not None:
                raise ValueError(
                    f"duplicate job id {job_id!r}: registered by {existing.owner!r} ({existing.name!r}) "
                    f"and again by {owner!r} ({name!r})"
                )
            self._scheduler.add_job(
                self._run, trigger, args=(job_id,), id=job_id, name=job_id, **options, **trigger_args
            )
            self._jobs[job_id] = _Registered(owner, name, func, threading.Lock())
            self._stats[job_id] = JobStats()
        return job_id

    def remove_job(self, job_id: str) -> None:
        """Unschedule one job (a plugin being disabled); its statistics are dropped too."""
        with self._lock:
            if self._jobs.pop(job_id, None) is None:
                raise KeyError(f"no job {job_id!r}")
            self._stats.pop(job_id, None)
            if self._scheduler.get_job(job_id) is not None:
                self._scheduler.remove_job(job_id)

    # -- lifecycle ----------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._scheduler.running

    def start(self) -> None:
        """Start the background thread; jobs added before start are scheduled now."""
        if not self._scheduler.running:
            self._scheduler.start()

    def shutdown(self, wait: bool = True) -> None:
        """Stop scheduling; with ``wait`` also wait for runs in progress. Safe to call twice."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)

    # -- running ------------------------------------------------------------

    def run_now(self, job_id: str) -> JobStats:
        """Run a job synchronously through the same wrapper as scheduled runs; return its stats."""
        if job_id not in self._jobs:
            raise KeyError(f"no job {job_id!r}")
        self._run(job_id)
        return self._stats[job_id]

    def _run(self, job_id: str) -> None:
        """Every run of every job comes through here, and nothing escapes it.

        The per-job lock keeps a manual :meth:`run_now` from overlapping a
        scheduled run, the same promise ``max_instances=1`` makes for
        scheduled runs alone.
        """
        job = self._jobs.get(job_id)
        if job is None:
            return
        with job.lock:
            started_at = db.utcnow()
            started = time.perf_counter()
            error: BaseException | None = None
            try:
                with self._connection_scope():
                    job.func()
            except Exception as exc:  # noqa: BLE001 - a job's failure must never reach APScheduler
                error = exc
                log.exception("job %s failed", job_id, extra={"job": job_id})
            self._record(job_id, started_at, time.perf_counter() - started, error)

    def _record(self, job_id: str, started_at: dt.datetime, duration: float, error: BaseException | None) -> None:
        with self._lock:
            previous = self._stats.get(job_id)
            if previous is None:  # removed while running
                return
            self._stats[job_id] = replace(
                previous,
                runs=previous.runs + 1,
                failures=previous.failures + (1 if error else 0),
                last_run_at=started_at,
                last_duration_s=duration,
                last_outcome="error" if error else "ok",
                last_error=f"{error.__class__.__name__}: {error}" if error else None,
            )

    # -- introspection ------------------------------------------------------

    def job_stats(self) -> dict[str, JobStats]:
        with self._lock:
            return dict(self._stats)

    def jobs(self) -> list[JobInfo]:
        """Registered jobs with their trigger and next run, sorted by id.

        Before :meth:`start`, APScheduler has not computed next run times yet,
        so they are computed from the trigger here.
        """
        now = dt.datetime.now(self.timezone)
        infos = []
        for job in self._scheduler.get_jobs():
            registered = self._jobs.get(job.id)
            if registered is None:
                continue
            if hasattr(job, "next_run_time"):
                next_run = job.next_run_time
            else:
                next_run = job.trigger.get_next_fire_time(None, now)
            infos.append(JobInfo(job.id, registered.owner, registered.name, str(job.trigger), next_run))
        return sorted(infos, key=lambda info: info.id)


# -- user-local time ------------------------------------------------------


def resolve_timezone(name: str | dt.tzinfo | None) -> dt.tzinfo:
    """A ``ZoneInfo`` for ``name``; an unknown or empty name means UTC.

    User-supplied time zones come from the database and may be stale or
    mistyped; one bad row must not break a job that loops over all users.
    """
    if isinstance(name, dt.tzinfo):
        return name
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r, using UTC", name)
        return UTC


def is_local_time(
    now_utc: dt.datetime, tz_name: str | None, hour: int, minute: int = 0, window_minutes: int = 1
) -> bool:
    """Whether the wall clock in ``tz_name`` is in ``[hour:minute, hour:minute + window)`` at ``now_utc``.

    A job that runs every N minutes passes ``window_minutes=N`` and so
    reaches each user once a day at their local ``hour:minute``, whatever
    their UTC offset or DST state. The window may cross midnight. On a
    spring-forward day a target inside the skipped hour is never reached.
    """
    if now_utc.tzinfo is None:
        raise ValueError("now_utc must be timezone-aware")
    local = now_utc.astimezone(resolve_timezone(tz_name))
    since_target = (local.hour * 60 + local.minute - (hour * 60 + minute)) % (24 * 60)
    return since_target < window_minutes


def timezones_at_local_time(
    now_utc: dt.datetime, timezones: Iterable[str | None], hour: int, minute: int = 0, window_minutes: int = 1
) -> set[str | None]:
    """The subset of ``timezones`` whose local time is ``hour:minute`` (see :func:`is_local_time`).

    Lets a job ask the database for the distinct time zones of its users
    first, then load only the users who are due.
    """
    return {tz for tz in set(timezones) if is_local_time(now_utc, tz, hour, minute, window_minutes)}
