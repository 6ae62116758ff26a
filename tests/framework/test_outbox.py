"""framework/outbox.py: replies are written with the update's effects, sent after the commit, and a
process that died in between has them sent by whoever starts next (or by the resend job)."""
from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from telebot import types

from framework import connection_scope
from framework.context import Outgoing
from framework.heartbeat import STALE_AFTER
from framework.models import BotProcess, OutboxMessage
from framework.outbox import Outbox, decode_calls, encode_calls
from framework.testing import FakeTelegram

HERE = Path(__file__).parent
EXAMPLES = HERE.parents[1] / "examples" / "hello"
HELLO = {"hello": {"module": "plugbot_hello"}}
GREETING = "👋 Hello, Ann! That's greeting #1."


@pytest.fixture(autouse=True)
def _plugin_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))


def message(update_id: int, text: str, user_id: int = 7) -> dict[str, Any]:
    sender = {"id": user_id, "is_bot": False, "first_name": "Ann"}
    return {"update_id": update_id, "message": {"message_id": update_id, "date": 0, "text": text,
                                                "chat": {"id": user_id, "type": "private"}, "from": sender}}


def outbox_rows() -> list[OutboxMessage]:
    with connection_scope():
        return list(OutboxMessage.select().order_by(OutboxMessage.id))


def sent_texts(bot: Any) -> list[str]:
    return [c.text for c in bot.telegram.calls if c.method == "send_message"]


