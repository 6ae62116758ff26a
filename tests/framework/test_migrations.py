"""framework/migrations.py: per-plugin migrations on peewee's runner, idempotent,
recorded in ``schema_version``, on SQLite and PostgreSQL (also through ``migrate`` on the CLI)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import framework.builtins
from framework import cli, connection_scope
from framework.config import ENV_OVERRIDES, ConfigError

HERE = Path(__file__).parent
EXAMPLES = HERE.parents[1] / "examples" / "hello"
HELLO = {"module": "plugbot_hello"}

CORE = sorted(p.stem for p in (Path(framework.builtins.__file__).parent / "migrations").glob("0*.py"))
"""The core's migrations, oldest first: each new one is listed without editing these tests."""


@pytest.fixture(autouse=True)
def _plugin_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    for var in ENV_OVERRIDES:
        monkeypatch.delenv(var, raising=False)


def applied_rows(app: Any) -> list[tuple[str, str]]:
    with connection_scope():
        cursor = app.db.execute_sql("SELECT plugin, name FROM schema_version ORDER BY plugin, name")
        return [tuple(row) for row in cursor.fetchall()]


def test_migrate_twice_applies_nothing_the_second_time(bot_factory, db_url: str) -> None:
    bot = bot_factory({"hello": HELLO}, db_url=db_url, config={"auto_migrate": False}, start=False)
    first = bot.app.migrate()
    assert first["core"] == CORE and CORE[:3] == ["0001_core", "0002_job_runs", "0003_bot_processes"]
    assert first["hello"] == ["0001_initial"]
    rows = applied_rows(bot.app)
    assert ("core", "0001_core") in rows and ("hello", "0001_initial") in rows
    assert bot.app.migrate() == {plugin: [] for plugin in first}
    assert applied_rows(bot.app) == rows
    with connection_scope():
        assert {"hello_greetings", "users", "processed_updates"} <= set(bot.app.db.get_tables())


def test_status_shows_pending_then_applied_per_plugin(bot_factory, db_url: str) -> None:
    bot = bot_factory({"hello": HELLO}, db_url=db_url, config={"auto_migrate": False}, start=False)
    before = {(row.plugin, row.name): row.applied_at for row in bot.app.migration_status()}
    assert before == {**{("core", name): None for name in CORE}, ("hello", "0001_initial"): None}
    bot.app.migrate()
    after = {(row.plugin, row.name): row.applied_at for row in bot.app.migration_status()}
    assert set(after) == set(before)
    assert all(when is not None for when in after.values())


def test_dependencies_migrate_before_dependants(bot_factory, tmp_path: Path) -> None:
    bot = bot_factory({"hello": HELLO}, config={"auto_migrate": False}, start=False)
    assert list(bot.app.migrate()) == ["core", "hello"]  # the core owns `users`, which hello references


def test_a_restarted_app_finds_everything_applied(bot_factory, db_url: str) -> None:
    bot_factory({"hello": HELLO}, db_url=db_url)  # start() auto-migrates
    again = bot_factory({"hello": HELLO}, db_url=db_url, config={"auto_migrate": False}, start=False)
    assert all(names == [] for names in again.app.migrate().values())


def test_start_with_auto_migrate_off_refuses_a_database_that_is_behind(bot_factory, db_url: str) -> None:
    bot = bot_factory({"hello": HELLO}, db_url=db_url, config={"auto_migrate": False}, start=False)
    with pytest.raises(ConfigError, match=r"auto_migrate: false, but \d+ migration\(s\) are pending .*framework migrate"):
        bot.app.start(scheduler=False, telegram=False)
    with connection_scope():
        assert "hello_greetings" not in bot.app.db.get_tables()  # nothing applied behind the operator's back
    bot.app.migrate()
    bot.app.start(scheduler=False, telegram=False)  # migrated by the operator: it starts
    assert bot.user(1).send("/hello")[0].text.startswith("👋 Hello")


