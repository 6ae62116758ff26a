"""framework/backup.py through ``plugbot backup`` / ``restore``, as an operator runs them: checked,
timestamped backups; restores that are all or nothing, refuse a database with tables unless
forced, drop the bot's Redis state, and fail in one line."""
from __future__ import annotations

import itertools
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from framework import connection_scope
from framework.config import ENV_OVERRIDES

HERE = Path(__file__).parent
HELLO_PATH = HERE.parents[1] / "examples" / "hello"
ERROR_TEXT = "Something went wrong, sorry. Please try again."


@pytest.fixture(autouse=True)
def _plugin_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HELLO_PATH))
    monkeypatch.syspath_prepend(str(HERE.parents[1]))  # `plugins.expenses` is the shipped plugin, not tests/plugins
    for var in ENV_OVERRIDES:
        monkeypatch.delenv(var, raising=False)


def plugbot(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ENV_OVERRIDES and not k.startswith("PLUGBOT_")}
    environ["PYTHONPATH"] = os.pathsep.join([str(HERE.parents[1]), str(HELLO_PATH)])  # this checkout's framework
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "framework", *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=300)


def write_config(tmp_path: Path, db_url: str, plugins: str = "  expenses: {}\n", redis: str = "",
                 name: str = "config.yaml") -> str:
    path = tmp_path / name
    path.write_text(f"database:\n  url: {db_url}\n{redis}plugins:\n{plugins}", encoding="utf-8")
    return str(path)


def query(bot: Any, sql: str) -> list[tuple[Any, ...]]:
    with connection_scope():
        return [tuple(row) for row in bot.app.db.execute_sql(sql).fetchall()]


def tables(bot: Any) -> set[str]:
    with connection_scope():
        return set(bot.app.db.get_tables())


def backup_file(tmp_path: Path, config: str) -> str:
    result = plugbot(tmp_path, "backup", "--config", config)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# -- backup ----------------------------------------------------------------------------------------------


