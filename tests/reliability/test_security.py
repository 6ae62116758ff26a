"""6. Security: buttons replayed by another user, SQL-injection-like texts, the bot token in logs.

* Alice uses every part of the expenses plugin that shows buttons (quick add, /list with
  several pages, /undo, /recurring, the /add conversation and its Edit screen). Bob then sends
  the callback data of each of those buttons from his own chat. Every press must be answered
  "This button is not for you." (the core's owner check) and nothing else. Then Bob sends each
  one again with the owner field rewritten to himself (a forgery the owner check cannot see):
  no press may show Alice's data. Neither round may change anything: no row of any expenses
  table, no audit row, not Alice's conversation.
* Texts that look like SQL injection are stored verbatim as expense notes.
* ``python -m framework run`` with DEBUG logging (plain and JSON) against the fake Bot API
  server, with failing requests: the token appears nowhere in what it wrote.
"""
from __future__ import annotations

from typing import Any

import pytest
from reliability_helpers import ROOT, BotProcess

from benchmarks.fakeapi import FakeApiProcess
from benchmarks.services import Storage, bot_config, write_config
from benchmarks.workloads import UpdateFactory
from framework.callbacks import pack_owner
from framework.db import connection_scope, database
from plugins.expenses.models import Expense

NOT_YOURS = "This button is not for you."
BUTTON_PREFIXES = ("exu", "exr", "exe", "exc", "exd", "exl", "exs", "add", "addc", "addf", "addd")
TABLES = ("expenses", "categories", "category_memory", "expense_settings", "recurring_expenses", "recurring_runs",
          "exchange_rates", "audit_logs")
INJECTIONS = ("Robert'); DROP TABLE expenses;--", "1' OR '1'='1", "\"; DELETE FROM users; --",
              "' UNION SELECT telegram_id, 1 FROM users --", "%s %(amount)s ? :1 $1", "\\'; SELECT pg_sleep(5); --",
              "`rm -rf /`", "{{7*7}} ${7*7} <%= 7*7 %>", "admin'/*", "); TRUNCATE audit_logs; --")
ALICE_STEPS = ("coffee 5", "taxi 7", "tea 1", "bus 2", "pizza 3", "lunch 4", "cinema 9", "/list", "/undo",
               "/recurring add 10 rent monthly 1", "/recurring", "/add 5", "Food", "lunch with the team")


def _snapshot() -> dict[str, list[tuple[Any, ...]]]:
    with connection_scope():
        return {table: sorted(map(tuple, database.execute_sql(f"SELECT * FROM {table}").fetchall()), key=repr)
                for table in TABLES}


def _press(bot: Any, user: Any, data: str, message_id: int) -> list[Any]:
    """``user`` sends ``data`` from their own chat (all a client can do with someone else's button)."""
    uid = bot.next_update_id()
    query = {"id": str(uid), "from": user.profile, "chat_instance": "1", "data": data,
             "message": {"message_id": message_id, "date": bot.timestamp(), "chat": user.chat, "text": ""}}
    start = len(bot.telegram.calls)
    bot.app.process_update({"update_id": uid, "callback_query": query})
    return bot.telegram.calls[start:]


