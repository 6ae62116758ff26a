"""The seed's repositories over this plugin's tables, synchronous: each runs in the caller's
transaction (an update's, a job's) and never commits by itself."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import peewee

from framework import User

from .models import Chat, Message, OptOut, Profile, Summary, UserMemory

MAX_FACTS = 50


def normalize_fact(text: str) -> str:
    """A fact as kept: spacing collapsed to single spaces, trimmed."""
    return " ".join(text.split())


def fact_key(text: str) -> str:
    """Two facts that differ only in case or spacing are the same fact."""
    return normalize_fact(text).casefold()


class ChatRepository:
    def get(self, chat_id: int) -> Chat | None:
        return Chat.get_or_none(Chat.id == chat_id)

    def get_or_create(self, chat_id: int, *, chat_type: str, title: str | None = None,
                      member_count: int | None = None, now: dt.datetime | None = None) -> Chat:
        """The chat's row, created on first sight (a parallel creator is no error)."""
        chat = self.get(chat_id)
        if chat is not None:
            return chat
        stamp = now or dt.datetime.now(dt.UTC)
        (Chat.insert(id=chat_id, chat_type=chat_type, title=title, member_count=member_count,
                     created_at=stamp, updated_at=stamp).on_conflict_ignore().execute())
        return Chat.get(Chat.id == chat_id)

    def update(self, chat_id: int, now: dt.datetime, **fields: Any) -> int:
        """Change title, member_count, is_active, memory_enabled...; how many rows changed (0 or 1)."""
        return Chat.update(**fields, updated_at=now).where(Chat.id == chat_id).execute()

    def migrate(self, old_id: int, new_id: int, now: dt.datetime, title: str | None = None) -> Chat:
        """The group ``old_id`` became the supergroup ``new_id``: the new row inherits the old one's
        settings, the old one points at it and stops being active. Its messages stay where they are
        and are read through :meth:`lineage`."""
        old = self.get(old_id)
        new = self.get_or_create(new_id, chat_type="supergroup", title=title or (old.title if old else None), now=now)
        if old is not None:
            self.update(new_id, now, memory_enabled=old.memory_enabled, is_active=True)
            self.update(old_id, now, migrated_to=new_id, is_active=False)
            OptOut.insert_from(OptOut.select(peewee.Value(new_id), OptOut.user, OptOut.created_at)
                               .where(OptOut.chat == old_id),
                               [OptOut.chat, OptOut.user, OptOut.created_at]).on_conflict_ignore().execute()
        return self.get(new_id) or new

    def lineage(self, chat_id: int) -> list[int]:
        """``chat_id`` and every chat that became it (a group before its supergroup), newest first."""
        ids, frontier = [chat_id], [chat_id]
        while frontier:
            frontier = [row.id for row in Chat.select(Chat.id).where(Chat.migrated_to.in_(frontier))
                        if row.id not in ids]
            ids.extend(frontier)
        return ids

    def active_with_messages_since(self, since: dt.datetime) -> list[Chat]:
        """Active chats whose memory is on and that have a message at or after ``since``."""
        recent = Message.select(peewee.Value(1)).where(Message.chat == Chat.id, Message.created_at >= since)
        return list(Chat.select().where(Chat.is_active, Chat.memory_enabled, peewee.fn.EXISTS(recent))
                    .order_by(Chat.id))


class ProfileRepository:
    """The seed's user extras (full name, pronouns) beside the core's ``users`` row."""

    def get(self, user: User) -> Profile | None:
        return Profile.get_or_none(Profile.user == user.id)

    def get_or_create(self, user: User, full_name: str | None = None, now: dt.datetime | None = None) -> Profile:
        profile = self.get(user)
        if profile is None:
            Profile.insert(user=user.id, full_name=full_name, updated_at=now or dt.datetime.now(dt.UTC)) \
                .on_conflict_ignore().execute()
            profile = Profile.get(Profile.user == user.id)
        return profile

    def set_pronouns(self, user: User, pronouns: str | None, now: dt.datetime) -> None:
        self.get_or_create(user, now=now)
        Profile.update(pronouns=pronouns, updated_at=now).where(Profile.user == user.id).execute()


