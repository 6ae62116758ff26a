"""Scheduler: wrapped runs, statistics (in memory and in ``job_runs``), isolation of failures,
coalescing and misfires on the real APScheduler, DB scope and user-local time."""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading

import pytest

from framework import db
from framework.models import JobRun, User
from framework.scheduler import (
    DbJobStatsStore,
    JobStats,
    Scheduler,
    is_local_time,
    resolve_timezone,
    timezones_at_local_time,
)
from framework.testing import eventually

UTC = dt.UTC


@pytest.fixture
def scheduler():
    sched = Scheduler(connection_scope=contextlib.nullcontext)
    yield sched
    sched.shutdown(wait=True)


def test_job_ids_are_owner_dot_name_and_duplicates_fail(scheduler: Scheduler) -> None:
    assert scheduler.add_job("tarot", "daily", lambda: None, trigger="cron", hour=9) == "tarot.daily"
    with pytest.raises(ValueError, match="tarot.daily") as info:
        scheduler.add_job("tarot", "daily", lambda: None, trigger="interval", minutes=5)
    assert "'tarot'" in str(info.value)


def test_unknown_trigger_is_rejected(scheduler: Scheduler) -> None:
    with pytest.raises(ValueError, match="trigger"):
        scheduler.add_job("core", "x", lambda: None, trigger="weekly")