def test_users_table_has_the_columns_of_seeds_000_and_003(bot_factory, db_url: str) -> None:
    bot = bot_factory({}, db_url=db_url)
    with connection_scope():
        columns = {column.name for column in bot.app.db.get_columns("users")}
        unique = [index.columns for index in bot.app.db.get_indexes("users") if index.unique]
    assert {"telegram_id", "username", "first_name", "last_name", "language_code", "timezone", "is_admin",
            "status", "created_at", "updated_at", "last_active"} <= columns
    assert ["telegram_id"] in unique


def test_frozen_migration_matches_the_model(bot_factory, db_url: str) -> None:
    """The migration is a frozen copy of the model: the table it creates has the model's columns."""
    from plugbot_hello.models import Greeting

    bot = bot_factory({"hello": HELLO}, db_url=db_url)
    with connection_scope():
        columns = {column.name for column in bot.app.db.get_columns("hello_greetings")}
    assert columns == {field.column_name for field in Greeting._meta.sorted_fields}


def test_a_plugin_the_config_disables_is_migrated_so_an_admin_can_switch_it_on(bot_factory) -> None:
    bot = bot_factory({"hello": {**HELLO, "enabled": False}, "ghost": {"module": "no_such_package.plugin",
                                                                       "enabled": False}},
                      config={"auto_migrate": False}, start=False)
    assert list(bot.app.migrate()) == ["core", "hello"]       # ghost cannot be imported: left out


# -- `python -m framework migrate` (in process; test_cli.py runs the real command) -------------------


def write_config(tmp_path: Path, db_url: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(f"database:\n  url: {db_url}\nplugins:\n  hello:\n    module: plugbot_hello\n")
    return str(path)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = cli.main(list(args))
    return code, capsys.readouterr().out.splitlines()


def test_cli_migrate_then_migrate_again(capsys, tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, db_url)
    code, lines = run_cli(capsys, "--config", config, "migrate")
    assert code == 0
    assert lines == [*(f"applied core: {name}" for name in CORE), "applied hello: 0001_initial",
                     f"{len(CORE) + 1} migration(s) applied"]
    code, lines = run_cli(capsys, "--config", config, "migrate")
    assert (code, lines) == (0, ["nothing to do: the database is up to date"])


def test_cli_migrate_list_shows_a_row_per_plugin_migration(capsys, tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, db_url)
    code, lines = run_cli(capsys, "migrate", "--list", "--config", config)
    assert code == 0
    assert [line.split() for line in lines] == [*(["[", "]", "core", name, "pending"] for name in CORE),
                                                ["[", "]", "hello", "0001_initial", "pending"]]
    run_cli(capsys, "--config", config, "migrate")
    code, lines = run_cli(capsys, "--config", config, "migrate", "--list")
    assert code == 0
    assert [line.split()[:3] for line in lines] == [*(["[x]", "core", name] for name in CORE),
                                                    ["[x]", "hello", "0001_initial"]]
    assert all("pending" not in line for line in lines)


# -- `migrate --down`: rolling back -----------------------------------------------------------------------


def tables(app: Any) -> set[str]:
    with connection_scope():
        return set(app.db.get_tables())


def run_err(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], list[str]]:
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


def test_migrate_down_runs_down_of_the_target_and_every_later_one_newest_first(
        capsys, tmp_path: Path, db_url: str, bot_factory) -> None:
    config = write_config(tmp_path, db_url)
    run_cli(capsys, "--config", config, "migrate")
    code, lines, errors = run_err(capsys, "--config", config, "migrate", "--down", "core/0002")
    assert (code, errors) == (0, [])
    assert lines == [*(f"rolled back core: {name}" for name in reversed(CORE[1:])),
                     f"{len(CORE) - 1} migration(s) rolled back; install the code that matches before starting the bot"]
    app = bot_factory({"hello": HELLO}, db_url=db_url, config={"auto_migrate": False}, start=False).app
    app.stop()  # only its database is read below, while the commands run their own application
    assert {"job_runs", "bot_processes"}.isdisjoint(tables(app))
    assert {"users", "hello_greetings"} <= tables(app)
    assert applied_rows(app) == [("core", "0001_core"), ("hello", "0001_initial")]

    code, lines, _ = run_err(capsys, "--config", config, "migrate", "--down", "hello/0001_initial")
    assert (code, lines[0]) == (0, "rolled back hello: 0001_initial")
    assert "hello_greetings" not in tables(app)

    code, lines = run_cli(capsys, "--config", config, "migrate")  # and forward again
    assert (code, lines[-1]) == (0, f"{len(CORE)} migration(s) applied")
    assert {"job_runs", "bot_processes", "hello_greetings"} <= tables(app)


