"""Shared pieces of the reliability suite: the summary ledger, throwaway servers, bot processes,
and the database invariants every case checks after its run."""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


# -- the summary -------------------------------------------------------------------------------


@dataclass
class Row:
    case: str
    sent: int
    failures: int
    lost: int
    duplicates: int
    note: str = ""


@dataclass
class Ledger:
    """One row per case; printed as a table when the session ends (see conftest)."""

    rows: list[Row] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, case: str, *, sent: int, failures: int = 0, lost: int = 0, duplicates: int = 0,
               note: str = "") -> None:
        with self._lock:
            self.rows.append(Row(case, sent, failures, lost, duplicates, note))

    def table(self) -> list[str]:
        width = max([len(r.case) for r in self.rows] + [4])
        lines = [f"{'case':<{width}}  {'updates sent':>12}  {'failures':>8}  {'data lost':>9}  {'duplicates':>10}  note",
                 "-" * (width + 60)]
        for r in self.rows:
            lines.append(f"{r.case:<{width}}  {r.sent:>12}  {r.failures:>8}  {r.lost:>9}  {r.duplicates:>10}  {r.note}")
        total = Row("total", *(sum(getattr(r, k) for r in self.rows) for k in ("sent", "failures", "lost", "duplicates")))
        lines.append("-" * (width + 60))
        lines.append(f"{total.case:<{width}}  {total.sent:>12}  {total.failures:>8}  {total.lost:>9}  "
                     f"{total.duplicates:>10}")
        return lines


# -- small utilities -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it is truthy; returns its last value (falsy on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def utf16_len(text: str) -> int:
    """Length the way Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.update(extra)
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL", "DATABASE_URL", "REDIS_URL", "BOT_ADMIN_IDS"):
        env.pop(name, None)  # the test's config file decides
    return env


# -- a Redis server of our own ------------------------------------------------------------------------


class RedisServer:
    """``redis-server`` on a free port, without persistence, that a test may kill and restart."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            if not wait_until(lambda: _ping(client), 10):
                raise RuntimeError(f"redis-server on port {self.port} did not start")
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-command, as in a crash."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def stop(self) -> None:
        self.kill()


