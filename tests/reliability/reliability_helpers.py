"""Shared pieces of the reliability suite: the summary ledger, throwaway servers, bot processes,
and the database invariants every case checks after its run."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
        """Start, wait until the fake server saw every update confirmed (or the bot died), stop.

        Returns the server's stats as they were when the wait ended; the bot's exit code is
        kept in ``self.exit_code``.
        """
        self.start()
        try:
            return server.wait(lambda s: s["confirmed_all_at"] is not None or not self.alive(), timeout=timeout)
        finally:
            self.exit_code = self.terminate()

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
