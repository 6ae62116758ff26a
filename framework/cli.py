"""Command line: ``python -m framework run [--processes N] | worker | console | migrate | check-config | health |
plugins | webhook set|delete | backup | restore | clear-redis`` (also installed as ``plugbot``),
and ``python -m framework <plugin> <command> [args...]`` for the commands plugins add
(``plugbot_register_cli``).

Operator mistakes (a broken config, a bad database URL) print one line per
problem and exit with status 2, never a traceback. An operation that was
tried and failed (a database that does not answer, a broken backup) prints one
line and exits with status 1.
"""
from __future__ import annotations

import argparse
import io
import logging
import os
import signal
import stat
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import requests

from .config import ConfigError, load_config
from .redaction import describe_error, install_excepthooks, redact, redacting_streams

if TYPE_CHECKING:
    from .scheduler import JobStats

log = logging.getLogger("plugbot.cli")

DEFAULT_CONFIG = "config.yaml"


def main(argv: Sequence[str] | None = None) -> int:
    # Whatever a command prints, and any traceback nobody caught, goes out without a secret.
    redacting_streams()
    install_excepthooks()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    plugin_command = _plugin_command(parser, argv)
    try:
        if plugin_command is not None:
            return cmd_plugin(*plugin_command)
        args = parser.parse_args(argv)
        return args.func(args)
    except ConfigError as exc:
        for line in exc.errors:
            print(f"config error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from .db import DatabaseURLError

        if isinstance(exc, DatabaseURLError):
            print(f"config error: database.url: {exc}", file=sys.stderr)
            return 2
        problem = startup_problem(exc)
        if problem is None:
            raise  # a bug, not the operator's setup: the (redacted) traceback is what helps
        return _fail(args.command, problem, 2)


def startup_problem(exc: BaseException) -> str | None:
    """One line naming the setting behind ``exc`` when it is a problem of configuration or
    environment (a database, Redis or Telegram that cannot be reached, a token refused), else None."""
    import peewee
    import redis
    from telebot import apihelper

    from .db import DatabaseURLError
    from .redisconn import ServiceUnavailable
    from .sender import SendError

    if isinstance(exc, DatabaseURLError):
        return f"database.url: {exc}"
    if isinstance(exc, peewee.OperationalError | peewee.InterfaceError):
        return f"database.url: cannot use the database: {describe_error(exc)}"
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError | ServiceUnavailable):
        return f"redis.url: cannot reach Redis: {describe_error(exc)}"
    if isinstance(exc, SendError | apihelper.ApiException | requests.exceptions.RequestException):
        code = getattr(exc, "error_code", None)
        if code == 401:
            return "telegram.token: Telegram refused the token (401 Unauthorized): is it the one @BotFather gave?"
        if code == 404:
            return "telegram.token or telegram.api_url: Telegram answered 404 Not Found: is either wrong?"
        if code is None:
            return f"telegram.api_url: cannot reach the Bot API: {describe_error(exc)}"
        return f"telegram: {describe_error(exc)}"
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="plugbot", description="plugbot: a plugin-based Telegram bot")
    parser.add_argument("--config", default=None, help=f"config file (default: {DEFAULT_CONFIG} if present)")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, func: Any, help_text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--config", default=argparse.SUPPRESS, help="config file")
        cmd.set_defaults(func=func)
        return cmd

    run = add("run", cmd_run, "run the bot (console mode when no token is configured)")
    run.add_argument("--processes", type=int, default=None, metavar="N",
                     help="this process only receives; N worker processes (`worker`) process "
                          "(default: config `processes`; 1 = one process does both; PostgreSQL only above 1)")
    add("worker", cmd_worker, "process stored updates only (no polling, no webhook): more workers, "
                              "on this machine or another, on the same PostgreSQL")
    add("console", cmd_console, "talk to the bot on this terminal")
    migrate = add("migrate", cmd_migrate, "apply pending migrations of the core and every plugin")
    action = migrate.add_mutually_exclusive_group()
    action.add_argument("--list", action="store_true", help="show applied and pending migrations")
    action.add_argument("--down", metavar="PLUGIN/NNNN", default=None,
                        help="roll back that migration and every later one of the plugin, newest first")
    add("check-config", cmd_check_config, "validate the configuration and the plugins")
    add("health", cmd_health, "check the database, Redis and the running bot's progress (exit 1 if unhealthy)")
    add("plugins", cmd_plugins, "list plugins: live status, version, schema, commands, models, jobs, last error")
    webhook = add("webhook", cmd_webhook, "register, show or remove the webhook with Telegram")
    webhook.add_argument("action", choices=("set", "info", "delete"))
    backup = add("backup", cmd_backup, "write a checked backup of the database")
    backup.add_argument("--output", default=None,
                        help="file, or directory for bot-<UTC timestamp>.* (default: backups/)")
    restore = add("restore", cmd_restore, "replace the database with a backup, all or nothing (stop the bot first)")
    restore.add_argument("path")
    restore.add_argument("--force", action="store_true", help="replace a database that has tables (they are dropped)")
    add("clear-redis", cmd_clear_redis, "drop the bot's cache, sessions and rate limits in Redis (bot stopped)")
    return parser


