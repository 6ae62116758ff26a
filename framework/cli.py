"""Command line: ``python -m framework run | console | migrate | check-config | health |
plugins | webhook set|delete | backup | restore`` (also installed as ``plugbot``).

Operator mistakes (a broken config, a bad database URL) print one line per
problem and exit with status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .config import ConfigError, load_config

if TYPE_CHECKING:
    from .scheduler import JobStats

log = logging.getLogger("plugbot.cli")

DEFAULT_CONFIG = "config.yaml"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        for line in exc.errors:
            print(f"config error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="plugbot", description="plugbot: a plugin-based Telegram bot")
    parser.add_argument("--config", default=None, help=f"config file (default: {DEFAULT_CONFIG} if present)")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, func: Any, help_text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--config", default=argparse.SUPPRESS, help="config file")
        cmd.set_defaults(func=func)
        return cmd

    add("run", cmd_run, "run the bot (console mode when no token is configured)")
    add("console", cmd_console, "talk to the bot on this terminal")
    migrate = add("migrate", cmd_migrate, "apply pending migrations of the core and every plugin")
    migrate.add_argument("--list", action="store_true", help="show applied and pending migrations")
    add("check-config", cmd_check_config, "validate the configuration and the plugins")
    add("health", cmd_health, "exit 0 if the database (and Redis, if configured) answer")
    add("plugins", cmd_plugins, "list plugins: status, version, commands, models, jobs, last error")
    webhook = add("webhook", cmd_webhook, "register or remove the webhook with Telegram")
    webhook.add_argument("action", choices=("set", "delete"))
    backup = add("backup", cmd_backup, "write a backup of the database")
    backup.add_argument("--output", default=None, help="file to write (default: backups/<timestamp>.*)")
    restore = add("restore", cmd_restore, "restore the database from a backup (stop the bot first)")
    restore.add_argument("path")
    return parser


def _config(args: argparse.Namespace) -> dict[str, Any]:
    path = args.config
    if path is None and os.path.exists(DEFAULT_CONFIG):
        path = DEFAULT_CONFIG
    return load_config(path)


def _app(config: dict[str, Any], **kwargs: Any) -> Any:
    from .app import Application

    return Application(config, **kwargs)


def _logging(config: dict[str, Any]) -> None:
    from .logs import configure_logging

    configure_logging(level=config["logging"]["level"], fmt=config["logging"]["format"])


def cmd_run(args: argparse.Namespace) -> int:
    config = _config(args)
    if not config["telegram"]["token"]:
        print("no telegram.token (TELEGRAM_BOT_TOKEN) set: starting console mode", file=sys.stderr)
        return cmd_console(args, config)
    _logging(config)
    app = _app(config)
    app.start()
    _stop_on_signals(app)
    mode = config["telegram"]["mode"]
    log.info("plugbot running as @%s (%s, %d workers)", app.bot_username, mode, config["workers"])
    try:
        if mode == "webhook":
            from .transports.webhook import serve_webhook

            hook = config["telegram"]["webhook"]
            serve_webhook(app, hook["listen"], hook["port"])
        else:
            from .transports.polling import run_polling

            polling = config["telegram"]["polling"]
            run_polling(app, timeout=polling["timeout"], limit=polling["limit"])
    finally:
        app.stop()
    return 0


def _stop_on_signals(app: Any) -> None:
    def stop(signum: int, frame: Any) -> None:
        log.info("signal %s: stopping after the updates in hand", signum)
        app.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def cmd_console(args: argparse.Namespace, config: dict[str, Any] | None = None) -> int:
    from .transports.console import ConsoleApi, run_console

    config = config or _config(args)
    # One person at a terminal: Telegram's pacing would only make the console slow.
    config = {**config, "sender": {**config["sender"], "global_per_second": 0, "private_interval": 0.0,
                                   "group_per_minute": 0}}
    _logging({**config, "logging": {**config["logging"], "level": "WARNING"}})
    api = ConsoleApi(sys.stdout)
    app = _app(config, api=api)
    app.start(telegram=True)
    print("plugbot console: type messages, /help for commands, a number to press a button, Ctrl-D to quit.")
    try:
        run_console(app, sys.stdin, sys.stdout)
    finally:
        app.stop()
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    app = _app(_config(args))
    if args.list:
        for row in app.migration_status():
            mark = "x" if row.applied_at else " "
            when = row.applied_at.strftime("%Y-%m-%d %H:%M:%S") if row.applied_at else "pending"
            print(f"[{mark}] {row.plugin:<14} {row.name:<32} {when}")
        return 0
    applied = app.migrate()
    total = sum(len(names) for names in applied.values())
    for plugin, names in applied.items():
        for name in names:
            print(f"applied {plugin}: {name}")
    print("nothing to do: the database is up to date" if total == 0 else f"{total} migration(s) applied")
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    from .plugins import PluginManager

    config = _config(args)
    PluginManager(config).load()
    from .db import DatabaseURLError, connect

    try:
        connect(config["database"]["url"])
    except DatabaseURLError as exc:
        raise ConfigError([f"database.url: {exc}"]) from None
    print("config OK")
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    """For container health checks: can the bot reach what it needs?"""
    from .db import connect
    from .redisconn import connect_redis

    config = _config(args)
    problems = []
    database = connect(config["database"]["url"])
    try:
        database.connect()
        database.execute_sql("SELECT 1")
        database.close()
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        problems.append(f"database: {exc.__class__.__name__}")
    client = connect_redis(config["redis"]["url"])
    if client is not None:
        try:
            client.ping()
        except Exception as exc:  # noqa: BLE001
            problems.append(f"redis: {exc.__class__.__name__}")
    for problem in problems:
        print(f"unhealthy: {problem}", file=sys.stderr)
    if not problems:
        print("healthy")
    return 1 if problems else 0


def cmd_plugins(args: argparse.Namespace) -> int:
    """Each plugin with its status, commands, models and jobs; the running bot's pauses and job
    runs come from the database, where the bot keeps them for this very listing."""
    from .models import PluginState
    from .scheduler import DbJobStatsStore

    app = _app(_config(args))
    saved = _saved(lambda: {row.name: row for row in PluginState.select()})
    runs = _saved(DbJobStatsStore().load_all)
    for name, plugin in app.plugins.plugins.items():
        state = saved.get(name)
        status = state.status if state is not None and plugin.status == "enabled" else plugin.status
        error = (state.last_error if state is not None else None) or plugin.error
        version = plugin.info.version if plugin.info else "-"
        commands = ", ".join("/" + c.name for c in app.routes.commands_of(name)) or "-"
        models = ", ".join(m._meta.table_name for m in plugin.models) or "-"
        job_ids = [j.id for j in app.routes.jobs.values() if j.plugin == name]
        print(f"{name} {version} [{status}]{' (built-in)' if plugin.builtin else ''}")
        print(f"  commands: {commands}\n  models:   {models}\n  jobs:     {', '.join(job_ids) or '-'}")
        for job_id in job_ids:
            print(_job_line(job_id, runs.get(job_id)))
        if error:
            print(f"  last error: {error}")
    return 0


def _saved(read: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Rows the running bot saved; a database not migrated yet simply has none."""
    from .db import connection_scope

    try:
        with connection_scope():
            return read()
    except Exception:  # noqa: BLE001 - a fresh database has no such table yet
        return {}


