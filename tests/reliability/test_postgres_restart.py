"""3. PostgreSQL restarts mid-run.

What a restart does to a client is kill its connections; the shared server is not stopped, so
the test does the same from another connection: ``pg_terminate_backend`` on every backend of
the bot's database, while quick-adds are in flight on 4 workers. In the full run the database
refuses new connections for two seconds, twice (``ALLOW_CONNECTIONS false``), as during a
real restart. The bot must reconnect by itself, run the interrupted updates again, and end with
every expense stored exactly once and every update answered once.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

import pytest
from reliability_helpers import app_invariants

from framework.db import connection_scope
from framework.testing import DEFAULT_PG
from plugins.expenses.models import Expense

SAVED = re.compile(r"Saved: \$(\d+\.\d\d)")


class Saboteur:
    """Kills the backends of one database from an admin connection (and can lock it out)."""

    def __init__(self, db_name: str) -> None:
        import psycopg2

        self.db_name = db_name
        self.conn = psycopg2.connect(DEFAULT_PG)
        self.conn.autocommit = True
        self.killed = 0

    def terminate(self) -> int:
        with self.conn.cursor() as cur:
            cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = %s AND pid <> pg_backend_pid()", (self.db_name,))
            killed = cur.fetchone()[0]
        self.killed += killed
        return killed

    def lock_out(self, seconds: float) -> None:
        """Refuse new connections for ``seconds`` and kill the open ones: a restart, seen from outside."""
        with self.conn.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{self.db_name}" WITH ALLOW_CONNECTIONS false')
        try:
            self.terminate()
            time.sleep(seconds)
        finally:
            with self.conn.cursor() as cur:
                cur.execute(f'ALTER DATABASE "{self.db_name}" WITH ALLOW_CONNECTIONS true')

    def close(self) -> None:
        self.conn.close()


@pytest.mark.postgres
def test_postgres_connections_killed_mid_run(bot_factory: Any, caplog: pytest.LogCaptureFixture, ledger: Any,
                                             full: bool) -> None:
    caplog.set_level(logging.WARNING)
    bot = bot_factory(plugins={"expenses": {"charts": False}}, database="postgres",
                      config={"ratelimit": {"messages_per_minute": 1_000_000}})
    saboteur = Saboteur(urlparse(bot.app.config["database"]["url"]).path.lstrip("/"))
    users = [bot.user(8000 + i, first_name=f"P{i}") for i in range(8)]
    rounds = 40 if full else 12
    sent: dict[int, list[str]] = {u.id: [] for u in users}
    stop = threading.Event()

    def sabotage() -> None:
        time.sleep(0.05)
        lockouts = 2 if full else 0
        while not stop.is_set():
            saboteur.terminate()
            time.sleep(0.15)
            if lockouts and saboteur.killed and not stop.is_set():
                lockouts -= 1
                saboteur.lock_out(2.0)
                stop.wait(5.0)  # two restarts, not a flapping server

    chaos = threading.Thread(target=sabotage, daemon=True)
    chaos.start()
    try:
        for round_no in range(rounds):
            for index, user in enumerate(users):
                amount = f"{round_no + 1}.{index:02d}"
                sent[user.id].append(amount)
                bot.app.feed({"update_id": bot.next_update_id(),
                              "message": {"message_id": bot.next_message_id(), "date": bot.timestamp(),
                                          "chat": user.chat, "from": user.profile, "text": f"coffee {amount}"}})
            time.sleep(0.02)
        bot.app.join()
    finally:
        stop.set()
        chaos.join(10)
        saboteur.close()

    unanswered = wrong = lost = duplicates = 0
    with connection_scope():
        for user in users:
            rows = [f"{Decimal(e.amount):.2f}" for e in Expense.select().join_from(Expense, Expense.user.rel_model)
                    .where(Expense.user.rel_model.telegram_id == user.id)]
            answers = [r.text or "" for r in bot.telegram.calls if r.chat_id == user.id and r.method == "send_message"]
            expected = [f"{Decimal(a):.2f}" for a in sent[user.id]]
            unanswered += abs(len(expected) - len(answers))
            wrong += sum(1 for a in answers if not SAVED.search(a))
            duplicates += len(rows) - len(set(rows))
            lost += len(set(expected) - set(rows)) + len(set(rows) - set(expected))
    problems = app_invariants(bot.app)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    retries = sum(1 for r in caplog.records if "database error" in r.getMessage())
    total = rounds * len(users)
    ledger.record("postgres backends killed", sent=total, failures=unanswered + wrong + len(errors) + len(problems),
                  lost=lost, duplicates=duplicates,
                  note=f"{saboteur.killed} connections killed, {retries} updates retried")
    assert saboteur.killed > 0, "no connection was killed: the test did not test anything"
    assert lost == 0 and duplicates == 0, (lost, duplicates)
    assert unanswered == 0 and wrong == 0, (unanswered, wrong)
    assert not errors, [r.getMessage()[:300] for r in errors[:5]]
    assert not problems, problems
