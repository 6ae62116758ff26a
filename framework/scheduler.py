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
declared by code at startup, so there is nothing to persist. Their run
statistics are another matter: with a :class:`DbJobStatsStore` they are kept
in ``job_runs``, so ``plugbot plugins`` (another process) can show them and a
restarted bot's ``/jobs`` still knows when each job last ran.

With several processes every one runs a scheduler, and only the leader
(:mod:`framework.leader`) runs the jobs. Each scheduled run is a *tick*: the
job id and the time the trigger scheduled it for. A :class:`DbTickStore`
claims the tick in ``job_ticks`` (unique key) before the job runs, so a tick
is run once even while two processes both believe they lead during a
hand-over. Interval triggers are anchored at a fixed epoch unless given a
``start_date``, so every process computes the same fire times. A manual
:meth:`Scheduler.run_now` is no tick: it claims nothing and runs wherever it
is asked.

Defaults: ``coalesce=True`` (a backlog of missed run times, after the
process was suspended or the clock jumped, runs once, not once per missed
time), ``max_instances=1``, ``misfire_grace_time=60`` (a run more than a
minute late is skipped and counted as missed rather than run at a surprising
hour).
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from . import db
from .models import JobRun, JobTick
from .redaction import error_text

log = logging.getLogger(__name__)

TRIGGERS = ("cron", "interval", "date")
DEFAULT_JOB_OPTIONS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}
JOB_OPTIONS = tuple(DEFAULT_JOB_OPTIONS)
UTC = dt.UTC
# Where interval triggers count from when no start_date is given: the same instant in every
# process, so their fire times (the tick keys) agree. APScheduler's own default, the moment the
# job is added, differs from process to process.
INTERVAL_ANCHOR = dt.datetime(2000, 1, 1, tzinfo=UTC)
TICK_RETENTION = dt.timedelta(days=2)  # claimed ticks older than this are pruned
PRUNE_EVERY = dt.timedelta(hours=1)

_tick = threading.local()  # the fire time of the tick this executor thread runs (None: run_now)


def current_fire_time() -> dt.datetime | None:
    """The scheduled time of the tick being run on this thread; None outside a tick (``run_now``)."""
    return getattr(_tick, "fire_time", None)


class _TickExecutor(ThreadPoolExecutor):
    """APScheduler's thread pool, telling each run which fire time it is for.

    APScheduler hands the executor the run times (``run_job(job, jobstore_alias, run_times,
    logger_name)``) but not the job function; the pool is wrapped so each run time is run on
    its own with the time in a thread-local the scheduler's wrapper reads.
    """

    def __init__(self, max_workers: int = 10) -> None:
        super().__init__(max_workers)
        self._pool = _StampingPool(self._pool)


class _StampingPool:
    def __init__(self, pool: Any) -> None:
        self._pool = pool

    def submit(self, run_job: Callable[..., list[Any]], job: Any, jobstore_alias: str, run_times: list[dt.datetime],
               logger_name: str) -> Any:
        def stamped() -> list[Any]:
            events: list[Any] = []
            for run_time in run_times:
                _tick.fire_time = run_time
                try:
                    events.extend(run_job(job, jobstore_alias, [run_time], logger_name))
                finally:
                    _tick.fire_time = None
            return events

        return self._pool.submit(stamped)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait)


class TickStore(Protocol):
    """Who ran which tick (see :class:`DbTickStore`)."""

    def claim(self, job_id: str, fire_time: dt.datetime) -> bool: ...