def _job_line(job_id: str, stats: JobStats | None) -> str:
    """``    id: last run <UTC time>, <duration>, <outcome>; runs N, failures N[, missed N]``."""
    if stats is None or stats.last_run_at is None:
        return f"    {job_id}: never run" + (f"; missed {stats.missed}" if stats and stats.missed else "")
    line = (f"    {job_id}: last run {stats.last_run_at:%Y-%m-%d %H:%M:%S} UTC, {stats.last_duration_s:.3f} s, "
            f"{stats.last_outcome}; runs {stats.runs}, failures {stats.failures}")
    if stats.missed:
        line += f", missed {stats.missed}"
    if stats.last_error:
        line += f"\n      last job error: {stats.last_error[:200]}"
    return line


def cmd_webhook(args: argparse.Namespace) -> int:
    config = _config(args)
    if not config["telegram"]["token"]:
        raise ConfigError(["telegram.token: required to talk to Telegram"])
    app = _app(config)
    hook = config["telegram"]["webhook"]
    if args.action == "set":
        if not hook["url"]:
            raise ConfigError(["telegram.webhook.url: required for `webhook set`"])
        app.sender.call("set_webhook", url=hook["url"], secret_token=hook["secret_token"] or None,
                        drop_pending_updates=False)
        print(f"webhook set to {hook['url']}")
    else:
        app.sender.call("delete_webhook")
        print("webhook deleted: use polling mode")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from .backup import backup

    print(backup(_config(args)["database"]["url"], args.output))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from .backup import restore

    restore(_config(args)["database"]["url"], args.path)
    print(f"restored from {args.path}")
    return 0
