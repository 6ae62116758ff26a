"""Jobs with several processes: one leader runs them, each tick runs once even while the leader
dies, and what admins and the circuit breaker change reaches every process.

Processes are real OS processes where it matters (one application is live per process): the
proof starts three on one PostgreSQL database and Redis prefix and kills the leader with SIGKILL.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest
import redis
from plugins_for_tests import ROOT, TESTS_FRAMEWORK, build, texts
from plugins_for_tests.ticker import runs

from framework import connection_scope
from framework import db as dbmod
from framework.app import create_app
from framework.config import load_config
from framework.leader import LeaderElector, PostgresLease, RedisLease
from framework.models import JobTick
from framework.scheduler import DbTickStore
from framework.testing import eventually

TICKER = {"ticker": {"module": "plugins_for_tests.ticker"}}
FLAKY = {"admin": {}, "flaky": {"module": "plugins_for_tests.flaky"}}
ADMIN = 700
PAUSED = "This feature is paused for now, please try again later."


def _client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url, decode_responses=True)


# -- the lease ---------------------------------------------------------------------------------------


def test_one_process_leads_and_another_takes_over_when_its_lease_expires(redis_url, redis_prefix) -> None:
    key = f"{redis_prefix}lock:scheduler:leader"
    first_lease, second_lease = RedisLease(_client(redis_url), key, 0.5), RedisLease(_client(redis_url), key, 0.5)
    first, second = LeaderElector(first_lease, 0.5), LeaderElector(second_lease, 0.5)
    assert first.step() and first.is_leader()
    assert not second.step() and not second.is_leader()
    assert first.step()                                        # renewed by its holder
    assert first_lease.current_holder() == first_lease.holder

    # The leader stops renewing (it died): its key expires and the other takes over.
    assert eventually(second.step, timeout=10, interval=0.05)
    assert second_lease.current_holder() == second_lease.holder
    assert not first.step() and not first.is_leader()          # a lease it lost is never renewed
    assert second_lease.current_holder() == second_lease.holder

    # A clean stop gives the lease up: the next process leads at once, without waiting for expiry.
    second._thread = None
    second.stop()
    assert first.step()


class _CutOff:
    """A real Redis lease whose connection an outage can cut."""

    kind = "redis"

    def __init__(self, lease: RedisLease) -> None:
        self.lease, self.cut = lease, False

    def hold(self) -> bool:
        if self.cut:
            raise redis.exceptions.ConnectionError("Redis is unreachable")
        return self.lease.hold()

    def release(self) -> None:
        self.lease.release()


def test_a_leader_cut_off_from_redis_stops_leading_when_its_lease_would_have_expired(redis_url,
                                                                                     redis_prefix) -> None:
    now = [100.0]
    lease = _CutOff(RedisLease(_client(redis_url), f"{redis_prefix}lock:scheduler:leader", 10))
    elector = LeaderElector(lease, 10, monotonic=lambda: now[0])
    changes: list[bool] = []
    elector.listeners.append(changes.append)
    assert elector.step() and changes == [True]
    lease.cut = True
    now[0] += 6
    assert elector.step() and elector.is_leader()   # an outage shorter than the lease: still leading
    now[0] += 4
    assert not elector.is_leader()                   # the lease it last renewed ran out: another may lead
    assert not elector.step() and changes == [True, False]
    lease.cut = False
    assert elector.step() and changes == [True, False, True]


def test_on_postgresql_the_lease_is_an_advisory_lock_freed_when_its_session_ends(postgres_url) -> None:
    db = dbmod.connect(postgres_url)
    first, second = LeaderElector(PostgresLease(db, 2)), LeaderElector(PostgresLease(db, 2))
    try:
        assert first.step() and not second.step()
        assert first.step() and not second.step()
        # The leader's process dies: the server ends its session and the lock with it.
        backend_pid = first.lease._conn.get_backend_pid()
        with psycopg2.connect(postgres_url) as admin, admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (backend_pid,))
        assert eventually(second.step, timeout=10, interval=0.05)
        assert not first.step()                      # reconnected, and the lock is another's now
    finally:
        first.stop()
        second.stop()


# -- ticks --------------------------------------------------------------------------------------------


def test_a_tick_another_process_claimed_is_not_run_again(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, TICKER)
    # Another process ran the next three ticks of the job (it fires on every whole second).
    first = math.ceil(dbmod.utcnow().timestamp()) + 1
    taken = [dt.datetime.fromtimestamp(first + n, dt.UTC) for n in range(3)]
    with connection_scope():
        for fire_time in taken:
            assert DbTickStore("elsewhere:1:x").claim("ticker.beat", fire_time)
            assert not DbTickStore("elsewhere:2:y").claim("ticker.beat", fire_time)  # the key is unique

    # A run by hand is no tick: it claims nothing and collides with nothing.
    bot.run_job("ticker.beat")
    assert bot.app.scheduler.job_stats()["ticker.beat"].runs == 1
    with connection_scope():
        assert JobTick.select().where(JobTick.holder == bot.app.holder).count() == 0

    bot.app.scheduler.start()
    try:
        assert eventually(lambda: any(run.scheduled_for > taken[-1] for run in runs()), timeout=15)
    finally:
        bot.app.scheduler.shutdown(wait=True)
    ran = [run.scheduled_for for run in runs()]
    assert not set(ran) & set(taken)
    assert len(ran) == len(set(ran))
    with connection_scope():
        mine = {row.fire_time for row in JobTick.select().where(JobTick.holder == bot.app.holder)}
    assert set(ran) <= mine



# -- several processes -------------------------------------------------------------------------------


def _spawn(mode: str, overrides: dict[str, Any], **kwargs: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, TESTS_FRAMEWORK])}
    return subprocess.Popen([sys.executable, "-m", "plugins_for_tests.process", mode, json.dumps(overrides)],
                            env=env, cwd=ROOT, text=True, **kwargs)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def _ticker_runs(url: str) -> list[tuple[dt.datetime, int]]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT scheduled_for, pid FROM ticker_runs ORDER BY scheduled_for")
        return cur.fetchall()


def test_a_job_runs_once_per_tick_across_three_processes_while_the_leader_is_killed(
        postgres_url, redis_url, redis_prefix, processes, monkeypatch) -> None:
    lease = 2.0
    overrides = {"database": {"url": postgres_url}, "redis": {"url": redis_url, "prefix": redis_prefix},
                 "scheduler": {"lease_seconds": lease}, "plugins": TICKER, "logging": {"level": "WARNING"}}
    monkeypatch.syspath_prepend(TESTS_FRAMEWORK)
    with create_app(load_config(None, env={}, overrides=overrides)) as app:
        app.migrate()  # once, before three processes start on the database
    processes.extend(_spawn("jobs", overrides) for _ in range(3))
    assert eventually(lambda: len(_ticker_runs(postgres_url)) >= 3, timeout=40, interval=0.2)

    holder = _client(redis_url).get(f"{redis_prefix}lock:scheduler:leader")
    leader_pid = int(holder.rsplit(":", 2)[1])
    [leader] = [process for process in processes if process.pid == leader_pid]
    killed_at = dt.datetime.now(dt.UTC)
    leader.send_signal(signal.SIGKILL)
    leader.wait(10)

    def after_kill() -> list[tuple[dt.datetime, int]]:
        return [run for run in _ticker_runs(postgres_url) if run[1] != leader_pid]

    assert eventually(lambda: len(after_kill()) >= 4, timeout=40, interval=0.2)
    for process in processes:
        process.kill()
    ran = _ticker_runs(postgres_url)
    ticks = [fire_time for fire_time, _ in ran]
    assert len(ticks) == len(set(ticks))                          # no tick ran twice
    before = [fire_time for fire_time, pid in ran if pid == leader_pid]
    after = [fire_time for fire_time, pid in ran if pid != leader_pid]
    assert len({pid for _, pid in ran if pid != leader_pid}) == 1  # one new leader, not two
    assert max(before) < min(after)
    second = dt.timedelta(seconds=1)
    assert all(b - a == second for a, b in zip(before, before[1:], strict=False))  # every tick while a leader lives
    assert all(b - a == second for a, b in zip(after, after[1:], strict=False))
    # Taken over within one lease period: the dead leader's key expires at most a lease after its
    # last renewal, the others try every third of a lease, the next tick comes within a second
    # (and one more second of slack for a loaded machine).
    assert min(after) - killed_at <= dt.timedelta(seconds=lease + lease / 3 + 2)
    with psycopg2.connect(postgres_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT fire_time, holder FROM job_ticks WHERE job_id = 'ticker.beat'")
        claimed = {fire_time: int(holder.rsplit(":", 2)[1]) for fire_time, holder in cur.fetchall()}
    assert all(claimed[fire_time] == pid for fire_time, pid in ran)  # each run by the process that claimed it


def test_a_pause_a_resume_a_switch_and_a_setting_reach_another_process(bot_factory, monkeypatch, postgres_url,
                                                                       processes) -> None:
    bot = build(bot_factory, "memory", monkeypatch, FLAKY, db_url=postgres_url, admins=(ADMIN,))
    other = _spawn("console", {"database": {"url": postgres_url}, "plugins": FLAKY, "admins": [ADMIN],
                               "logging": {"level": "ERROR"}},
                   stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    processes.append(other)
    assert other.stdout.readline().strip() == "started"

    def there(question: str) -> str:
        other.stdin.write(question + "\n")
        other.stdin.flush()
        return other.stdout.readline().strip()

    assert there("status flaky") == "enabled"
    for user in range(3):                   # three users' updates fail here: the breaker pauses it
        bot.user(100 + user).send("/boom")
    assert texts(bot.user(200).send("/fine")) == [PAUSED]
    assert eventually(lambda: there("status flaky") == "paused", timeout=20, interval=0.5)

    bot.user(ADMIN).send("/plugin resume flaky")
    assert texts(bot.user(200).send("/fine")) == ["fine"]
    assert eventually(lambda: there("status flaky") == "enabled", timeout=20, interval=0.5)

    bot.user(ADMIN).send("/plugin disable flaky")
    assert eventually(lambda: there("status flaky") == "off", timeout=20, interval=0.5)

    bot.user(ADMIN).send("/access whitelist")
    assert eventually(lambda: there("setting access_mode") == "whitelist", timeout=20, interval=0.5)