class Leadership(Protocol):
    """Whether this process runs the jobs (see :class:`framework.leader.LeaderElector`)."""

    def is_leader(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class JobStats:
    """What the last runs of one job did; shown by ``/jobs`` and checked by tests."""

    runs: int = 0
    failures: int = 0
    missed: int = 0  # run times skipped for being later than misfire_grace_time
    last_run_at: dt.datetime | None = None
    last_duration_s: float | None = None
    last_outcome: Literal["ok", "error"] | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class JobInfo:
    """A registered job as APScheduler holds it: trigger, next run and the options it runs with."""

    id: str
    owner: str
    name: str
    trigger: str
    next_run_time: dt.datetime | None
    coalesce: bool = True
    max_instances: int = 1
    misfire_grace_time: int | None = None


class JobStatsStore(Protocol):
    """Where run statistics outlive the process (see :class:`DbJobStatsStore`)."""

    def load(self, job_id: str) -> JobStats | None: ...

    def record_run(self, job_id: str, started_at: dt.datetime, duration: float, error: str | None) -> None: ...

    def record_missed(self, job_id: str) -> None: ...


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
        store: JobStatsStore | None = None,
        clock: Callable[[], dt.datetime] = db.utcnow,
        leadership: Leadership | None = None,
        ticks: TickStore | None = None,
    ) -> None:
        self.timezone = resolve_timezone(timezone)
        self.clock = clock  # the application's: run times and statistics follow it (the test kit moves it)
        self._connection_scope = connection_scope
        self._job_defaults = {**DEFAULT_JOB_OPTIONS, **(job_defaults or {})}
        self._scheduler = BackgroundScheduler(timezone=self.timezone, job_defaults=self._job_defaults,
                                              executors={"default": _TickExecutor()})
        self.leadership = leadership  # None: this process always runs the jobs
        self._ticks = ticks
        self._scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        self._jobs: dict[str, _Registered] = {}
        self._stats: dict[str, JobStats] = {}
        self._lock = threading.Lock()
        self._store = store
        self._run_listeners: list[Callable[[str, float, BaseException | None], None]] = []

    def on_run(self, listener: Callable[[str, float, BaseException | None], None]) -> None:
        """Call ``listener(job_id, seconds, error)`` after each run of a job in this process (the
        metrics count runs through it); one that raises is logged, never the job's failure."""
        if listener not in self._run_listeners:
            self._run_listeners.append(listener)

    def use_store(self, store: JobStatsStore) -> None:
        """Keep statistics in ``store`` from now on; jobs registered afterwards start from what it holds.

        Separate from the constructor because the application builds its
        scheduler before the database is migrated (``Application.start``
        calls this right after migrating).
        """
        self._store = store

    def use_ticks(self, ticks: TickStore) -> None:
        """Claim every tick in ``ticks`` before running it (``Application.start``, once migrated)."""
        self._ticks = ticks

    def is_leader(self) -> bool:
        """Does this process run the scheduled jobs (always, without a leadership)?"""
        return self.leadership is None or self.leadership.is_leader()

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
        ``date``; ``next_run_time=`` overrides the first run); the other
        keywords override the scheduler's job defaults. With a store, the
        job's statistics continue from the stored ones.
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
        if trigger == "interval" and "start_date" not in trigger_args:
            trigger_args["start_date"] = INTERVAL_ANCHOR
        stored = self._stored_stats(job_id)
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
            self._stats[job_id] = stored
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
        """Start the background thread (and the run for leadership); jobs added before start are scheduled now."""
        if not self._scheduler.running:
            if self.leadership is not None:
                self.leadership.start()
            self._scheduler.start()

    def shutdown(self, wait: bool = True) -> None:
        """Stop scheduling and give the leadership up; with ``wait`` also wait for runs in progress.
        Safe to call twice."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
            if self.leadership is not None:
                self.leadership.stop()

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
        fire_time = current_fire_time()
        if fire_time is not None and not self._may_run(job_id, fire_time):
            return
        with job.lock:
            started_at = self.clock()
            started = time.perf_counter()
            error: BaseException | None = None
            try:
                with self._connection_scope():
                    job.func()
            except Exception as exc:  # noqa: BLE001 - a job's failure must never reach APScheduler
                error = exc
                log.exception("job %s failed", job_id, extra={"job": job_id})
            duration = time.perf_counter() - started
            self._record(job_id, started_at, duration, error)
        for listener in self._run_listeners:
            try:
                listener(job_id, duration, error)
            except Exception:  # noqa: BLE001 - the run is over; a listener cannot change it
                log.exception("run listener %r failed on job %s", listener, job_id)

    def _may_run(self, job_id: str, fire_time: dt.datetime) -> bool:
        """Is this tick ours to run: this process leads, and no other process claimed the tick?

        The claim commits before the job runs, so a tick whose leader dies half way is not run
        again by the next leader: at most once per tick, and exactly once while processes live.
        A claim that cannot be written (database down) skips the tick rather than risk a double.
        """
        if not self.is_leader():
            return False
        if self._ticks is None:
            return True
        try:
            with self._connection_scope():
                claimed = self._ticks.claim(job_id, fire_time)
        except Exception:  # noqa: BLE001 - a tick not claimed is a tick not run; the next one tries again
            log.exception("could not claim tick %s of job %s; skipped", fire_time.isoformat(), job_id,
                          extra={"job": job_id})
            return False
        if not claimed:
            log.info("tick %s of job %s was run by another process", fire_time.isoformat(), job_id,
                     extra={"job": job_id})
        return claimed

    def _record(self, job_id: str, started_at: dt.datetime, duration: float, error: BaseException | None) -> None:
        message = error_text(error) if error else None
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
                last_error=message,
            )
        self._persist(job_id, lambda store: store.record_run(job_id, started_at, duration, message))

    def _on_missed(self, event: JobExecutionEvent) -> None:
        """APScheduler skipped a run time older than ``misfire_grace_time`` (it logs a warning itself)."""
        if not self.is_leader():
            return  # the leader counts missed ticks; the others would not have run them anyway
        with self._lock:
            previous = self._stats.get(event.job_id)
            if previous is None:
                return
            self._stats[event.job_id] = replace(previous, missed=previous.missed + 1)
        self._persist(event.job_id, lambda store: store.record_missed(event.job_id))

    # -- persistence --------------------------------------------------------

    def _stored_stats(self, job_id: str) -> JobStats:
        """What the store remembers of ``job_id``; a store that cannot answer means a fresh start."""
        if self._store is None:
            return JobStats()
        try:
            with self._connection_scope():
                return self._store.load(job_id) or JobStats()
        except Exception:  # noqa: BLE001 - statistics must never keep a job from being scheduled
            log.exception("could not load the statistics of job %s", job_id, extra={"job": job_id})
            return JobStats()

    def _persist(self, job_id: str, write: Callable[[JobStatsStore], None]) -> None:
        """Bookkeeping after the run's own transaction: a failure here is logged, never raised."""
        store = self._store
        if store is None:
            return
        try:
            with self._connection_scope():
                write(store)
        except Exception:  # noqa: BLE001 - the run itself is over; its outcome stays in memory
            log.exception("could not save the statistics of job %s", job_id, extra={"job": job_id})

    # -- introspection ------------------------------------------------------

    def job_stats(self) -> dict[str, JobStats]:
        with self._lock:
            return dict(self._stats)

    def jobs(self) -> list[JobInfo]:
        """Registered jobs with their trigger, next run and options, sorted by id.

        Before :meth:`start`, APScheduler has neither computed next run times
        nor filled in the job defaults yet, so both are worked out here.
        """
        now = self.clock().astimezone(self.timezone)
        infos = []
        for job in self._scheduler.get_jobs():
            registered = self._jobs.get(job.id)
            if registered is None:
                continue
            if hasattr(job, "next_run_time"):
                next_run = job.next_run_time
            else:
                next_run = job.trigger.get_next_fire_time(None, now)
            options = {key: getattr(job, key, self._job_defaults.get(key)) for key in JOB_OPTIONS}
            infos.append(JobInfo(job.id, registered.owner, registered.name, str(job.trigger), next_run, **options))
        return sorted(infos, key=lambda info: info.id)