@pytest.mark.parametrize("database_kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_buttons_replayed_by_another_user(bot_factory: Any, ledger: Any, database_kind: str) -> None:
    bot = bot_factory(plugins={"expenses": {"charts": False}}, database=database_kind,
                      config={"ratelimit": {"messages_per_minute": 1_000_000}})
    alice, bob = bot.user(1001, first_name="Alice"), bot.user(2002, first_name="Bob")
    for text in ALICE_STEPS:
        alice.send(text)
    from plugins.expenses.conversation import AddStep, Step

    alice.press(data=AddStep(step=Step.EDIT))  # the Edit screen of the draft: its field buttons too
    bob.send("tea 3")  # Bob has data of his own, and no conversation
    buttons = {}
    for reply in bot.telegram.calls:
        if reply.chat_id == alice.id:
            for row in reply.buttons:
                for _, data in row:
                    if data and data.split(":", 1)[0] in BUTTON_PREFIXES:
                        buttons.setdefault(data, reply.message_id or 1)
    assert len(buttons) >= 20, sorted(buttons)
    alice_session = bot.app.sessions.load(alice.id)
    bobs_notes = {e.note for e in _expenses(bob.id)}
    alice_notes = [e.note for e in _expenses(alice.id) if e.note and e.note not in bobs_notes]  # hers alone
    wrong: list[tuple[str, list[tuple[str, str]]]] = []
    changed: list[str] = []
    for data, message_id in sorted(buttons.items()):
        before = _snapshot()
        calls = _press(bot, bob, data, message_id)
        seen = [(c.method, (c.text or "")[:60]) for c in calls]
        if seen != [("answer_callback_query", NOT_YOURS)]:
            wrong.append((data, seen))
        if _snapshot() != before:
            changed.append(data)
        forged = ":".join([data.split(":")[0], pack_owner(bob.id), *data.split(":")[2:]])
        calls = _press(bot, bob, forged, message_id)
        if any(note in (c.text or "") for c in calls for note in alice_notes):
            wrong.append((forged, [(c.method, (c.text or "")[:60]) for c in calls]))
        if _snapshot() != before:
            changed.append(forged)
    session_changed = bot.app.sessions.load(alice.id) != alice_session
    ledger.record(f"button replay ({database_kind})", sent=len(buttons),
                  failures=len(wrong) + len(changed) + int(session_changed), lost=len(changed),
                  note=f"{len(buttons)} distinct buttons of Alice pressed by Bob")
    assert not changed, f"replayed buttons changed data: {changed}"
    assert not session_changed, "Bob's presses changed Alice's conversation"
    assert not wrong, f"answered otherwise than '{NOT_YOURS}', or showed Alice's data: {wrong}"


def _expenses(telegram_id: int) -> list[Any]:
    from framework import User

    with connection_scope():
        return list(Expense.select().join(User, on=(Expense.user == User.id)).where(User.telegram_id == telegram_id))


@pytest.mark.parametrize("database_kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_injection_texts_are_stored_verbatim(bot_factory: Any, ledger: Any, database_kind: str) -> None:
    bot = bot_factory(plugins={"expenses": {"charts": False}}, database=database_kind,
                      config={"ratelimit": {"messages_per_minute": 1_000_000}})
    from plugins.expenses.conversation import AddStep, Step

    mallory = bot.user(3003, first_name="Mallory'; DROP TABLE users;--", username="x' OR '1'='1")
    for text in INJECTIONS:
        mallory.send("/add 5")
        mallory.send("Food")
        mallory.send(text)
        mallory.press(data=AddStep(step=Step.OK))
    with connection_scope():
        notes = [e.note for e in Expense.select().order_by(Expense.id)]
        users = database.execute_sql("SELECT count(*) FROM users").fetchone()[0]
        audits = database.execute_sql("SELECT count(*) FROM audit_logs").fetchone()[0]
    missing = [text for text in INJECTIONS if text not in notes]
    ledger.record(f"injection texts ({database_kind})", sent=len(INJECTIONS) * 4, failures=len(missing),
                  lost=len(missing), note=f"{len(notes)} notes stored, tables intact")
    assert not missing, f"not stored verbatim: {missing}; stored: {notes}"
    assert users == 1 and audits >= len(INJECTIONS)


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_token_never_logged(tmp_path: Any, ledger: Any, fmt: str) -> None:
    """The real CLI at DEBUG level, with 502s, drops and 429s on its requests and a config error
    path exercised: the token, in any form, is in no line it wrote."""
    from urllib.parse import quote

    token = "424242424:SECURITY-token-must-stay-secret"
    factory = UpdateFactory(first_update_id=1)
    updates = [factory.message(u, text) for u in range(5) for text in ("/start", "coffee 5", "/nosuch", "hello")]
    store = Storage("sqlite", f"sqlite:///{tmp_path}/bot.db")
    with FakeApiProcess(cwd=str(ROOT)) as server:
        config = bot_config(store, workers=2, plugins={"expenses": {"charts": False}}, api_url=server.url, token=token,
                            log_level="DEBUG")
        config["logging"]["format"] = fmt
        path = write_config(config, str(tmp_path / "bot.yaml"))
        server.faults(p429=0.1, p502=0.15, pdrop=0.1, methods="all", max_per_message=2, seed=3)
        server.load(updates)
        bot = BotProcess(path, str(tmp_path / "bot.log"))
        stats = bot.serve_all(server, timeout=120)
        code = bot.exit_code
    log = bot.log()
    secret = token.split(":", 1)[1]
    leaks = [form for form in (token, quote(token, safe=""), secret) if form in log]
    ledger.record(f"token in logs ({fmt})", sent=len(updates), failures=len(leaks) + int(code != 0),
                  note=f"{len(log.splitlines())} log lines at DEBUG, {sum(stats['faults'].values())} faults")
    assert stats["confirmed_all_at"] is not None
    assert len(log.splitlines()) > 50, "suspiciously little logging at DEBUG"
    assert not leaks, f"token found in the log: {leaks}"
    assert code == 0