class MessageRepository:
    def add(self, *, chat_id: int, telegram_message_id: int, content: str, user_id: int | None = None,
            author: str | None = None, content_type: str = "text", reply_to_message_id: int | None = None,
            thread_id: int | None = None, is_bot_message: bool = False,
            created_at: dt.datetime | None = None) -> bool:
        """Store one message: one INSERT; False when it was stored already (a redelivery)."""
        inserted = (Message.insert(chat=chat_id, telegram_message_id=telegram_message_id, user=user_id, author=author,
                                   content=content, content_type=content_type, reply_to_message_id=reply_to_message_id,
                                   thread_id=thread_id, is_bot_message=is_bot_message,
                                   created_at=created_at or dt.datetime.now(dt.UTC))
                    .on_conflict_ignore().as_rowcount().execute())
        return bool(inserted)

    def edit(self, chat_id: int, telegram_message_id: int, content: str, edited_at: dt.datetime) -> bool:
        changed = (Message.update(content=content, edited_at=edited_at)
                   .where(Message.chat == chat_id, Message.telegram_message_id == telegram_message_id).execute())
        return bool(changed)

    def delete_one(self, chat_id: int, telegram_message_id: int) -> int:
        return (Message.delete()
                .where(Message.chat == chat_id, Message.telegram_message_id == telegram_message_id).execute())

    def get(self, chat_id: int, telegram_message_id: int) -> Message | None:
        return Message.get_or_none(Message.chat == chat_id, Message.telegram_message_id == telegram_message_id)

    def get_recent(self, chat_id: int | Iterable[int], limit: int = 100) -> list[Message]:
        """The newest ``limit`` messages of the chat (or of each chat of a lineage), oldest first."""
        ids = [chat_id] if isinstance(chat_id, int) else list(chat_id)
        rows: list[Message] = []
        for one in ids:  # one index range per chat: an IN list would sort every row of them all
            rows.extend(Message.select().where(Message.chat == one)
                        .order_by(Message.created_at.desc(), Message.id.desc()).limit(limit))
        rows.sort(key=lambda m: (m.created_at, m.id))
        return rows[-limit:] if limit else []

    def get_since(self, chat_id: int | Iterable[int], since: dt.datetime,
                  until: dt.datetime | None = None) -> list[Message]:
        """The chat's messages from ``since`` (and before ``until``), oldest first."""
        ids = [chat_id] if isinstance(chat_id, int) else list(chat_id)
        rows: list[Message] = []
        for one in ids:
            query = Message.select().where(Message.chat == one, Message.created_at >= since)
            if until is not None:
                query = query.where(Message.created_at < until)
            rows.extend(query.order_by(Message.created_at, Message.id))
        rows.sort(key=lambda m: (m.created_at, m.id))
        return rows

    def existing_ids(self, chat_ids: Iterable[int], telegram_ids: Iterable[int]) -> set[int]:
        """Which of ``telegram_ids`` are stored messages of these chats."""
        wanted = sorted({int(i) for i in telegram_ids})
        if not wanted:
            return set()
        return {row.telegram_message_id for row in
                Message.select(Message.telegram_message_id)
                .where(Message.chat.in_(list(chat_ids)), Message.telegram_message_id.in_(wanted))}

    def delete_of_user(self, user_id: int, chat_ids: Iterable[int] | None = None) -> int:
        query = Message.delete().where(Message.user == user_id)
        if chat_ids is not None:
            query = query.where(Message.chat.in_(list(chat_ids)))
        return query.execute()

    def delete_older_than(self, cutoff: dt.datetime, batch: int = 5000) -> int:
        """Hard-delete messages created before ``cutoff``, chat by chat (each through the
        (chat_id, created_at) index rather than a scan of the whole table), ``batch`` rows a statement."""
        total = 0
        for (chat_id,) in Chat.select(Chat.id).tuples():
            while True:
                ids = [row.id for row in Message.select(Message.id)
                       .where(Message.chat == chat_id, Message.created_at < cutoff).limit(batch)]
                if not ids:
                    break
                total += Message.delete().where(Message.id.in_(ids)).execute()
        return total

    def of_user(self, user_id: int) -> list[Message]:
        return list(Message.select().where(Message.user == user_id).order_by(Message.created_at, Message.id))