class DbJobStatsStore:
    """:class:`JobStats` in the ``job_runs`` table (core migration 0002).

    Counters are incremented in SQL (``runs = runs + 1``), so two processes
    running jobs against one database never overwrite each other's counts.
    ``clock`` stamps the rows (the application's clock).
    """

    def __init__(self, clock: Callable[[], dt.datetime] = db.utcnow) -> None:
        self.clock = clock

    def load(self, job_id: str) -> JobStats | None:
        row = JobRun.get_or_none(JobRun.job_id == job_id)
        return None if row is None else _stats_of(row)

    def load_all(self) -> dict[str, JobStats]:
        """Every job that ever ran, for listings made outside the bot (``plugbot plugins``)."""
        return {row.job_id: _stats_of(row) for row in JobRun.select()}

    def record_run(self, job_id: str, started_at: dt.datetime, duration: float, error: str | None) -> None:
        failed = 1 if error else 0
        last = {JobRun.last_run_at: started_at, JobRun.last_duration_s: duration,
                JobRun.last_outcome: "error" if error else "ok", JobRun.last_error: error,
                JobRun.updated_at: self.clock()}
        self._upsert(job_id, {JobRun.runs: 1, JobRun.failures: failed, **last},
                     {JobRun.runs: JobRun.runs + 1, JobRun.failures: JobRun.failures + failed, **last})

    def record_missed(self, job_id: str) -> None:
        now = self.clock()
        self._upsert(job_id, {JobRun.missed: 1, JobRun.updated_at: now},
                     {JobRun.missed: JobRun.missed + 1, JobRun.updated_at: now})

    @staticmethod
    def _upsert(job_id: str, first: dict[Any, Any], update: dict[Any, Any]) -> None:
        (JobRun.insert({JobRun.job_id: job_id, **first})
         .on_conflict(conflict_target=[JobRun.job_id], update=update)
         .execute())