def _plugin_command(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[str | None, list[str]] | None:
    """``[--config PATH] <plugin> <command> [args...]`` → (config path, the rest); None for a built-in
    command (or no command), which argparse then handles."""
    config, rest = None, list(argv)
    if rest[:1] == ["--config"] and len(rest) > 1:
        config, rest = rest[1], rest[2:]
    elif rest and rest[0].startswith("--config="):
        config, rest = rest[0].partition("=")[2], rest[1:]
    builtins = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    if not rest or rest[0].startswith("-") or rest[0] in builtins:
        return None
    return config, rest


def cmd_plugin(config_path: str | None, rest: list[str]) -> int:
    """Run ``<plugin> <command> [args...]``; a name no plugin registered lists what there is (exit 2)."""
    config = _config(argparse.Namespace(config=config_path))
    app = _app(config)
    try:
        plugin, name = rest[0], (rest[1] if len(rest) > 1 else "")
        if (plugin, name) not in app.routes.cli:
            known = sorted(f"{p} {n}" + (f": {c.help}" if c.help else "") for (p, n), c in app.routes.cli.items())
            print(f"plugbot: unknown command {' '.join(rest[:2])!r}; plugins offer: "
                  + ("; ".join(known) if known else "nothing"), file=sys.stderr)
            return 2
        return app.run_cli(plugin, name, rest[2:])
    finally:
        app.stop()  # never started: no shutdown hooks run, the pool closes, the process may build another


def _config(args: argparse.Namespace) -> dict[str, Any]:
    return load_config(config_path(args))


def config_path(args: argparse.Namespace) -> str:
    """The config file a command uses: ``--config``, else ``PLUGBOT_CONFIG``, else ``config.yaml`` here.

    A missing default file is an error, not an empty config: a bot started from the wrong
    directory would otherwise run with no plugins while saying nothing.
    """
    path = getattr(args, "config", None) or os.environ.get("PLUGBOT_CONFIG")
    if path:
        return path
    if os.path.exists(DEFAULT_CONFIG):
        return DEFAULT_CONFIG
    raise ConfigError([f"no config file: there is no {DEFAULT_CONFIG} in {os.getcwd()}; "
                       "name one with --config PATH or PLUGBOT_CONFIG"])


def _app(config: dict[str, Any], **kwargs: Any) -> Any:
    from .app import Application

    return Application(config, **kwargs)


def _logging(config: dict[str, Any]) -> None:
    from .logs import configure_logging

    configure_logging(level=config["logging"]["level"], fmt=config["logging"]["format"])


def cmd_run(args: argparse.Namespace) -> int:
    from .config import processes_problem

    config = _config(args)
    processes = getattr(args, "processes", None) or config["processes"]
    problem = processes_problem(config, processes) if processes != config["processes"] else None
    if problem is not None:
        raise ConfigError([f"--processes {processes}: {problem.partition(': ')[2]}"])
    if not config["telegram"]["token"]:
        if not _console_has_input():
            return _fail("run", NO_TOKEN, 2)
        print("no telegram.token (TELEGRAM_BOT_TOKEN) set: starting console mode", file=sys.stderr)
        return cmd_console(args, config, require_input=True)
    _logging(config)
    log.info("config: %s", os.path.abspath(config_path(args)))
    if config["telegram"]["mode"] == "webhook":
        return _run_gunicorn(config, config_path(args))
    if processes > 1 and config["metrics"]["port"]:
        _share_metrics_directory()
    app = _app(config)
    children: list[Any] = []
    try:
        if processes > 1:
            app.queue.workers = 0  # this process receives; the worker processes process
        app.start()  # inside: a start that fails (Telegram unreachable) still stops what it began
        _stop_on_signals(app, children)
        if processes > 1:
            children.extend(_start_workers(args, processes))
        else:
            app.queue.start()
        mode = config["telegram"]["mode"]
        log.info("plugbot running as @%s (%s, %s)", app.bot_username, mode,
                 f"{processes} worker processes" if processes > 1 else f"{config['workers']} workers")
        from .heartbeat import Heartbeat

        with Heartbeat(app, mode) as heartbeat:
            from .transports.polling import run_polling

            polling = config["telegram"]["polling"]
            metrics_server = _serve_metrics(app, config)
            try:
                run_polling(app, timeout=polling["timeout"], limit=polling["limit"], progress=heartbeat)
            finally:
                if metrics_server is not None:
                    metrics_server.shutdown()
    finally:
        try:
            _stop_workers(children)
        finally:
            app.stop()
    log.info("plugbot stopped")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Process stored updates until SIGTERM: no polling, no webhook (another process receives)."""
    from .db import is_postgres

    config = _config(args)
    if not config["telegram"]["token"]:
        raise ConfigError(["telegram.token: required: a worker sends the replies (TELEGRAM_BOT_TOKEN)"])
    _logging(config)
    app = _app(config)
    try:
        if not is_postgres(app.db):
            raise ConfigError(["database.url: a worker process needs PostgreSQL; SQLite serves one process "
                               "(run `python -m framework run` alone)"])
        app.start()
        _stop_on_signals(app)
        app.queue.start()
        log.info("plugbot worker running as @%s (%d workers)", app.bot_username, config["workers"])
        from .heartbeat import Heartbeat

        # A worker of `run --processes` is summed in its receiver's /metrics; one on its own serves its own.
        metrics_server = None if os.environ.get(SPAWNED_ENV) else _serve_metrics(app, config)
        try:
            with Heartbeat(app, "worker"):
                while not app.stopping.wait(1.0):
                    pass
        finally:
            if metrics_server is not None:
                metrics_server.shutdown()
    finally:
        app.stop()
    log.info("plugbot worker stopped")
    return 0


METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
SPAWNED_ENV = "PLUGBOT_SPAWNED_WORKER"  # set for the worker processes `run --processes` starts


def _share_metrics_directory() -> None:
    """``run --processes N`` with ``metrics.port``: the worker processes (which inherit the
    environment) write their values where the receiver's /metrics sums them, as under gunicorn.
    Set before ``prometheus_client`` is first imported, which reads it then."""
    import tempfile

    if not os.environ.get(METRICS_DIR_ENV):  # not framework.metrics': importing it imports prometheus_client
        os.environ[METRICS_DIR_ENV] = tempfile.mkdtemp(prefix="plugbot-metrics-")


def _metrics_process_dead(pid: int) -> None:
    """A worker process that exited no longer counts in the live gauges (its counters still do)."""
    if os.environ.get(METRICS_DIR_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def _start_workers(args: argparse.Namespace, count: int) -> list[Any]:
    """``count`` processes of ``python -m framework worker`` on the same config; none is restarted
    (a supervisor — systemd, Kubernetes — restarts the whole bot), and one that exits is logged."""
    import subprocess
    import threading

    path = os.path.abspath(config_path(args))
    env = dict(os.environ, **{SPAWNED_ENV: "1"})
    children = [subprocess.Popen([sys.executable, "-m", "framework", "worker", "--config", path], env=env)
                for _ in range(count)]

    def watch(child: Any) -> None:
        code = child.wait()
        _metrics_process_dead(child.pid)
        if not getattr(child, "stopping", False):
            log.error("worker process %d exited (status %s); it is not restarted", child.pid, code)

    for child in children:
        threading.Thread(target=watch, args=(child,), name=f"plugbot-watch-{child.pid}", daemon=True).start()
    log.info("started %d worker processes: %s", count, ", ".join(str(c.pid) for c in children))
    return children


def _stop_workers(children: list[Any], timeout: float = 60) -> None:
    """SIGTERM each worker process (it finishes the update in hand), then wait; kill one that hangs."""
    import subprocess

    for child in children:
        child.stopping = True
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("worker process %d did not stop within %.0f s: killed", child.pid, timeout)
            child.kill()
            child.wait()


def _serve_metrics(app: Any, config: dict[str, Any]) -> Any:
    """/metrics of a polling bot, on ``metrics.port`` when one is set (a webhook serves it itself)."""
    settings = config["metrics"]
    if not settings["port"]:
        return None
    from .metrics import serve_metrics

    try:
        server = serve_metrics(app, settings["port"], settings["listen"])
    except OSError as exc:
        raise ConfigError([f"metrics.port: cannot listen on {settings['listen']}:{settings['port']}: "
                           f"{describe_error(exc)}"]) from None
    log.info("metrics on http://%s:%s/metrics", settings["listen"], settings["port"])
    return server


def _run_gunicorn(config: dict[str, Any], path: str) -> int:
    """Webhook mode: become gunicorn, serving ``framework.transports.webhook:create_app()`` with
    the settings of gunicorn.conf.py. The config travels as PLUGBOT_CONFIG (a path, no secret):
    the token never appears on a command line another user of the machine could read."""
    hook = config["telegram"]["webhook"]
    _check_port(hook["listen"], int(hook["port"]))
    _preflight(config)
    env = dict(os.environ, PLUGBOT_CONFIG=os.path.abspath(path))
    command = [sys.executable, "-m", "gunicorn", "-c", "python:framework.transports.gunicorn_settings",
               "framework.transports.webhook:create_app()"]
    log.info("webhook mode: starting gunicorn on %s:%s", hook["listen"], hook["port"])
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, command, env)  # signals (SIGTERM from docker stop) reach gunicorn itself
    return 0  # not reached


def _preflight(config: dict[str, Any]) -> None:
    """What `run` checks before serving, here rather than in gunicorn's workers: a database, Redis
    or Bot API that cannot be reached, a refused token or a pending migration is then one line and
    exit 2, not a worker that fails to boot. The application is stopped before gunicorn forks."""
    with _app(config) as app:
        if config["auto_migrate"]:
            app.migrate()
        else:
            app._require_migrated()
        app.sender.call("get_me")


def _check_port(listen: str, port: int) -> None:
    """Refuse a port that is taken in one line, before gunicorn would retry binding it for seconds."""
    import socket

    family = socket.AF_INET6 if ":" in listen else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((listen, port))
        except OSError as exc:
            raise ConfigError([f"telegram.webhook.port: cannot listen on {listen}:{port}: "
                               f"{describe_error(exc)}"]) from None


def _stop_on_signals(app: Any, children: list[Any] | None = None) -> None:
    """The first SIGTERM/SIGINT stops after the updates in hand; a second exits at once, passing
    the signal on to ``children`` (`run --processes`' workers) so none is left running alone."""
    def stop(signum: int, frame: Any) -> None:
        if app.stopping.is_set():
            # A second signal: the operator will not wait. Updates not confirmed come again.
            log.warning("signal %s again: exiting now; the updates in hand will be delivered again", signum)
            for child in children or ():
                if child.poll() is None:
                    child.send_signal(signum)  # a worker finishes its update in hand and exits
            os._exit(128 + signum)
        log.info("signal %s: stopping after the updates in hand", signum)
        app.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


NO_TOKEN = ("telegram.token: TELEGRAM_BOT_TOKEN is not set, and there is no terminal or input for console "
            "mode; set it to run the bot")


def _console_has_input() -> bool:
    """Whether console mode could read anything: a terminal, or a pipe or file that may bring lines.

    A container's stdin is closed or ``/dev/null``: console mode would read EOF and exit 0 at once,
    and the container would quietly stop or restart in a loop.
    """
    stream = sys.stdin
    if stream is None or stream.closed:
        return False
    try:
        if stream.isatty():
            return True
        info = os.fstat(stream.fileno())
    except io.UnsupportedOperation:
        return True  # a stream of the embedding program's (a test's StringIO): it brings what it brings
    except (OSError, ValueError):
        return False
    if stat.S_ISCHR(info.st_mode):  # a character device that is not a terminal: /dev/null
        return False
    return not (stat.S_ISREG(info.st_mode) and info.st_size == 0)


def cmd_console(args: argparse.Namespace, config: dict[str, Any] | None = None, *,
                require_input: bool = False) -> int:
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
        processed = run_console(app, sys.stdin, sys.stdout)
    finally:
        app.stop()
    if require_input and processed == 0 and not sys.stdin.isatty():
        return _fail("run", NO_TOKEN, 2)  # a pipe that brought nothing: the same mistake as /dev/null
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    with _app(_config(args)) as app:
        return _migrate(app, args)


def _migrate(app: Any, args: argparse.Namespace) -> int:
    if args.down:
        return _rollback(app, args.down)
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


def _rollback(app: Any, spec: str) -> int:
    from .heartbeat import BotRunning, refuse_while_running
    from .migrations import RollbackError

    plugin, _, target = spec.partition("/")
    if not plugin or not target:
        return _fail("migrate --down", f"{spec!r}: expected PLUGIN/NNNN, e.g. core/0003", 2)
    try:
        refuse_while_running("rolling back migrations")
        reverted = app.rollback(plugin, target)
    except BotRunning as exc:
        return _fail("migrate --down", str(exc), 2)
    except RollbackError as exc:
        return _fail("migrate --down", str(exc), 1)
    except Exception as exc:  # noqa: BLE001 - the database did not answer: one line, not a traceback
        return _fail("migrate --down", _unreadable(exc), 1)
    for name in reverted:
        print(f"rolled back {plugin}: {name}")
    print(f"{len(reverted)} migration(s) rolled back; install the code that matches before starting the bot")
    return 0


def _fail(command: str, message: str, code: int) -> int:
    print(f"{command}: {message}", file=sys.stderr)
    return code


def _unreadable(exc: BaseException) -> str:
    from .health import describe_error

    return f"cannot read the database: {describe_error(exc)}"


def _bind_database(config: dict[str, Any]) -> Any:
    """Bind the models to ``database.url`` for a command that runs no application."""
    from . import db as dbmod

    try:
        database = dbmod.connect(config["database"]["url"], pool_size=2)
    except dbmod.DatabaseURLError as exc:
        raise ConfigError([f"database.url: {exc}"]) from None
    dbmod.database.initialize(database)
    return database


def _close(database: Any) -> None:
    if hasattr(database, "close_all"):
        database.close_all()


def cmd_check_config(args: argparse.Namespace) -> int:
    """Build everything ``run`` builds short of talking to Telegram — the plugins loaded and their
    handlers registered, the database and Redis reached — and report every problem found."""
    print(f"config: {os.path.abspath(config_path(args))}")
    try:
        config = _config(args)
    except ConfigError as exc:
        if exc.partial is None:
            raise
        raise ConfigError(exc.errors + [problem for problem in _reach_services(exc.partial, quiet=True)
                                        if problem not in exc.errors]) from None
    errors: list[str] = []
    logging.disable(logging.CRITICAL)  # every problem is one of the lines below, not a log record
    try:
        app = _app(config, api=_NoTelegram())
        app.stop()
        for name, plugin in app.plugins.plugins.items():
            if plugin.status == "failed":  # run starts without it (strict_plugins: false), so not an error
                print(f"warning: plugins.{name}: {plugin.error}; `run` skips it", file=sys.stderr)
    except ConfigError as exc:
        errors.extend(exc.errors)
    except Exception as exc:  # noqa: BLE001 - collected with the others, one line each
        problem = startup_problem(exc)
        if problem is None:
            raise
        errors.append(problem)
    finally:
        logging.disable(logging.NOTSET)
    errors.extend(problem for problem in _reach_services(config) if problem not in errors)
    if errors:
        raise ConfigError(errors)
    print("config OK")
    return 0


class _NoTelegram:
    """The Bot API for ``check-config``: it never calls Telegram (a call would be a bug)."""

    def call(self, method: str, **params: Any) -> Any:
        raise RuntimeError(f"check-config must not call Telegram ({method})")


def _reach_services(config: dict[str, Any], *, quiet: bool = False) -> list[str]:
    """One line for the database and one for Redis when they cannot be used, else nothing.
    A SQLite file that does not exist yet is not created: its folder only has to be writable.
    ``quiet``: the config failed validation, so a setting already reported is not tried again."""
    from . import db as dbmod
    from .redisconn import connect_redis

    problems: list[str] = []
    url = config["database"]["url"]
    if quiet and not (isinstance(url, str) and isinstance(config["redis"]["url"], str)):
        return problems
    try:
        database = dbmod.connect(url, pool_size=1)
    except dbmod.DatabaseURLError as exc:
        problems.append(f"database.url: {exc}")
    else:
        path = getattr(database, "database", "") if not dbmod.is_postgres(database) else ""
        try:
            if path and path != ":memory:" and not os.path.exists(path):
                folder = os.path.dirname(os.path.abspath(path))
                if not os.access(folder, os.W_OK):
                    raise PermissionError(13, "permission denied", folder)
            else:
                database.connect()
                database.execute_sql("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any failure is the answer
            problems.append(f"database.url: cannot use the database: {describe_error(exc)}")
        finally:
            _close(database)
    try:
        client = connect_redis(config["redis"]["url"])
    except ConfigError as exc:
        problems.extend(exc.errors)
    else:
        if client is not None:
            try:
                client.ping()
            except Exception as exc:  # noqa: BLE001
                problems.append(f"redis.url: cannot reach Redis: {describe_error(exc)}")
            finally:
                client.close()
    return problems


def cmd_health(args: argparse.Namespace) -> int:
    """For container health checks and monitors: the checks behind the webhook's ``/healthz``."""
    from .health import check_health
    from .redisconn import connect_redis

    config = _config(args)
    database = _bind_database(config)
    try:
        report = check_health(config, connect_redis(config["redis"]["url"]))
    finally:
        _close(database)
    print(report.text(), end="")
    return 0 if report.healthy else 1


def cmd_plugins(args: argparse.Namespace) -> int:
    """Each plugin with its live status, versions, commands, models and jobs. The running bot's
    state (pauses, job runs, its heartbeat) comes from the database, where it keeps it for this
    listing; a database that cannot be read is a failure, not an empty listing."""
    with _app(_config(args)) as app:
        return _plugins(app)


def _plugins(app: Any) -> int:
    try:
        process, saved, runs, migrations = _bot_state(app)
    except Exception as exc:  # noqa: BLE001 - whatever stops the read, the answer is one line
        return _fail("plugins", _unreadable(exc), 1)
    from .heartbeat import is_running

    running = process is not None and is_running(process)
    print(_process_line(process, running))
    for name, plugin in app.plugins.plugins.items():
        state = saved.get(name)
        status = plugin.status
        if running and state is not None and plugin.status == "enabled":
            status = state.status
        error = (state.last_error if state is not None else None) or plugin.error
        version = plugin.info.version if plugin.info else "-"
        commands = ", ".join("/" + c.name for c in app.routes.commands_of(name)) or "-"
        models = ", ".join(m._meta.table_name for m in plugin.models) or "-"
        job_ids = [j.id for j in app.routes.jobs.values() if j.plugin == name]
        print(f"{name} {version} [{status}]{' (built-in)' if plugin.builtin else ''}")
        if not running and state is not None and state.status not in ("enabled", plugin.status):
            print(f"  when the bot stopped: {state.status}")
        print(f"  schema:   {_schema_line([m for m in migrations if m.plugin == name])}")
        print(f"  commands: {commands}\n  models:   {models}\n  jobs:     {', '.join(job_ids) or '-'}")
        for job_id in job_ids:
            print(_job_line(job_id, runs.get(job_id)))
        if error:
            print(f"  last error: {error}")
    return 0


def _bot_state(app: Any) -> tuple[Any, dict[str, Any], dict[str, Any], list[Any]]:
    """(latest process, saved plugin states, job runs, migrations): what ``plugins`` shows.
    A database not migrated yet simply has none of them; one that does not answer raises."""
    from .db import connection_scope, database
    from .heartbeat import latest_process
    from .models import JobRun, PluginState
    from .scheduler import DbJobStatsStore

    with connection_scope():
        tables = set(database.get_tables())
        process = latest_process()
        saved = {row.name: row for row in PluginState.select()} if PluginState._meta.table_name in tables else {}
        runs = DbJobStatsStore().load_all() if JobRun._meta.table_name in tables else {}
        migrations = app.migration_status()
    return process, saved, runs, migrations


def _process_line(process: Any, running: bool) -> str:
    from .heartbeat import describe_process

    if process is None:
        return "bot: no bot process has run on this database yet; plugin states are the configured ones"
    if running:
        return (f"bot: running ({describe_process(process)}); plugin states as of "
                f"{process.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC")
    return (f"bot: not running ({describe_process(process)}, last heartbeat "
            f"{process.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC); plugin states are the configured ones")


def _schema_line(migrations: list[Any]) -> str:
    """``0002_job_runs (2 applied)``, ``0001_initial (1 applied, 1 pending: 0002_tags)``, ``-``."""
    if not migrations:
        return "-"
    applied = [m.name for m in migrations if m.applied_at is not None]
    pending = [m.name for m in migrations if m.applied_at is None]
    head = applied[-1] if applied else "none applied"
    counts = [f"{len(applied)} applied"] if applied else []
    if pending:
        counts.append(f"{len(pending)} pending: {', '.join(pending)}")
    return f"{head} ({'; '.join(counts)})" if counts else head


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
    hook = config["telegram"]["webhook"]
    errors = [] if config["telegram"]["token"] else ["telegram.token: required to talk to Telegram"]
    if args.action == "set":
        if not hook["url"]:
            errors.append("telegram.webhook.url: required for `webhook set`")
        if not hook["secret_token"]:
            # In every mode: a webhook without a secret takes updates from anyone who finds its URL.
            errors.append("telegram.webhook.secret_token: required for `webhook set` in every mode "
                          "(TELEGRAM_WEBHOOK_SECRET); without it anyone who finds the URL can forge updates")
    if errors:
        raise ConfigError(errors)
    with _app(config) as app:
        if args.action == "set":
            from .transports.webhook import set_webhook, updates_to_ask_for

            allowed = updates_to_ask_for(app)
            set_webhook(app, allowed_updates=allowed)
            print(f"webhook set to {redact(hook['url'])}")
            print(f"allowed_updates: {', '.join(allowed)}; "
                  f"max_connections: {hook['max_connections']}")
        elif args.action == "info":
            from .transports.webhook import webhook_info

            _print_webhook_info(webhook_info(app))
        else:
            app.sender.call("delete_webhook")
            print("webhook deleted: use polling mode")
    return 0


def _print_webhook_info(info: dict[str, Any]) -> None:
    print(f"url: {info['url'] or '(none: polling)'}")
    print(f"pending_update_count: {info['pending_update_count']}")
    print(f"max_connections: {info['max_connections'] if info['max_connections'] is not None else '-'}")
    allowed = info["allowed_updates"]
    print(f"allowed_updates: {', '.join(allowed) if allowed else 'Telegram default'}")
    if info["last_error_date"] or info["last_error_message"]:
        print(f"last_error: {info['last_error_date'] or '-'}: {info['last_error_message'] or '-'}")
    else:
        print("last_error: none")
    if info["last_synchronization_error_date"]:
        print(f"last_synchronization_error: {info['last_synchronization_error_date']}")


def cmd_backup(args: argparse.Namespace) -> int:
    from .backup import BackupError, backup
    from .db import DatabaseURLError, connect

    url = _config(args)["database"]["url"]
    try:
        connect(url, pool_size=1)  # reads the URL, opens nothing
    except DatabaseURLError as exc:
        raise ConfigError([f"database.url: {exc}"]) from None
    try:
        print(backup(url, args.output))
    except BackupError as exc:
        return _fail("backup", str(exc), 2 if exc.refused else 1)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from .backup import BackupError, restore
    from .heartbeat import BotRunning
    from .redisconn import connect_redis

    config = _config(args)
    url, prefix = config["database"]["url"], config["redis"]["prefix"]
    try:
        _refuse_while_running(config, "restoring a backup")
        result = restore(url, args.path, force=args.force, redis_client=connect_redis(config["redis"]["url"]),
                         redis_prefix=prefix)
    except BotRunning as exc:
        return _fail("restore", str(exc), 2)
    except BackupError as exc:
        return _fail("restore", str(exc), 2 if exc.refused else 1)
    print(f"restored {args.path} into {result.target} ({result.tables} tables)")
    if result.redis_keys is None:
        print("no Redis configured: the bot's sessions, rate limits and cache went with its process")
    else:
        where = f" under prefix {prefix!r}" if prefix else ""
        print(f"dropped {result.redis_keys} Redis key(s) of the bot{where}: cache, sessions, rate limits")
    print("start the bot: it applies the migrations the backup predates (`migrate --list` shows them)")
    return 0


def _refuse_while_running(config: dict[str, Any], action: str) -> None:
    """Raise BotRunning if a bot serves the configured database. A database that cannot be read
    is left to the command itself, which says what is wrong with it."""
    from .heartbeat import refuse_while_running

    database = _bind_database(config)
    try:
        refuse_while_running(action)
    except Exception as exc:  # noqa: BLE001
        from .heartbeat import BotRunning

        if isinstance(exc, BotRunning):
            raise
        log.debug("could not check for a running bot", exc_info=True)
    finally:
        _close(database)


def cmd_clear_redis(args: argparse.Namespace) -> int:
    """What a restore does to Redis, on its own: for when a restore could not reach Redis."""
    from .health import describe_error
    from .heartbeat import BotRunning
    from .redisconn import connect_redis, drop_bot_state

    config = _config(args)
    client = connect_redis(config["redis"]["url"])
    if client is None:
        print("no Redis configured: nothing to clear")
        return 0
    try:
        _refuse_while_running(config, "clearing its Redis state")
        deleted = drop_bot_state(client, config["redis"]["prefix"])
    except BotRunning as exc:
        return _fail("clear-redis", str(exc), 2)
    except Exception as exc:  # noqa: BLE001
        return _fail("clear-redis", f"redis: {describe_error(exc)}", 1)
    print(f"dropped {deleted} Redis key(s) of the bot: cache, sessions, rate limits")
    return 0