def test_backups_carry_a_timestamp_are_checked_and_leave_nothing_half_written(tmp_path: Path, db_url: str,
                                                                             bot_factory) -> None:
    bot = bot_factory({"expenses": {}}, db_url=db_url)
    bot.user(52).send("coffee 3")
    bot.app.stop()
    config = write_config(tmp_path, db_url)
    path = backup_file(tmp_path, config)
    suffix = ".db" if db_url.startswith("sqlite") else ".dump"
    assert re.fullmatch(rf"backups/bot-\d{{8}}-\d{{6}}\{suffix}", path)
    assert os.listdir(tmp_path / "backups") == [os.path.basename(path)]  # no .partial, -wal or -shm beside it
    if suffix == ".db":
        with sqlite3.connect(tmp_path / path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert conn.execute("SELECT count(*) FROM expenses").fetchone() == (1,)
    else:
        listing = subprocess.run(["pg_restore", "--list", str(tmp_path / path)], capture_output=True, text=True)
        assert listing.returncode == 0 and "TABLE DATA public expenses" in listing.stdout
    other = plugbot(tmp_path, "backup", "--config", config, "--output", "elsewhere/")
    assert other.returncode == 0, other.stderr
    assert re.fullmatch(rf"elsewhere/bot-\d{{8}}-\d{{6}}\{suffix}", other.stdout.strip())


def test_a_backup_that_does_not_check_out_is_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from framework import backup as backups

    source = tmp_path / "bot.db"
    sqlite3.connect(source).execute("CREATE TABLE t (x)").connection.close()
    monkeypatch.setattr(backups, "_sqlite_verify", lambda path: "integrity_check: page 3 is never used")
    with pytest.raises(backups.BackupError, match=r"does not check out \(integrity_check: page 3 is never used\)"):
        backups.backup(f"sqlite:///{source}", str(tmp_path / "out") + "/")
    assert os.listdir(tmp_path / "out") == []


def test_pg_dump_older_than_the_server_is_refused_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    from framework import backup as backups

    monkeypatch.setattr(backups, "_tool_major", lambda tool: 15)
    monkeypatch.setattr(backups, "_server_major", lambda url: 17)
    with pytest.raises(backups.BackupError) as caught:
        backups.backup("postgresql://bot:pw@db:5432/bot")
    assert str(caught.value) == ("pg_dump 15 cannot dump a PostgreSQL 17 server: install the PostgreSQL 17 client "
                                 "tools (Docker image: --build-arg PG_MAJOR=17; see docs/deployment.md)")


# -- restore: errors in one line ------------------------------------------------------------------------


def test_sqlite_restore_and_backup_errors_are_one_line(tmp_path: Path, bot_factory) -> None:
    bot = bot_factory({}, db_url=f"sqlite:///{tmp_path}/data/bot.db")
    bot.app.stop()
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/data/bot.db", plugins="  {}\n")
    (tmp_path / "notes.txt").write_text("these are not the tables you are looking for\n" * 100)
    (tmp_path / "a-file").write_text("")

    cases = [
        (("restore", "notes.txt"), "restore: notes.txt is not a SQLite backup (file is not a database)"),
        (("restore", "missing.db"), "restore: missing.db: no such backup file"),
        (("backup", "--output", "a-file/bot.db"), f"backup: cannot create {tmp_path}/a-file: file exists"),
    ]
    for args, line in cases:
        result = plugbot(tmp_path, *args, "--config", config)
        assert (result.returncode, result.stdout, result.stderr) == (1, "", line + "\n"), args

    missing = write_config(tmp_path, f"sqlite:///{tmp_path}/nothing-here.db", plugins="  {}\n", name="m.yaml")
    result = plugbot(tmp_path, "backup", "--config", missing)
    assert (result.returncode, result.stderr) == (1, f"backup: no SQLite database at {tmp_path}/nothing-here.db\n")


def test_a_sqlite_restore_into_a_directory_that_does_not_exist_yet_creates_it(tmp_path: Path, bot_factory) -> None:
    bot = bot_factory({}, db_url=f"sqlite:///{tmp_path}/data/bot.db")
    bot.app.stop()
    path = backup_file(tmp_path, write_config(tmp_path, f"sqlite:///{tmp_path}/data/bot.db", plugins="  {}\n"))
    fresh = write_config(tmp_path, f"sqlite:///{tmp_path}/new/host/bot.db", plugins="  {}\n", name="fresh.yaml")
    result = plugbot(tmp_path, "restore", path, "--config", fresh)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith(f"restored {path} into {tmp_path}/new/host/bot.db (")
    with sqlite3.connect(tmp_path / "new" / "host" / "bot.db") as conn:
        assert conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] >= 3


# -- restore: all or nothing ----------------------------------------------------------------------------


def test_restore_into_a_database_with_an_extra_plugin_table(tmp_path: Path, db_url: str, bot_factory) -> None:
    """A plugin enabled after the backup has a table the backup lacks (pointing at `users`):
    refused without --force, saying what it would drop; with --force replaced whole."""
    config = write_config(tmp_path, db_url)
    before = bot_factory({"expenses": {}}, db_url=db_url)
    before.user(52).send("coffee 3")
    before.app.stop()
    path = backup_file(tmp_path, config)

    after = bot_factory({"expenses": {}, "hello": {"module": "plugbot_hello"}}, db_url=db_url)
    after.user(52).send("/hello")
    after.user(52).send("tea 2")
    after.app.stop()
    assert "hello_greetings" in tables(after)

    refused = plugbot(tmp_path, "restore", path, "--config", config)
    assert (refused.returncode, refused.stdout) == (2, "")
    [line] = refused.stderr.splitlines()
    assert " is not empty (" in line and "of them are not in the backup: hello_greetings)" in line
    assert line.endswith("--force drops every one of these tables, with their rows, and puts the backup's in "
                         "their place")
    assert query(after, "SELECT count(*) FROM expenses") == [(2,)]  # nothing changed
    assert "hello_greetings" in tables(after)

    forced = plugbot(tmp_path, "restore", path, "--force", "--config", config)
    assert forced.returncode == 0, forced.stderr
    assert "hello_greetings" not in tables(after)
    assert query(after, "SELECT count(*) FROM expenses") == [(1,)]
    assert query(after, "SELECT count(*) FROM schema_version WHERE plugin = 'hello'") == [(0,)]

    again = bot_factory({"expenses": {}, "hello": {"module": "plugbot_hello"}}, db_url=db_url)
    again._update_ids = itertools.count(1000)  # Telegram's update ids go on; the restored ones are taken
    assert again.user(52).send("/hello")[0].text.startswith("👋 Hello")  # hello's migration ran again
    assert "hello_greetings" in tables(again)