class DbTickStore:
    """Ticks claimed in ``job_ticks`` (core migration 0008): the insert that conflicts on the
    (job id, fire time) key tells a process that another one already ran the tick.

    Old rows are pruned on the way, at most once per :data:`PRUNE_EVERY` per process: a tick
    is only ever contested around its own fire time, so two days of rows is plenty.
    """

    def __init__(self, holder: str, now: Callable[[], dt.datetime] = db.utcnow) -> None:
        self.holder = holder[:200]
        self._now = now  # real time, like APScheduler's fire times (not the test kit's clock)
        self._pruned_at: dt.datetime | None = None

    def claim(self, job_id: str, fire_time: dt.datetime) -> bool:
        now = self._now()
        with db.database.atomic():
            (JobTick.insert(job_id=job_id, fire_time=fire_time.astimezone(UTC), holder=self.holder, claimed_at=now)
             .on_conflict_ignore()
             .execute())
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            self.prune(now - TICK_RETENTION)
        # What a conflicting insert returns differs by database; whose row it is does not.
        return self.holder_of(job_id, fire_time) == self.holder

    @staticmethod
    def holder_of(job_id: str, fire_time: dt.datetime) -> str | None:
        """Which process claimed a tick (None: nobody yet)."""
        row = (JobTick.select(JobTick.holder)
               .where(JobTick.job_id == job_id, JobTick.fire_time == fire_time.astimezone(UTC)).first())
        return None if row is None else row.holder

    @staticmethod
    def prune(before: dt.datetime) -> int:
        """Delete ticks fired before ``before``; returns how many."""
        return JobTick.delete().where(JobTick.fire_time < before).execute()


def _stats_of(row: JobRun) -> JobStats:
    return JobStats(runs=row.runs, failures=row.failures, missed=row.missed, last_run_at=row.last_run_at,
                    last_duration_s=row.last_duration_s, last_outcome=row.last_outcome, last_error=row.last_error)


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
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe" is a directory
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
