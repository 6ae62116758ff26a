"""A busy group on PostgreSQL: a million stored messages, and the queries of get_recent, of one
chat's nightly summary and of retention read them through indexes, never a scan of ``messages``."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from chatmemory_helpers import START

from framework import connection_scope, database
from plugins.chatmemory.models import Chat, Message
from plugins.chatmemory.repositories import ChatRepository, MessageRepository, SummaryRepository

BUSY = -1009000
ROWS = 1_000_000
CHATS = 50  # the rows are spread over this many chats, the busy one holding half


def plan(query: Any) -> list[dict[str, Any]]:
    sql, params = query.sql()
    cursor = database.execute_sql("EXPLAIN (FORMAT JSON) " + sql, params)
    nodes, stack = [], [cursor.fetchone()[0][0]["Plan"]]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.get("Plans", []))
    return nodes


def scans_messages(query: Any) -> bool:
    return any(n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "messages" for n in plan(query))


@pytest.fixture
def busy(bot_factory: Any) -> Any:
    bot = bot_factory(plugins={"chatmemory": {}}, database="postgres")
    bot.set_time(START)
    with connection_scope():
        for n in range(CHATS):
            Chat.insert(id=BUSY - n, chat_type="supergroup", created_at=START, updated_at=START).execute()
        # Half the rows in the busy group, the rest spread over the others, a month of history.
        database.execute_sql(
            "INSERT INTO messages (chat_id, telegram_message_id, user_id, author, content, content_type,"
            " is_bot_message, created_at) "
            "SELECT CASE WHEN g %% 2 = 0 THEN %s ELSE %s - (g %% %s) END, g, NULL, 'someone',"
            " 'message number ' || g, 'text', false,"
            " %s::timestamptz - make_interval(secs => (g %% 2592000)) FROM generate_series(1, %s) AS g",
            (BUSY, BUSY, CHATS, START, ROWS))
        database.execute_sql("ANALYZE messages")
        database.execute_sql("ANALYZE chats")
    return bot


@pytest.mark.postgres
def test_recent_nightly_and_retention_queries_use_indexes(busy) -> None:
    with connection_scope():
        assert Message.select().count() == ROWS
        recent = (Message.select().where(Message.chat == BUSY)
                  .order_by(Message.created_at.desc(), Message.id.desc()).limit(100))
        assert not scans_messages(recent)
        day = (Message.select().where(Message.chat == BUSY, Message.created_at >= START - dt.timedelta(days=1),
                                      Message.created_at < START).order_by(Message.created_at, Message.id))
        assert not scans_messages(day)
        assert not scans_messages(Message.select(Message.telegram_message_id).where(
            Message.chat.in_([BUSY]), Message.telegram_message_id.in_([1, 2, 3])))
        assert not scans_messages(Message.select(Message.id).where(
            Message.chat == BUSY, Message.created_at < START - dt.timedelta(days=29)).limit(5000))
        since = START - dt.timedelta(days=1)
        recent_exists = Message.select(Message.id).where(Message.chat == Chat.id, Message.created_at >= since)
        from peewee import fn
        active = Chat.select().where(Chat.is_active, Chat.memory_enabled, fn.EXISTS(recent_exists))
        assert not scans_messages(active)
        # And the repositories answer as the plans promise.
        rows = MessageRepository().get_recent(ChatRepository().lineage(BUSY), limit=100)
        assert len(rows) == 100 and rows[-1].created_at <= START
        assert SummaryRepository().get_latest(BUSY, "daily") is None


@pytest.mark.postgres
def test_one_chats_nightly_summary_on_a_busy_table(busy) -> None:
    busy.run_job("chatmemory.nightly")
    with connection_scope():
        from plugins.chatmemory.models import Summary

        daily = Summary.get(Summary.chat == BUSY, Summary.summary_type == "daily")
        assert json.loads(daily.content)["messages"] > 10_000