class SummaryRepository:
    def add(self, *, chat_id: int, summary_type: str, content: str, period_start: dt.datetime,
            period_end: dt.datetime, token_count: int = 0, provider: str = "local",
            cited: list[int] | None = None, participants: dict[str, int] | None = None,
            created_at: dt.datetime | None = None) -> Summary:
        return Summary.create(chat=chat_id, summary_type=summary_type, content=content, period_start=period_start,
                              period_end=period_end, token_count=token_count, provider=provider,
                              cited=cited or [], participants=participants or {},
                              created_at=created_at or dt.datetime.now(dt.UTC))

    def get_latest(self, chat_id: int, summary_type: str) -> Summary | None:
        return (Summary.select().where(Summary.chat == chat_id, Summary.summary_type == summary_type)
                .order_by(Summary.period_end.desc(), Summary.id.desc()).first())

    def get_between(self, chat_id: int, summary_type: str, start: dt.datetime, end: dt.datetime) -> list[Summary]:
        """Summaries of that type whose period ends within [start, end), oldest first."""
        return list(Summary.select().where(Summary.chat == chat_id, Summary.summary_type == summary_type,
                                           Summary.period_end > start, Summary.period_end <= end)
                    .order_by(Summary.period_end, Summary.id))

    def drop_participant(self, chat_ids: Iterable[int], user_id: int) -> None:
        """A user who left the chat's memory is no longer named in its summaries' shares."""
        for summary in Summary.select().where(Summary.chat.in_(list(chat_ids))):
            if str(user_id) in (summary.participants or {}):
                shares = {k: v for k, v in summary.participants.items() if k != str(user_id)}
                Summary.update(participants=shares).where(Summary.id == summary.id).execute()


class MemoryRepository:
    """Facts a user asked the bot to remember; at most ``max_facts``, the oldest dropped first."""

    def __init__(self, max_facts: int = MAX_FACTS):
        self.max_facts = max_facts

    def add_memory(self, user: User, fact: str, *, now: dt.datetime, source_message_id: int | None = None,
                   source_chat_id: int | None = None) -> tuple[str, int]:
        """Remember ``fact``: ("added", dropped) with how many old facts the cap pushed out,
        or ("duplicate", 0) when the user already has it (case and spacing aside)."""
        text = normalize_fact(fact)
        inserted = (UserMemory.insert(user=user.id, fact=text, fact_key=fact_key(text), created_at=now,
                                      source_message_id=source_message_id, source_chat_id=source_chat_id)
                    .on_conflict_ignore().as_rowcount().execute())
        if not inserted:
            return "duplicate", 0
        keep = (UserMemory.select(UserMemory.id).where(UserMemory.user == user.id)
                .order_by(UserMemory.created_at.desc(), UserMemory.id.desc()).limit(self.max_facts))
        dropped = UserMemory.delete().where(UserMemory.user == user.id, UserMemory.id.not_in(
            [row.id for row in keep])).execute()
        return "added", dropped

    def get_memories(self, user: User) -> list[UserMemory]:
        """The user's facts, oldest first (the numbers /memories shows)."""
        return list(UserMemory.select().where(UserMemory.user == user.id)
                    .order_by(UserMemory.created_at, UserMemory.id))

    def forget(self, user: User, number: int) -> UserMemory | None:
        """Forget the ``number``-th fact (1-based, as listed); the fact, or None when there is none."""
        memories = self.get_memories(user)
        if not 1 <= number <= len(memories):
            return None
        memory = memories[number - 1]
        UserMemory.delete().where(UserMemory.id == memory.id).execute()
        return memory

    def forget_all(self, user: User) -> int:
        return UserMemory.delete().where(UserMemory.user == user.id).execute()


class OptOutRepository:
    def add(self, chat_ids: Iterable[int], user_id: int, now: dt.datetime) -> None:
        for chat_id in chat_ids:
            if Chat.get_or_none(Chat.id == chat_id) is not None:
                OptOut.insert(chat=chat_id, user=user_id, created_at=now).on_conflict_ignore().execute()

    def remove(self, chat_id: int, user_id: int) -> int:
        return OptOut.delete().where(OptOut.chat == chat_id, OptOut.user == user_id).execute()

    def users_of(self, chat_id: int) -> list[int]:
        return [row.user_id for row in OptOut.select(OptOut.user).where(OptOut.chat == chat_id)]