@pytest.mark.postgres
def test_a_dump_that_breaks_off_halfway_restores_nothing(tmp_path: Path, postgres_url: str, bot_factory) -> None:
    """pg_restore dies in the middle of the data: what psql already ran of it is rolled back."""
    config = write_config(tmp_path, postgres_url)
    bot = bot_factory({"expenses": {}}, db_url=postgres_url)
    for n in range(30):
        bot.user(100 + n).send(f"coffee {n + 1}")
    bot.app.stop()
    path = tmp_path / backup_file(tmp_path, config)
    bot.user(999).send("tea 1")
    bot.app.stop()

    bin_dir = tmp_path / "bin"  # a pg_restore that stops cleanly between two statements, then fails
    bin_dir.mkdir()
    real = shutil.which("pg_restore")
    (bin_dir / "pg_restore").write_text(f"""#!/bin/sh
case "$*" in *--list*) exec {real} "$@";; esac
{real} "$@" | sed '/^COPY public.expenses /,$d'
echo "pg_restore: error: could not uncompress data: invalid block" >&2
exit 1
""")
    (bin_dir / "pg_restore").chmod(0o755)
    result = plugbot(tmp_path, "restore", str(path), "--force", "--config", config,
                     env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    assert (result.returncode, result.stderr) == (1, f"restore: pg_restore could not read {path} (could not "
                                                     "uncompress data: invalid block); nothing was changed\n")
    assert query(bot, "SELECT count(*) FROM expenses") == [(31,)]

    data = path.read_bytes()
    cut = tmp_path / "cut.dump"
    cut.write_bytes(data[:-3000])  # the table of contents is whole; the last tables' data is not
    result = plugbot(tmp_path, "restore", str(cut), "--force", "--config", config)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (f"restore: pg_restore could not read {cut} (could not read from input file: end of "
                             "file); nothing was changed\n")
    assert query(bot, "SELECT count(*) FROM expenses") == [(31,)]  # the database as it was
    assert query(bot, "SELECT count(*) FROM users") == [(31,)]

    cut.write_bytes(data[: len(data) // 2])  # not even the table of contents: refused before anything runs
    result = plugbot(tmp_path, "restore", str(cut), "--force", "--config", config)
    assert (result.returncode, result.stderr) == (1, f"restore: {cut} cannot be read as a PostgreSQL backup "
                                                     "(could not read from input file: end of file)\n")
    assert query(bot, "SELECT count(*) FROM expenses") == [(31,)]


# -- restore: the bot's Redis state goes with the old database ------------------------------------------


@pytest.mark.postgres
@pytest.mark.redis
def test_restore_over_a_live_redis_cache_then_a_returning_user_is_answered_normally(
        tmp_path: Path, postgres_url: str, redis_url: str, redis_prefix: str, bot_factory) -> None:
    import redis

    redis_section = f"redis:\n  url: {redis_url}\n  prefix: '{redis_prefix}'\n"
    config = write_config(tmp_path, postgres_url, redis=redis_section)
    bot = bot_factory({"expenses": {}}, db_url=postgres_url, redis=True, redis_prefix=redis_prefix)
    bot.app.stop()
    path = backup_file(tmp_path, config)  # before user 52 ever wrote

    bot = bot_factory({"expenses": {}}, db_url=postgres_url, redis=True, redis_prefix=redis_prefix)
    assert ERROR_TEXT not in [r.text for r in bot.user(52).send("coffee 3")]
    bot.app.stop()
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    assert list(client.scan_iter(match=f"{redis_prefix}cache:*"))  # the cached profile names user row 52's id

    result = plugbot(tmp_path, "restore", path, "--force", "--config", config)
    assert result.returncode == 0, result.stderr
    dropped = result.stdout.splitlines()[1]
    assert re.fullmatch(rf"dropped [1-9]\d* Redis key\(s\) of the bot under prefix '{re.escape(redis_prefix)}': "
                        "cache, sessions, rate limits", dropped)
    assert list(client.scan_iter(match=f"{redis_prefix}*")) == []

    again = bot_factory({"expenses": {}}, db_url=postgres_url, redis=True, redis_prefix=redis_prefix)
    replies = [r.text for r in again.user(52).send("coffee 5")]
    assert replies and ERROR_TEXT not in replies
    assert query(again, "SELECT count(*) FROM expenses e JOIN users u ON u.id = e.user_id "
                        "WHERE u.telegram_id = 52") == [(1,)]
    assert not again.app.plugins.is_paused("expenses")


@pytest.mark.redis
def test_restore_with_redis_down_changes_nothing(tmp_path: Path, bot_factory) -> None:
    from framework.testing import CLOSED_PORT_REDIS_URL

    db_url = f"sqlite:///{tmp_path}/data/bot.db"
    config = write_config(tmp_path, db_url, redis=f"redis:\n  url: '{CLOSED_PORT_REDIS_URL}'\n")
    bot = bot_factory({"expenses": {}}, db_url=db_url)
    bot.app.stop()
    path = backup_file(tmp_path, config)
    bot.user(7).send("coffee 1")
    bot.app.stop()
    result = plugbot(tmp_path, "restore", path, "--force", "--config", config)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == ("restore: redis: connection refused; a restore also drops the bot's cached state in "
                             "Redis, so Redis must be up (nothing was changed)\n")
    assert query(bot, "SELECT count(*) FROM expenses") == [(1,)]


def test_restore_refuses_while_a_bot_runs_on_the_database(tmp_path: Path, bot_factory) -> None:
    from framework.heartbeat import Heartbeat

    db_url = f"sqlite:///{tmp_path}/data/bot.db"
    config = write_config(tmp_path, db_url)
    bot = bot_factory({"expenses": {}}, db_url=db_url)
    path = backup_file(tmp_path, config)
    heartbeat = Heartbeat(bot.app, "polling")
    heartbeat.beat()
    result = plugbot(tmp_path, "restore", path, "--force", "--config", config)
    assert result.returncode == 2
    assert result.stderr.startswith("restore: a bot process is running on this database (polling, pid ")
    assert result.stderr.endswith("stop it before restoring a backup\n")
    heartbeat.stop()
    assert plugbot(tmp_path, "restore", path, "--force", "--config", config).returncode == 0


# -- the Redis key families a restore drops -------------------------------------------------------------


def test_every_key_the_bot_writes_is_in_a_family_a_restore_drops() -> None:
    import fnmatch
    import inspect

    from framework.redisconn import Keys

    keys = Keys("bot1:")
    made = []
    for name, method in inspect.getmembers(keys, inspect.ismethod):
        if name.startswith("_") or name in ("patterns", "cache_pattern"):
            continue
        params = list(inspect.signature(method).parameters)
        made.append(method(*[7 if p == "telegram_id" else "x" for p in params]))
    assert len(made) >= 7
    for key in made:
        assert any(fnmatch.fnmatchcase(key, pattern) for pattern in keys.patterns()), key
    assert not any(fnmatch.fnmatchcase("bot2:cache:x", pattern) for pattern in keys.patterns())
