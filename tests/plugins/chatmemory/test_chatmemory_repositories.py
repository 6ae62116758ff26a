"""The seed's repositories, each against a real database (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from chatmemory_helpers import START

from framework import User, connection_scope, database
from plugins.chatmemory.models import Chat, Message
from plugins.chatmemory.repositories import (
    ChatRepository,
    MemoryRepository,
    MessageRepository,
    ProfileRepository,
    SummaryRepository,
)

CHAT = -500


def db(bot: Any):
    class Scope:
        def __enter__(self) -> None:
            self._scope = connection_scope()
            self._scope.__enter__()
            self._tx = database.atomic()
            self._tx.__enter__()

        def __exit__(self, *exc: Any) -> None:
            self._tx.__exit__(*exc)
            self._scope.__exit__(*exc)

    return Scope()


def user(telegram_id: int) -> User:
    return User.create(telegram_id=telegram_id, first_name=f"U{telegram_id}")


def test_chat_get_or_create_is_idempotent_and_keeps_metadata(bot) -> None:
    repo = ChatRepository()
    with db(bot):
        chat = repo.get_or_create(CHAT, chat_type="group", title="Team", member_count=5, now=START)
        again = repo.get_or_create(CHAT, chat_type="group", title="Other", now=START)
        assert (again.id, again.title, again.member_count, again.is_active) == (CHAT, "Team", 5, True)
        assert chat.created_at == START
        repo.update(CHAT, START, title="Renamed")
        assert repo.get(CHAT).title == "Renamed"


def test_chat_migration_links_the_old_group_to_the_supergroup(bot) -> None:
    repo = ChatRepository()
    with db(bot):
        repo.get_or_create(CHAT, chat_type="group", title="Team", now=START)
        repo.update(CHAT, START, memory_enabled=False)
        new = repo.migrate(CHAT, -100500, START)
        assert (new.chat_type, new.title, new.memory_enabled) == ("supergroup", "Team", False)
        old = repo.get(CHAT)
        assert (old.migrated_to, old.is_active) == (-100500, False)
        assert repo.lineage(-100500) == [-100500, CHAT]


def test_profile_get_or_create_and_pronouns(bot) -> None:
    repo = ProfileRepository()
    with db(bot):
        someone = user(7)
        assert repo.get_or_create(someone, "Ann Smith", START).full_name == "Ann Smith"
        repo.set_pronouns(someone, "she/her", START)
        assert (repo.get(someone).full_name, repo.get(someone).pronouns) == ("Ann Smith", "she/her")


def test_message_add_once_edit_recent_and_since(bot) -> None:
    chats, repo = ChatRepository(), MessageRepository()
    with db(bot):
        chats.get_or_create(CHAT, chat_type="group", now=START)
        someone = user(7)
        for n in range(1, 6):
            assert repo.add(chat_id=CHAT, telegram_message_id=n, user_id=someone.id, content=f"m{n}",
                            created_at=START + dt.timedelta(minutes=n))
        assert not repo.add(chat_id=CHAT, telegram_message_id=3, content="again", created_at=START)
        assert repo.edit(CHAT, 2, "m2 fixed", START + dt.timedelta(hours=1))
        assert [m.content for m in repo.get_recent(CHAT, limit=3)] == ["m3", "m4", "m5"]
        since = repo.get_since(CHAT, START + dt.timedelta(minutes=2), START + dt.timedelta(minutes=4))
        assert [(m.content, m.edited_at is not None) for m in since] == [("m2 fixed", True), ("m3", False)]
        assert repo.existing_ids([CHAT], [1, 5, 99]) == {1, 5}


def test_message_delete_older_than_in_batches(bot) -> None:
    chats, repo = ChatRepository(), MessageRepository()
    with db(bot):
        chats.get_or_create(CHAT, chat_type="group", now=START)
        for n in range(1, 8):
            repo.add(chat_id=CHAT, telegram_message_id=n, content="x", created_at=START - dt.timedelta(days=n))
        assert repo.delete_older_than(START - dt.timedelta(days=3, hours=1), batch=2) == 4
        assert Message.select().count() == 3


def test_summary_latest_and_between(bot) -> None:
    chats, repo = ChatRepository(), SummaryRepository()
    with db(bot):
        chats.get_or_create(CHAT, chat_type="group", now=START)
        for day in range(3):
            end = START + dt.timedelta(days=day)
            repo.add(chat_id=CHAT, summary_type="daily", content=f"day {day}", period_start=end - dt.timedelta(days=1),
                     period_end=end, cited=[day])
        assert repo.get_latest(CHAT, "daily").content == "day 2"
        assert repo.get_latest(CHAT, "7day") is None
        assert [s.content for s in repo.get_between(CHAT, "daily", START, START + dt.timedelta(days=2))] == [
            "day 1", "day 2"]


def test_memories_capped_deduplicated_and_forgotten(bot) -> None:
    repo = MemoryRepository(max_facts=3)
    with db(bot):
        someone = user(7)
        for n in range(1, 5):
            assert repo.add_memory(someone, f"fact {n}", now=START + dt.timedelta(minutes=n))[0] == "added"
        assert repo.add_memory(someone, "  FACT   4 ", now=START)[0] == "duplicate"
        assert [m.fact for m in repo.get_memories(someone)] == ["fact 2", "fact 3", "fact 4"]
        assert repo.forget(someone, 2).fact == "fact 3"
        assert repo.forget(someone, 9) is None
        assert repo.forget_all(someone) == 2
        assert Chat.select().count() == 0