def _killed_before_sending(bot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies right after the commit: nothing it committed is sent or marked sent."""
    monkeypatch.setattr(bot.app.outbox, "send", lambda row, items: None)


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_reply_is_stored_with_the_update_and_deleted_once_sent(bot_factory, database: str) -> None:
    bot = bot_factory(HELLO, database=database)
    assert [r.text for r in bot.process(message(1, "/hello"))] == [GREETING]
    assert len(outbox_rows()) == 1           # sent; the delete is batched
    assert bot.app.outbox.flush() == 1
    assert outbox_rows() == []


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_replies_committed_by_a_killed_process_are_sent_at_the_next_start(
        bot_factory, database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path}/shared.db" if database == "sqlite" else None
    first = bot_factory(HELLO, database=database, db_url=url)
    url = first.app.config["database"]["url"]
    _killed_before_sending(first, monkeypatch)
    assert first.process(message(1, "/hello")) == []        # committed, never sent
    assert first.process(message(2, "/hello", user_id=8)) == []
    assert len(outbox_rows()) == 2
    first.app.stop()

    second = bot_factory(HELLO, db_url=url)                  # starting recovers, before any update
    assert sent_texts(second) == [GREETING, GREETING]
    assert [c.chat_id for c in second.telegram.calls if c.method == "send_message"] == [7, 8]
    second.app.stop()
    third = bot_factory(HELLO, db_url=url)
    assert sent_texts(third) == []                           # sent once: the rows are gone
    assert outbox_rows() == []


def test_a_jobs_notices_are_in_the_outbox_too(bot_factory, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/jobs.db"
    first = bot_factory(HELLO, db_url=url)
    user = first.user(7)
    user.send("/morning on")
    first.clock.now = dt.datetime(2026, 12, 7, 9, 5, tzinfo=dt.UTC)  # the job greets at 9:00-9:15
    _killed_before_sending(first, monkeypatch)
    first.app.outbox.flush()
    assert first.run_job("hello.morning") == []
    assert len(outbox_rows()) == 1
    first.app.stop()
    second = bot_factory(HELLO, db_url=url)
    assert len(sent_texts(second)) == 1 and "morning" in sent_texts(second)[0].lower()


def _foreign_row(instance: str, created_at: dt.datetime) -> int:
    calls = encode_calls([Outgoing("send_message", {"chat_id": 9, "text": f"from {instance}"})])
    with connection_scope():
        return OutboxMessage.insert(instance=instance, created_at=created_at, calls=calls).execute()


def _beat(instance: str, age: float, stopped: bool = False) -> None:
    now = dt.datetime.now(dt.UTC)
    host, _, pid = instance.rpartition(":")
    with connection_scope():
        BotProcess.insert(instance=instance, host=host, pid=int(pid), mode="polling", started_at=now,
                          heartbeat_at=now - dt.timedelta(seconds=age),
                          stopped_at=now if stopped else None).execute()


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_only_the_rows_of_processes_that_are_gone_are_taken_over(bot_factory, database: str) -> None:
    bot = bot_factory(HELLO, database=database)
    now = bot.app.now()
    _foreign_row("web-1:100", now)                       # beating: its own process sends it
    _beat("web-1:100", age=1)
    _foreign_row("web-2:200", now)                       # its heartbeat went stale: gone
    _beat("web-2:200", age=STALE_AFTER + 5)
    _foreign_row("web-3:300", now)                       # stopped cleanly (and left a row): gone
    _beat("web-3:300", age=1, stopped=True)
    _foreign_row("web-4:400", now)                       # no heartbeat yet, row too young to judge
    _foreign_row("web-5:500", now - dt.timedelta(seconds=STALE_AFTER + 5))  # no heartbeat, old: gone
    assert bot.app.outbox.recover() == 3
    assert sorted(sent_texts(bot)) == ["from web-2:200", "from web-3:300", "from web-5:500"]
    assert sorted(r.instance for r in outbox_rows()) == ["web-1:100", "web-4:400"]
    assert bot.app.outbox.recover() == 0                # nothing is sent twice


def test_two_processes_recovering_at_once_send_each_row_once(bot_factory) -> None:
    bot = bot_factory(HELLO, database="postgres")
    old = bot.app.now() - dt.timedelta(seconds=STALE_AFTER + 5)
    for _ in range(300):
        _foreign_row("gone:1", old)
    telegrams = [FakeTelegram(), FakeTelegram()]
    outboxes = [Outbox(_deliverer(t), bot.app.clock, instance=f"peer:{n}") for n, t in enumerate(telegrams)]
    threads = [threading.Thread(target=o.recover) for o in outboxes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    sent = [c.text for t in telegrams for c in t.calls]
    assert len(sent) == 300 and outbox_rows() == []


def _deliverer(telegram: FakeTelegram) -> Any:
    def deliver(items: list[Outgoing]) -> None:
        for item in items:
            telegram.call(item.method, **item.params)

    return deliver


def test_keyboards_bytes_and_prices_survive_the_round_trip() -> None:
    markup = types.InlineKeyboardMarkup()
    markup.row(types.InlineKeyboardButton("Undo", callback_data="u:7:42"))
    items = [Outgoing("send_message", {"chat_id": 7, "text": "saved", "reply_markup": markup}),
             Outgoing("send_document", {"chat_id": 7, "document": b"\x00\xffdata", "visible_file_name": "a.csv"}),
             Outgoing("send_invoice", {"chat_id": 7, "prices": [types.LabeledPrice("5 credits", 50)],
                                       "currency": "XTR"})]
    back = decode_calls(encode_calls(items))
    assert back[0].params["reply_markup"].to_dict() == markup.to_dict()
    assert back[1].params["document"] == b"\x00\xffdata"
    assert back[2].params["prices"][0].to_dict() == {"label": "5 credits", "amount": 50}
    assert [b.method for b in back] == [i.method for i in items]
    assert encode_calls([Outgoing("send_photo", {"chat_id": 7, "photo": object()})]) is None


def test_the_resend_job_sends_what_a_process_on_another_machine_left(bot_factory) -> None:
    bot = bot_factory(HELLO)
    _foreign_row("web-9:900", bot.app.now())
    _beat("web-9:900", age=STALE_AFTER + 1)
    assert [r.text for r in bot.run_job("maintenance.resend_outbox")] == ["from web-9:900"]
    assert bot.run_job("maintenance.resend_outbox") == []


def test_sent_rows_are_deleted_once_the_database_is_back(bot_factory, monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    import peewee

    bot = bot_factory(HELLO)
    real = OutboxMessage.delete

    def unreachable() -> Any:
        raise peewee.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(OutboxMessage, "delete", unreachable)
    bot.process(message(1, "/hello"))
    bot.app.outbox.flush()                                # fails: the id is kept for later
    assert len(outbox_rows()) == 1
    assert {r.levelname for r in caplog.records if r.name == "plugbot.outbox"} == {"WARNING"}
    monkeypatch.setattr(OutboxMessage, "delete", real)
    bot.app.outbox.flush()
    assert outbox_rows() == []