def _ping(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001 - not up yet
        return False


# -- a PostgreSQL server of our own -------------------------------------------------------------------


def skip_or_fail(reason: str) -> None:
    """Skip for a missing tool, or fail when CI demands every service (``PLUGBOT_REQUIRE_SERVICES=1``)."""
    import pytest

    from framework.testing import services_required

    if services_required():
        pytest.fail(f"{reason}; PLUGBOT_REQUIRE_SERVICES is set", pytrace=False)
    pytest.skip(reason)


class PostgresCluster:
    """A throwaway PostgreSQL server (``initdb`` into a temp dir) that a test may really restart.

    The shared server cannot be restarted under the other tests' feet, so the restart case owns
    one. initdb refuses to run as root; as root, every PostgreSQL binary runs as the ``postgres``
    system user, on a directory handed over to it (the pytest tmp dir is root-only). fsync is off:
    a restart, even an immediate one, is a process crash, not an OS crash, so nothing committed is
    lost; synchronous_commit stays on, or an acknowledged commit could be.
    """

    TOOLS = ("initdb", "pg_ctl", "postgres")

    def __init__(self) -> None:
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="plugbot-pg-"))
        self.data = self.base / "data"
        self.log_path = self.base / "server.log"
        self.restarts = 0
        self._owner = pwd.getpwnam("postgres") if os.geteuid() == 0 else None

    @classmethod
    def unavailable(cls) -> str | None:
        """Why no cluster can be made on this machine, or None."""
        missing = [tool for tool in cls.TOOLS if shutil.which(tool) is None]
        if missing:
            return f"PostgreSQL server binaries not on PATH: {', '.join(missing)}"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no 'postgres' system user to run initdb as"
        return None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """initdb (first time only), then start and wait until it accepts connections."""
        if not self.data.exists():
            self._initdb()
        self._pg_ctl("start", "-l", str(self.log_path))

    def create_database(self, name: str) -> str:
        """Create ``name`` and return its URL."""
        import psycopg2

        conn = psycopg2.connect(self.url(), connect_timeout=5)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.url(name)

    def restart(self, *, crash: bool, pause: float = 1.5) -> None:
        """``crash=False``: ``pg_ctl restart -m fast`` (clients cut off, open transactions rolled
        back). ``crash=True``: ``pg_ctl stop -m immediate`` (no checkpoint, recovery on start),
        ``pause`` seconds with nothing listening, then start."""
        if crash:
            self._pg_ctl("stop", "-m", "immediate")
            time.sleep(pause)
            self._pg_ctl("start", "-l", str(self.log_path))
        else:
            self._pg_ctl("restart", "-m", "fast", "-l", str(self.log_path))
        self.restarts += 1

    def remove(self) -> None:
        """Stop (immediately: nothing is worth keeping) and delete the directory; never raises."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._pg_ctl("stop", "-m", "immediate")
        except Exception:  # noqa: BLE001 - kill it below
            self._kill_postmaster()
        shutil.rmtree(self.base, ignore_errors=True)

    def _initdb(self) -> None:
        if self._owner is not None:
            os.chown(self.base, self._owner.pw_uid, self._owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C",
                  "--no-sync", "--no-instructions")
        settings = {"listen_addresses": "'127.0.0.1'", "port": str(self.port),
                    "unix_socket_directories": f"'{self.base}'", "fsync": "off", "full_page_writes": "off",
                    "max_connections": "60", "shared_buffers": "32MB"}
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as fh:
            fh.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", *args, "-D", str(self.data), "-w", "-t", "60")

    def _run(self, *command: str) -> None:
        owner = {} if self._owner is None else {"user": self._owner.pw_uid, "group": self._owner.pw_gid,
                                                 "extra_groups": []}
        done = subprocess.run(command, cwd=str(self.base), capture_output=True, text=True, timeout=120,
                              check=False, **owner)
        if done.returncode != 0:
            tail = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            raise RuntimeError(f"{' '.join(command[:2])} failed ({done.returncode}): {done.stderr.strip()}\n{tail}")

    def _kill_postmaster(self) -> None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass


def stored_amounts(url: str) -> list[str]:
    """Every expense amount in the database at ``url``, as "12.34" strings (duplicates kept)."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url[len("sqlite:///"):]) as conn:
            rows = conn.execute("SELECT amount FROM expenses").fetchall()
    else:
        import psycopg2

        conn = psycopg2.connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT amount FROM expenses")
                rows = cur.fetchall()
        finally:
            conn.close()
    return [f"{Decimal(str(row[0])):.2f}" for row in rows]


