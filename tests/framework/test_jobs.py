"""Scheduled jobs through the application, on both backends: failures, local time,
the options every job runs with, and statistics kept across a restart."""
from __future__ import annotations

import datetime as dt
import time

from plugins_for_tests import HELLO, PROBE, build, restart, texts
from plugins_for_tests.probe import events

from framework import User, connection_scope

ADMIN, MOSCOW, LONDON = 1099, 1001, 1002
GOOD_MORNING = "Good morning"


def test_failing_job_is_counted_and_the_others_keep_running(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, PROBE, admins=(ADMIN,))
    bot.run_job("probe.explode")
    bot.run_job("probe.explode")
    bot.run_job("probe.tick")
    stats = bot.app.scheduler.job_stats()
    explode, tick = stats["probe.explode"], stats["probe.tick"]
    assert (explode.runs, explode.failures, explode.last_outcome) == (2, 2, "error")
    assert explode.last_error == "RuntimeError: kaboom"
    assert explode.last_run_at is not None and explode.last_duration_s is not None
    assert (tick.runs, tick.failures, tick.last_outcome, tick.last_error) == (1, 0, "ok", None)
    assert len(events("tick")) == 1
    assert stats["maintenance.audit_retention"].runs == 0      # stats are per job

    report = texts(bot.user(ADMIN).send("/jobs"))[0]
    assert "probe.explode: last" in report and "error" in report and "failures 2" in report
    assert "RuntimeError: kaboom" in report
    assert "probe.tick: last" in report and "runs 1, failures 0" in report

    # The real scheduler: both jobs fire every second; the failures never stop it or the other job.
    bot.app.scheduler.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stats = bot.app.scheduler.job_stats()
        if stats["probe.explode"].failures >= 4 and stats["probe.tick"].runs >= 3:
            break
        time.sleep(0.1)
    bot.app.scheduler.shutdown(wait=True)
    stats = bot.app.scheduler.job_stats()
    assert stats["probe.explode"].failures >= 4
    assert stats["probe.tick"].runs >= 3 and stats["probe.tick"].failures == 0
    assert len(events("tick")) == stats["probe.tick"].runs


def test_morning_greeting_runs_at_the_users_local_time(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    moscow, london = bot.user(MOSCOW, first_name="Masha"), bot.user(LONDON, first_name="Liz")
    bot.set_time(dt.datetime(2025, 1, 14, 8, 0, tzinfo=dt.UTC))
    assert "good morning at 9:00" in texts(moscow.send("/morning on"))[0]
    london.send("/morning on")
    with connection_scope():
        User.update(timezone="Europe/Moscow").where(User.telegram_id == MOSCOW).execute()
        User.update(timezone="Europe/London").where(User.telegram_id == LONDON).execute()

    def greeted(at: dt.datetime) -> list[int]:
        bot.set_time(at)
        return sorted(r.chat_id for r in bot.run_job("hello.morning") if r.text and GOOD_MORNING in r.text)

    day1, day2 = dt.datetime(2025, 1, 15, tzinfo=dt.UTC), dt.datetime(2025, 1, 16, tzinfo=dt.UTC)
    assert greeted(day1.replace(hour=5, minute=5)) == []                  # 08:05 in Moscow: too early
    assert greeted(day1.replace(hour=9, minute=5)) == [LONDON]            # 09:05 UTC is 12:05 in Moscow
    assert greeted(day2.replace(hour=6, minute=5)) == [MOSCOW]            # 09:05 in Moscow, 06:05 in London
    assert greeted(day2.replace(hour=6, minute=10)) == []                 # once a day
    assert greeted(day2.replace(hour=9, minute=5)) == [LONDON]
    assert greeted(day2.replace(hour=9, minute=10)) == []
    stats = bot.app.scheduler.job_stats()["hello.morning"]
    assert (stats.runs, stats.failures) == (6, 0)
    last = [r for r in bot.telegram.calls if r.chat_id == MOSCOW][-1]
    assert last.text == "Good morning, Masha! ☀️"


def test_every_job_of_the_app_coalesces_and_has_a_misfire_grace_time(bot_factory, monkeypatch) -> None:
    bot = build(bot_factory, "memory", monkeypatch, HELLO)
    bot.app.scheduler.start()                                 # read back from APScheduler's Job objects
    jobs = {info.id: (info.coalesce, info.max_instances, info.misfire_grace_time) for info in bot.app.scheduler.jobs()}
    bot.app.scheduler.shutdown(wait=True)
    assert {"hello.morning", "maintenance.audit_retention", "maintenance.prune_llm_cache",
            "datarights.retention"} <= set(jobs)
    assert set(jobs.values()) == {(True, 1, 60)}


def test_job_statistics_survive_a_restart_and_show_in_jobs(bot_factory, monkeypatch, backend) -> None:
    first = build(bot_factory, backend, monkeypatch, PROBE, admins=(ADMIN,))
    first.run_job("probe.tick")
    first.run_job("probe.explode")
    before = first.app.scheduler.job_stats()

    second = restart(bot_factory, first, monkeypatch, PROBE, admins=(ADMIN,))
    after = second.app.scheduler.job_stats()
    assert after["probe.tick"] == before["probe.tick"] and after["probe.explode"] == before["probe.explode"]
    report = texts(second.user(ADMIN).send("/jobs"))[0]
    last = before["probe.explode"].last_run_at.strftime("%Y-%m-%d %H:%M")
    assert f"probe.explode: last {last}" in report and "RuntimeError: kaboom" in report

    second.run_job("probe.tick")                              # the counts carry on from the stored ones
    assert second.app.scheduler.job_stats()["probe.tick"].runs == 2


def test_a_job_notifies_each_user_in_the_language_they_chose(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    bot.set_time(dt.datetime(2025, 1, 14, 8, 0, tzinfo=dt.UTC))
    chose_ru, telegram_ru = bot.user(MOSCOW, first_name="Masha"), bot.user(LONDON, first_name="Liz", language_code="ru")
    for user in (chose_ru, telegram_ru):
        user.send("/morning on")
    chose_ru.send("/language ru")
    telegram_ru.send("/language en")        # the /language choice wins over Telegram's language
    bot.set_time(dt.datetime(2025, 1, 15, 9, 5, tzinfo=dt.UTC))  # 09:05 UTC: both are on UTC
    sent = {r.chat_id: r.text for r in bot.run_job("hello.morning")}
    assert sent == {MOSCOW: "Доброе утро, Masha! ☀️", LONDON: "Good morning, Liz! ☀️"}


def test_job_texts_default_to_the_bots_language_and_take_another_by_keyword(bot_factory, monkeypatch) -> None:
    from framework import JobContext

    bot = build(bot_factory, "memory", monkeypatch, HELLO)
    job = JobContext(bot.app, "hello")
    assert job.t("good_morning", name="Ann") == "Good morning, Ann! ☀️"
    assert job.t("good_morning", lang="ru", name="Аня") == "Доброе утро, Аня! ☀️"


def test_the_old_notify_call_names_the_new_signature(bot_factory, monkeypatch) -> None:
    import pytest

    from framework import JobContext

    bot = build(bot_factory, "memory", monkeypatch, HELLO)
    with pytest.raises(TypeError, match=r"notify\(user, key, \*, buttons=None, \*\*params\)"):
        JobContext(bot.app, "hello").notify(MOSCOW, "Good morning")