@pytest.mark.parametrize(("spec", "message"), [
    ("core/0999", f"core/0999: no such migration (applied: {', '.join(CORE)})"),
    ("ghost/0001", "ghost: no such plugin with migrations (enabled ones: core, hello)"),
    ("core", "'core': expected PLUGIN/NNNN, e.g. core/0003"),
])
def test_migrate_down_explains_a_wrong_target_in_one_line(capsys, tmp_path: Path, spec: str, message: str) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/bot.db")
    run_cli(capsys, "--config", config, "migrate")
    code, lines, errors = run_err(capsys, "--config", config, "migrate", "--down", spec)
    assert code in (1, 2) and lines == []
    assert errors == [f"migrate --down: {message}"]


def test_migrate_down_refuses_while_a_bot_runs_on_the_database(capsys, tmp_path: Path, bot_factory) -> None:
    from framework.heartbeat import Heartbeat

    db_url = f"sqlite:///{tmp_path}/bot.db"
    bot = bot_factory({"hello": HELLO}, db_url=db_url)
    heartbeat = Heartbeat(bot.app, "polling")
    heartbeat.beat()
    bot.app.stop()  # the bot is another process here: its heartbeat says it runs, the command builds its own app
    config = write_config(tmp_path, db_url)
    code, _, errors = run_err(capsys, "--config", config, "migrate", "--down", "hello/0001")
    assert code == 2
    assert len(errors) == 1 and errors[0].startswith("migrate --down: a bot process is running on this database "
                                                     "(polling, pid ")
    assert errors[0].endswith("stop it before rolling back migrations")
    assert "hello_greetings" in tables(bot.app)
    heartbeat.stop()
    code, _, _ = run_err(capsys, "--config", config, "migrate", "--down", "hello/0001")
    assert code == 0 and "hello_greetings" not in tables(bot.app)


def test_a_rollback_that_would_orphan_another_plugins_table_is_refused(capsys, tmp_path: Path, db_url: str,
                                                                      bot_factory) -> None:
    """The core's 0001 cannot drop `users` while hello's table points at it. On PostgreSQL the whole
    rollback is one transaction, so 0002 and 0003, reverted before the failure, are back too; on
    SQLite each migration is its own transaction, and the line says what was rolled back."""
    config = write_config(tmp_path, db_url)
    run_cli(capsys, "--config", config, "migrate")
    code, lines, errors = run_err(capsys, "--config", config, "migrate", "--down", "core/0001")
    assert (code, lines, len(errors)) == (1, [], 1)
    app = bot_factory({"hello": HELLO}, db_url=db_url, config={"auto_migrate": False}, start=False).app
    assert {"users", "hello_greetings"} <= tables(app)
    if db_url.startswith("sqlite"):
        assert errors[0] == ("migrate --down: core: 0001_core: table hello_greetings still points at users; roll "
                             "back the plugin that owns hello_greetings first; already rolled back: "
                             + ", ".join(reversed(CORE[1:])))
        assert applied_rows(app) == [("core", "0001_core"), ("hello", "0001_initial")]
    else:
        assert errors[0] == ("migrate --down: core/0001_core: cannot drop table users because other objects "
                             "depend on it; nothing was rolled back")
        assert {"job_runs", "bot_processes"} <= tables(app)
        assert len(applied_rows(app)) == len(CORE) + 1
