"""5. kill -9 of the bot process while 2,000 updates are pending in polling mode, then a restart.

``python -m framework run`` polls the fake Bot API server, which holds quick-adds with unique
amounts. Once the bot is busy, it gets SIGKILL (no chance to clean up) and is started again. In
the full run (two kills, on SQLite and on PostgreSQL) the server holds 2,000 more than the bot
gets through before the last kill, so at least 2,000 are still pending at every kill, counted
once the process is dead; CI loads 2,000 and kills once (about 1,900 pending). Pending means
not processed: stored in ``incoming_updates`` (the polling loop stores each batch and
acknowledges it at once, framework.update_queue) or not fetched from the server yet. A stored
update is processed by the restarted bot, an unconfirmed one is delivered again, and the
pipeline drops an update_id it already committed, so after the restart every quick-add must be
stored exactly once: none lost, none twice. Replies go through the outbox, so every stored quick-add's "Saved"
reply is delivered too, by the restarted process when the killed one committed and never sent it.
"""
from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from reliability_helpers import ROOT, BotProcess, stored_amounts, stored_updates

from benchmarks.fakeapi import FakeApiProcess
from benchmarks.services import Storage, bot_config, write_config
from benchmarks.workloads import UpdateFactory

TOKEN = "555000111:KILL9-token-not-in-logs"
PENDING = 2000
FIRST_KILL = 150      # replies sent before the first kill...
BETWEEN_KILLS = 300   # ...and before each next one, counted from the start
OVERSHOOT = 150       # replies that may get out between seeing a threshold and the kill landing


def full_size(kills: int) -> int:
    """Updates to load so that at least PENDING are unconfirmed at the last kill."""
    return PENDING + FIRST_KILL + BETWEEN_KILLS * (kills - 1) + OVERSHOOT


def run_kill9(tmp_path: Any, database_url: str, total: int, kills: int, min_pending: int) -> dict[str, Any]:
    factory = UpdateFactory(first_update_id=1)
    updates, expected = [], []
    for k in range(total):
        amount = f"{1 + k // 100}.{k % 100:02d}"   # unique: 1.00, 1.01 ... 1.99, 2.00 ...
        expected.append(amount)
        updates.append(factory.message(k % 40, f"coffee {amount}"))
    store = Storage("sqlite" if database_url.startswith("sqlite") else "postgres", database_url)
    pending_at_kill = []
    with FakeApiProcess(cwd=str(ROOT)) as server:
        config = bot_config(store, workers=4, plugins={"expenses": {"charts": False}}, api_url=server.url,
                            token=TOKEN, log_level="INFO")
        path = write_config(config, str(tmp_path / "bot.yaml"))
        server.load(updates)
        log_path = str(tmp_path / "bot.log")
        for kill in range(kills):
            bot = BotProcess(path, log_path)
            bot.start()
            threshold = FIRST_KILL + kill * BETWEEN_KILLS
            server.wait(lambda s, t=threshold, b=bot: s["reply_count"] >= t or not b.alive(), timeout=120,
                        interval=0.05)
            bot.kill9()
            # Exact: a dead bot confirms and processes nothing more. Stored, or still at the server.
            pending_at_kill.append(server.stats()["pending"] + stored_updates(database_url))
        bot = BotProcess(path, log_path)
        bot.serve_all(server, timeout=300)
        code = bot.exit_code
        stats = server.stats()
        replies = [text or "" for method, _chat, text, _t in server.replies() if method == "sendMessage"]
    stored = Counter(stored_amounts(database_url))
    confirmed = Counter(_saved_amounts(replies))
    want = Counter(f"{Decimal(a):.2f}" for a in expected)
    return {
        "sent": total, "min_pending": min_pending, "pending_at_kill": pending_at_kill,
        "left_stored": stored_updates(database_url),
        "complete": stats["confirmed_all_at"] is not None,
        "lost": sum((want - stored).values()), "duplicates": sum(n - 1 for n in stored.values() if n > 1),
        "extra": sum((stored - want).values()), "replies": stats["reply_count"], "redelivered": stats["redelivered"],
        # Every stored expense's "Saved" reply was delivered (the outbox), and how many went twice
        # (a kill between sending and the batched delete of the sent rows).
        "unanswered": sum((stored - confirmed).values()),
        "answered_twice": sum(n - 1 for n in confirmed.values() if n > 1),
        "exit_code": code, "log": bot.log(),
    }


def _saved_amounts(texts: list[str]) -> list[str]:
    """The amounts named by "✅ Saved: ..." replies, as "12.34" strings."""
    return [f"{Decimal(m.group(1)):.2f}" for text in texts if text.startswith("✅ Saved")
            for m in [re.search(r"\$(\d+\.\d\d)", text)] if m]


def _check(result: dict[str, Any], ledger: Any, case: str) -> None:
    failures = int(not result["complete"]) + result["extra"] + int(result["exit_code"] != 0)
    ledger.record(case, sent=result["sent"], failures=failures, lost=result["lost"], duplicates=result["duplicates"],
                  note=f"pending at kill {result['pending_at_kill']}, {result['redelivered']} redelivered, "
                       f"{result['unanswered']} stored without a reply, {result['answered_twice']} replied twice")
    assert all(p >= result["min_pending"] for p in result["pending_at_kill"]), result["pending_at_kill"]
    assert result["complete"], "the restarted bot did not get through the updates"
    assert result["lost"] == 0, f"{result['lost']} quick-adds lost"
    assert result["duplicates"] == 0, f"{result['duplicates']} quick-adds stored twice"
    assert result["extra"] == 0
    assert result["left_stored"] == 0, "stored updates were never processed"
    assert result["unanswered"] == 0, f"{result['unanswered']} committed quick-adds never got their reply"
    assert result["exit_code"] == 0
    assert TOKEN not in result["log"] and TOKEN.split(":")[1] not in result["log"], "token in the log"


def test_kill9_sqlite(tmp_path: Any, ledger: Any, full: bool) -> None:
    url = f"sqlite:///{tmp_path}/bot.db"
    if full:
        result = run_kill9(tmp_path, url, full_size(2), kills=2, min_pending=PENDING)
    else:  # CI: the original size, a single kill
        result = run_kill9(tmp_path, url, PENDING, kills=1, min_pending=PENDING // 2)
    _check(result, ledger, "kill -9 (sqlite)")


@pytest.mark.slow
@pytest.mark.postgres
def test_kill9_postgres(tmp_path: Any, ledger: Any, postgres_url: str) -> None:
    result = run_kill9(tmp_path, postgres_url, full_size(2), kills=2, min_pending=PENDING)
    _check(result, ledger, "kill -9 (postgres)")
