"""Backups: a populated database round-trips on SQLite and PostgreSQL, the rotation keeps
7 daily, 4 weekly and 12 monthly backups as the clock moves, failures reach the admins,
and only superadmins see or make backups."""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from broadcast_helpers import SUPERADMIN, add_users

from framework import BackupError, User, connection_scope, restore_database
from plugins.admin import backups as backups_module
from plugins.admin.rotation import to_keep

NOW = dt.datetime(2025, 3, 12, 12, 0, tzinfo=dt.UTC)
UNKNOWN = "I don't know /{}. See /help."


@pytest.fixture
def backup_dir(tmp_path: Path) -> str:
    return str(tmp_path / "backups")


@pytest.fixture
def empty_database(database: str, db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database of the same kind, to restore into."""
    if database == "sqlite":
        yield f"sqlite:///{tmp_path}/restored.db"
        return
    from framework.testing import throwaway_postgres

    with throwaway_postgres(db_url, prefix="plugbot_restore") as url:
        yield url


def count(url: str, table: str) -> int:
    if url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(url[len("sqlite:///"):])) as conn:
            return conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
    import psycopg2

    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute(f'SELECT COUNT(*) FROM "{table}"')
        return cur.fetchone()[0]


def _bot(bot_factory: Any, db_url: str, backup_dir: str, **settings: Any) -> Any:
    bot = bot_factory({"admin": {"backup_dir": backup_dir, **settings}, "expenses": {}}, db_url=db_url,
                      admins=(SUPERADMIN,))
    bot.set_time(NOW)
    return bot


def test_a_populated_database_round_trips(bot_factory, db_url, backup_dir, empty_database) -> None:
    bot = _bot(bot_factory, db_url, backup_dir)
    add_users(1, 25)
    alice = bot.user(77)
    alice.send("/add 7,20 eur")
    alice.press("🚗 Transport")
    alice.press("Skip ➡️")
    alice.press("✅ Confirm")
    [reply] = bot.user(SUPERADMIN).send("/backup now")
    done, verified = reply.text.splitlines()
    name = "bot-20250312-120000." + ("db" if db_url.startswith("sqlite") else "dump")
    assert done.startswith(f"💾 Backup written: {name} (")
    assert verified.startswith("Verified: restored into a scratch database, ")
    assert os.listdir(backup_dir) == [name]

    restore_database(empty_database, os.path.join(backup_dir, name))
    # The backup holds what was committed when it ran: all but the admin, first seen in the very
    # update that made it, and that update's own audit row.
    assert count(db_url, "users") == 27 and count(empty_database, "users") == 26
    assert count(empty_database, "expenses") == count(db_url, "expenses") == 1
    assert count(empty_database, "audit_logs") == count(db_url, "audit_logs") - 1


def test_rotation_keeps_7_daily_4_weekly_12_monthly(bot_factory, tmp_path, backup_dir) -> None:
    bot = _bot(bot_factory, f"sqlite:///{tmp_path}/bot.db", backup_dir, backup_verify=False)
    assert bot.app.routes.jobs["admin.backup"].trigger_args == {"hour": 2, "minute": 0}   # 02:00 UTC
    os.makedirs(backup_dir)
    Path(backup_dir, "notes.txt").write_text("the operator's own file")
    first = dt.date(2024, 1, 1)
    days = [first + dt.timedelta(days=n) for n in range(400)]
    for day in days:
        bot.set_time(dt.datetime.combine(day, dt.time(2, 0), tzinfo=dt.UTC))
        bot.run_job("admin.backup")
    last = days[-1]
    weeks_newest: dict[tuple[int, int], dt.date] = {}
    months_newest: dict[tuple[int, int], dt.date] = {}
    for day in days:                                  # a day's backup is the newest of its week and month so far
        weeks_newest[day.isocalendar()[:2]] = day
        months_newest[(day.year, day.month)] = day
    expected = ({last - dt.timedelta(days=n) for n in range(7)}
                | set(sorted(weeks_newest.values())[-4:]) | set(sorted(months_newest.values())[-12:]))
    kept = {f.when.date() for f in backups_module.list_backups(backup_dir)}
    assert kept == expected
    assert len(kept) == len(os.listdir(backup_dir)) - 1 and "notes.txt" in os.listdir(backup_dir)
    assert 7 < len(kept) <= 7 + 4 + 12


def test_rotation_rules() -> None:
    moments = [dt.datetime(2025, 1, 1, 2, tzinfo=dt.UTC) + dt.timedelta(hours=12 * n) for n in range(60)]
    kept = to_keep(moments, daily=2, weekly=1, monthly=1)
    newest = max(moments)
    # Two a day: only the newest of each of the 2 latest days; the week's and month's newest is the same one.
    assert kept == {newest, newest - dt.timedelta(days=1)}
    assert to_keep([], 7, 4, 12) == set()


def test_failures_reach_the_admins_and_fail_the_job(bot_factory, tmp_path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    bot = _bot(bot_factory, f"sqlite:///{tmp_path}/bot.db", str(not_a_folder / "backups"))
    sent = bot.run_job("admin.backup")
    assert [(r.chat_id, r.text.split(":")[0]) for r in sent] == [(SUPERADMIN, "⚠️ Backup failed")]
    assert "cannot create" in sent[0].text
    assert bot.app.scheduler.job_stats()["admin.backup"].failures == 1
    [reply] = bot.user(SUPERADMIN).send("/backup now")
    assert reply.text.startswith("⚠️ Backup failed: cannot create")


def test_a_backup_that_does_not_restore_is_reported_and_set_aside(bot_factory, tmp_path, backup_dir,
                                                                  monkeypatch) -> None:
    bot = _bot(bot_factory, f"sqlite:///{tmp_path}/bot.db", backup_dir)

    def broken_restore(url: str, path: str, **kwargs: Any) -> None:
        raise BackupError(f"{path} is damaged (integrity_check: page 3 is never used)")

    monkeypatch.setattr(backups_module, "restore_database", broken_restore)
    [alert] = bot.run_job("admin.backup")
    assert alert.chat_id == SUPERADMIN
    assert alert.text.startswith("⚠️ Backup failed: bot-20250312-120000.db could not be restored (")
    assert os.listdir(backup_dir) == ["bot-20250312-120000.db.unverified"]
    assert bot.user(SUPERADMIN).send("/backups")[0].text == f"No backups in {backup_dir} yet."


def test_backups_lists_the_files(bot_factory, tmp_path, backup_dir) -> None:
    bot = _bot(bot_factory, f"sqlite:///{tmp_path}/bot.db", backup_dir)
    admin = bot.user(SUPERADMIN)
    assert admin.send("/backups")[0].text == f"No backups in {backup_dir} yet."
    admin.send("/backup now")
    bot.advance(days=1)
    admin.send("/backup now")
    lines = admin.send("/backups")[0].text.splitlines()
    assert lines[0].startswith("💾 2 backups, ") and lines[0].endswith(f" in {backup_dir}:")
    assert lines[1].startswith("• 2025-03-13 12:00 — bot-20250313-120000.db — ")
    assert lines[2].startswith("• 2025-03-12 12:00 — bot-20250312-120000.db — ")


def test_only_superadmins_back_up(bot_factory, tmp_path, backup_dir) -> None:
    bot = _bot(bot_factory, f"sqlite:///{tmp_path}/bot.db", backup_dir)
    alice, stats_admin = bot.user(5), bot.user(6)
    assert [r.text for r in alice.send("/backup now")] == [UNKNOWN.format("backup")]
    assert [r.text for r in alice.send("/backups")] == [UNKNOWN.format("backups")]
    stats_admin.send("/start")
    with connection_scope():
        bot.app.access.grant(User.get(User.telegram_id == 6), can_view_stats=True, can_manage_users=True,
                             can_manage_keys=True)
    assert [r.text for r in stats_admin.send("/backup now")] == ["You are not allowed to do that."]
    assert [r.text for r in stats_admin.send("/backups")] == ["You are not allowed to do that."]
    assert not os.path.exists(backup_dir)
    assert "Usage: /backup <now>" in bot.user(SUPERADMIN).send("/backup")[0].text