def stored_updates(url: str) -> int:
    """Updates stored in ``incoming_updates`` and not processed yet, in the database at ``url``."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url[len("sqlite:///"):]) as conn:
            return conn.execute("SELECT count(*) FROM incoming_updates").fetchone()[0]
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM incoming_updates")
            return cur.fetchone()[0]
    finally:
        conn.close()


# -- a bot process ----------------------------------------------------------------------------------


class BotProcess:
    """The bot as its own process: ``python -m framework run`` (or the benchmark runner).

    stdout and stderr go to ``log_path``, so a test can grep everything the bot wrote.
    """

    def __init__(self, config_path: str, log_path: str, *, runner: bool = False,
                 extra: list[str] | None = None) -> None:
        self.config_path = config_path
        self.log_path = log_path
        self.runner = runner
        self.extra = extra or []
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self.exit_code: int | None = None

    def start(self) -> None:
        if self.runner:
            command = [sys.executable, "-m", "benchmarks.runner", "--config", self.config_path,
                       "--stats-out", self.log_path + ".stats.json", *self.extra]
        else:
            command = [sys.executable, "-m", "framework", "run", "--config", self.config_path, *self.extra]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in wait()
        self._proc = subprocess.Popen(command, cwd=str(ROOT), env=child_env(), stdout=self._log,
                                      stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def kill9(self) -> None:
        assert self._proc is not None
        os.kill(self._proc.pid, signal.SIGKILL)
        self.wait(10)

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM (the bot finishes the updates in hand) and wait; kill if it hangs."""
        if self.alive():
            assert self._proc is not None
            self._proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float) -> int:
        assert self._proc is not None
        try:
            code = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            code = self._proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def serve_all(self, server: Any, timeout: float) -> dict[str, Any]:
        """Start, wait until the fake server saw every update confirmed and the bot processed
        every update it stored (or the bot died), stop.

        Returns the server's stats as they were when the wait ended; the bot's exit code is
        kept in ``self.exit_code``.
        """
        self.start()
        try:
            return server.wait(lambda s: self.done(s) or not self.alive(), timeout=timeout)
        finally:
            self.exit_code = self.terminate()

    def done(self, stats: dict[str, Any]) -> bool:
        """The fake server confirmed every update, and the bot processed every one it stored and
        sent every reply it committed (it acknowledges a batch once stored: framework.update_queue)."""
        from benchmarks.services import pending_updates

        if stats["confirmed_all_at"] is None:
            return False
        with open(self.config_path, encoding="utf-8") as fh:
            url = yaml.safe_load(fh)["database"]["url"]
        return pending_updates(url) == 0

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()


# -- invariants ---------------------------------------------------------------------------------------

# (table, column) pairs that must point at an existing users row.
USER_COLUMNS = (("expenses", "user_id"), ("expense_settings", "user_id"), ("categories", "user_id"),
                ("category_memory", "user_id"), ("exchange_rates", "user_id"), ("recurring_expenses", "user_id"),
                ("user_settings", "user_id"), ("hello_greetings", "user_id"))


def invariant_violations(execute: Callable[[str], list[tuple[Any, ...]]], tables: set[str]) -> list[str]:
    """What is wrong with the stored data; ``execute(sql)`` returns rows, ``tables`` those that exist.

    No expense owned by nobody or filed under another user's category, no amount <= 0, no row
    of any plugin table pointing at a missing user, expense, category or schedule.
    """
    checks: list[tuple[str, str]] = []
    if "expenses" in tables:
        checks += [
            ("expenses with amount <= 0", "SELECT count(*) FROM expenses WHERE amount <= 0"),
            ("expenses under another user's category",
             "SELECT count(*) FROM expenses e JOIN categories c ON c.id = e.category_id "
             "WHERE c.user_id IS NOT NULL AND c.user_id <> e.user_id"),
            ("expenses pointing at a missing category",
             "SELECT count(*) FROM expenses e LEFT JOIN categories c ON c.id = e.category_id "
             "WHERE e.category_id IS NOT NULL AND c.id IS NULL"),
            ("recurring runs of a missing schedule",
             "SELECT count(*) FROM recurring_runs r LEFT JOIN recurring_expenses s ON s.id = r.recurring_id "
             "WHERE s.id IS NULL"),
            ("learned words filed under another user's category",
             "SELECT count(*) FROM category_memory m JOIN categories c ON c.id = m.category_id "
             "WHERE c.user_id IS NOT NULL AND c.user_id <> m.user_id"),
        ]
    for table, column in USER_COLUMNS:
        if table in tables:
            checks.append((f"{table} rows of a missing user",
                           f"SELECT count(*) FROM {table} t LEFT JOIN users u ON u.id = t.{column} "
                           f"WHERE t.{column} IS NOT NULL AND u.id IS NULL"))
    problems = []
    for label, sql in checks:
        count = execute(sql)[0][0]
        if count:
            problems.append(f"{count} {label}")
    return problems


def app_invariants(app: Any) -> list[str]:
    """:func:`invariant_violations` on an in-process application's database."""
    from framework.db import connection_scope, database

    with connection_scope():
        tables = set(database.get_tables())
        return invariant_violations(lambda sql: list(database.execute_sql(sql).fetchall()), tables)