def test_run_now_records_success_and_failure(scheduler: Scheduler, caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []
    scheduler.add_job("core", "ok", lambda: calls.append("ok"), trigger="interval", hours=1)

    def broken() -> None:
        raise RuntimeError("boom")

    scheduler.add_job("core", "broken", broken, trigger="interval", hours=1)

    ok = scheduler.run_now("core.ok")
    assert calls == ["ok"]
    assert (ok.runs, ok.failures, ok.last_outcome, ok.last_error) == (1, 0, "ok", None)
    assert ok.last_run_at is not None and ok.last_run_at.tzinfo is not None
    assert ok.last_run_at.utcoffset() == dt.timedelta(0)
    assert ok.last_duration_s is not None and ok.last_duration_s >= 0

    with caplog.at_level(logging.ERROR, logger="framework.scheduler"):
        scheduler.run_now("core.broken")
        failed = scheduler.run_now("core.broken")
    assert (failed.runs, failed.failures, failed.last_outcome) == (2, 2, "error")
    assert failed.last_error == "RuntimeError: boom"
    record = next(r for r in caplog.records if "core.broken" in r.getMessage())
    assert record.job == "core.broken"
    assert record.exc_info is not None

    scheduler.run_now("core.ok")
    assert scheduler.job_stats()["core.ok"].runs == 2


def test_run_now_of_unknown_job(scheduler: Scheduler) -> None:
    with pytest.raises(KeyError):
        scheduler.run_now("nobody.nothing")


def test_failing_job_does_not_stop_the_scheduler(scheduler: Scheduler) -> None:
    failed_twice = threading.Event()
    healthy_ran_twice = threading.Event()
    counts = {"bad": 0, "good": 0}

    def bad() -> None:
        counts["bad"] += 1
        if counts["bad"] >= 2:
            failed_twice.set()
        raise ValueError("always fails")

    def good() -> None:
        counts["good"] += 1
        if counts["good"] >= 2:
            healthy_ran_twice.set()

    scheduler.add_job("p", "bad", bad, trigger="interval", seconds=0.2)
    scheduler.add_job("p", "good", good, trigger="interval", seconds=0.2)
    scheduler.start()
    assert scheduler.running
    assert failed_twice.wait(timeout=10)
    assert healthy_ran_twice.wait(timeout=10)
    scheduler.shutdown(wait=True)
    assert not scheduler.running

    stats = scheduler.job_stats()
    assert stats["p.bad"].failures == stats["p.bad"].runs >= 2
    assert stats["p.bad"].last_outcome == "error"
    assert stats["p.good"].runs >= 2 and stats["p.good"].failures == 0
    assert stats["p.good"].last_outcome == "ok"


def test_jobs_lists_trigger_and_next_run(scheduler: Scheduler) -> None:
    scheduler.add_job("b", "hourly", lambda: None, trigger="cron", minute=0)
    scheduler.add_job("a", "tick", lambda: None, trigger="interval", minutes=5)
    before = scheduler.jobs()
    assert [(j.id, j.owner, j.name) for j in before] == [("a.tick", "a", "tick"), ("b.hourly", "b", "hourly")]
    assert before[0].trigger.startswith("interval[")
    assert before[1].trigger == "cron[minute='0']"
    assert all(j.next_run_time is not None for j in before)
    scheduler.start()
    after = scheduler.jobs()
    assert all(j.next_run_time is not None and j.next_run_time > dt.datetime.now(UTC) for j in after)


def test_remove_job(scheduler: Scheduler) -> None:
    scheduler.add_job("p", "x", lambda: None, trigger="interval", minutes=1)
    scheduler.start()
    scheduler.remove_job("p.x")
    assert scheduler.jobs() == []
    assert "p.x" not in scheduler.job_stats()
    scheduler.add_job("p", "x", lambda: None, trigger="interval", minutes=1)  # id is free again


def test_job_runs_inside_a_database_connection_scope(bound_db) -> None:
    sched = Scheduler()  # the real db.connection_scope
    seen: dict[str, object] = {}

    def job() -> None:
        seen["open"] = not db.database.is_closed()
        User.create(telegram_id=42)
        seen["count"] = User.select().count()

    sched.add_job("core", "db", job, trigger="interval", hours=1)
    assert db.database.is_closed()
    stats = sched.run_now("core.db")
    assert stats.last_outcome == "ok", stats.last_error
    assert seen == {"open": True, "count": 1}
    assert db.database.is_closed()  # the scope gave the connection back


def test_a_job_failing_on_the_database_is_recorded(bound_db) -> None:
    sched = Scheduler()

    def job() -> None:
        User.create(telegram_id=1)
        User.create(telegram_id=1)  # unique violation

    sched.add_job("core", "dup", job, trigger="interval", hours=1)
    stats = sched.run_now("core.dup")
    assert stats.last_outcome == "error"
    assert "IntegrityError" in (stats.last_error or "")
    assert db.database.is_closed()


# -- coalescing and misfires ---------------------------------------------------


def test_jobs_are_registered_with_coalesce_and_a_misfire_grace_time(scheduler: Scheduler) -> None:
    scheduler.add_job("core", "defaults", lambda: None, trigger="interval", minutes=5)
    scheduler.add_job("core", "custom", lambda: None, trigger="cron", hour=3,
                      coalesce=False, misfire_grace_time=600, max_instances=2)
    expected = {"core.custom": (False, 2, 600), "core.defaults": (True, 1, 60)}
    pending = {j.id: (j.coalesce, j.max_instances, j.misfire_grace_time) for j in scheduler.jobs()}
    assert pending == expected                # before start: the defaults APScheduler will apply
    scheduler.start()                         # now read from APScheduler's own Job objects
    assert {j.id: (j.coalesce, j.max_instances, j.misfire_grace_time) for j in scheduler.jobs()} == expected


@pytest.mark.parametrize(("options", "expected_runs"), [
    pytest.param({}, 1, id="defaults-coalesce"),
    pytest.param({"coalesce": False, "misfire_grace_time": 24 * 3600}, 6, id="no-coalesce"),
])
def test_a_backlog_of_missed_run_times_runs_once(scheduler: Scheduler, options: dict, expected_runs: int) -> None:
    """An hourly job whose first run was due 5 h 10 s ago: six run times passed while the process
    was suspended. With the defaults it runs once; the contrast shows the test would see six."""
    ran = threading.Event()
    calls: list[int] = []

    def job() -> None:
        calls.append(1)
        ran.set()

    now = dt.datetime.now(UTC)
    scheduler.add_job("core", "hourly", job, trigger="interval", hours=1,
                      next_run_time=now - dt.timedelta(hours=5, seconds=10), **options)
    scheduler.start()
    assert ran.wait(timeout=10)
    # APScheduler moved the job past the backlog: its next run is the next hour, not a catch-up.
    assert eventually(lambda: scheduler.jobs()[0].next_run_time > now)
    scheduler.shutdown(wait=True)  # every run time of the backlog went to the executor as one task
    assert len(calls) == expected_runs
    stats = scheduler.job_stats()["core.hourly"]
    assert (stats.runs, stats.missed) == (expected_runs, 0)


def test_a_run_later_than_the_grace_time_is_skipped_and_counted(bound_db, caplog) -> None:
    sched = Scheduler(store=DbJobStatsStore())
    calls: list[int] = []
    sched.add_job("core", "once", lambda: calls.append(1), trigger="date",
                  run_date=dt.datetime.now(UTC) - dt.timedelta(hours=2))   # 2 h late, grace 60 s
    with caplog.at_level(logging.WARNING, logger="apscheduler"):
        sched.start()
        # Missed, and then dropped by APScheduler: a date job has no run time left.
        assert eventually(lambda: sched.job_stats()["core.once"].missed == 1 and not sched.jobs())
        sched.shutdown(wait=True)
    assert calls == []
    stats = sched.job_stats()["core.once"]
    assert (stats.runs, stats.missed, stats.last_run_at, stats.last_outcome) == (0, 1, None, None)
    assert "was missed by" in caplog.text
    with db.connection_scope():
        assert DbJobStatsStore().load("core.once") == JobStats(missed=1)


# -- statistics kept in the database ---------------------------------------------------


def _boom() -> None:
    raise RuntimeError("boom")


def test_statistics_are_kept_in_job_runs_and_survive_a_restart(bound_db) -> None:
    first = Scheduler(store=DbJobStatsStore())
    first.add_job("core", "ok", lambda: None, trigger="interval", hours=1)
    first.add_job("core", "broken", _boom, trigger="interval", hours=1)
    first.run_now("core.ok")
    first.run_now("core.broken")
    first.run_now("core.broken")
    in_memory = first.job_stats()
    with db.connection_scope():
        assert DbJobStatsStore().load_all() == in_memory
        assert JobRun.get_by_id("core.broken").last_error == "RuntimeError: boom"

    second = Scheduler(store=DbJobStatsStore())  # a restarted process starts from the stored statistics
    second.add_job("core", "ok", lambda: None, trigger="interval", hours=1)
    second.add_job("core", "broken", _boom, trigger="interval", hours=1)
    assert second.job_stats() == in_memory
    again = second.run_now("core.ok")
    assert (again.runs, again.failures) == (2, 0)
    with db.connection_scope():
        assert DbJobStatsStore().load("core.ok") == again


def test_a_failing_statistics_store_never_fails_the_job(bound_db, caplog) -> None:
    with db.connection_scope():
        db.database.drop_tables([JobRun])
    sched = Scheduler(store=DbJobStatsStore())
    ran: list[int] = []
    sched.add_job("core", "ok", lambda: ran.append(1), trigger="interval", hours=1)
    assert sched.job_stats()["core.ok"] == JobStats()  # nothing could be loaded: a fresh start
    stats = sched.run_now("core.ok")
    assert ran == [1]
    assert (stats.runs, stats.last_outcome) == (1, "ok")
    assert "could not save the statistics of job core.ok" in caplog.text
    assert db.database.is_closed()


# -- user-local time -----------------------------------------------------------


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_local_time_across_fixed_offsets() -> None:
    now = at(2024, 1, 15, 6, 0)  # 09:00 in Moscow (UTC+3), 15:00 in Tokyo (UTC+9)
    assert is_local_time(now, "Europe/Moscow", 9, 0)
    assert not is_local_time(now, "UTC", 9, 0)
    assert is_local_time(now, "Asia/Tokyo", 15, 0)
    assert is_local_time(now, "Asia/Kolkata", 11, 30)  # UTC+5:30


def test_local_time_window() -> None:
    assert is_local_time(at(2024, 1, 15, 9, 14), "UTC", 9, 0, window_minutes=15)
    assert not is_local_time(at(2024, 1, 15, 9, 15), "UTC", 9, 0, window_minutes=15)
    assert not is_local_time(at(2024, 1, 15, 8, 59), "UTC", 9, 0, window_minutes=15)
    # a window crossing midnight
    assert is_local_time(at(2024, 1, 16, 0, 5), "UTC", 23, 50, window_minutes=30)


def test_local_time_follows_daylight_saving() -> None:
    # New York is UTC-5 in winter and UTC-4 in summer: 9:00 local moves in UTC.
    assert is_local_time(at(2024, 1, 15, 14, 0), "America/New_York", 9, 0)
    assert not is_local_time(at(2024, 7, 15, 14, 0), "America/New_York", 9, 0)
    assert is_local_time(at(2024, 7, 15, 13, 0), "America/New_York", 9, 0)
    # the morning after the spring-forward switch (2024-03-10)
    assert is_local_time(at(2024, 3, 11, 13, 0), "America/New_York", 9, 0)


def test_invalid_timezone_falls_back_to_utc(caplog: pytest.LogCaptureFixture) -> None:
    assert is_local_time(at(2024, 1, 15, 9, 0), "Mars/Olympus_Mons", 9, 0)
    assert is_local_time(at(2024, 1, 15, 9, 0), None, 9, 0)
    assert resolve_timezone("../etc/passwd") is UTC
    assert "unknown time zone" in caplog.text


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError):
        is_local_time(dt.datetime(2024, 1, 1, 9, 0), "UTC", 9, 0)


def test_timezones_at_local_time() -> None:
    now = at(2024, 7, 15, 6, 0)  # summer: Berlin UTC+2, Moscow UTC+3, London UTC+1
    zones = ["Europe/Berlin", "Europe/Moscow", "Europe/London", "UTC", "Asia/Dubai", "Europe/Moscow"]
    assert timezones_at_local_time(now, zones, 9, 0, window_minutes=5) == {"Europe/Moscow"}
    assert timezones_at_local_time(now, zones, 8, 0) == {"Europe/Berlin"}
