"""Tables of the chatmemory plugin: chats, their messages, summaries, user memories and profile extras.

The schema is created by ``migrations/0001_initial.py``; these models are the application's view
of it and must be kept in step with the migrations. A chat's id is Telegram's chat id; a group
that became a supergroup keeps its old row (``migrated_to`` names the new one) and its messages,
which stay under the old id because Telegram numbers the supergroup's messages afresh.
"""
from __future__ import annotations

import peewee

from framework import BaseModel, JSONField, User, UtcDateTimeField, utcnow

CHAT_TYPES = ("private", "group", "supergroup", "channel")
SUMMARY_TYPES = ("daily", "7day", "30day")


class Chat(BaseModel):
    id = peewee.BigIntegerField(primary_key=True)  # Telegram's chat id
    title = peewee.CharField(max_length=255, null=True)
    chat_type = peewee.CharField(max_length=20)
    member_count = peewee.IntegerField(null=True)
    is_active = peewee.BooleanField(default=True)
    memory_enabled = peewee.BooleanField(default=True)  # a chat admin's /memory on|off
    migrated_to = peewee.BigIntegerField(null=True, index=True)  # the supergroup this group became
    created_at = UtcDateTimeField(default=utcnow)
    updated_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "chats"


class Message(BaseModel):
    id = peewee.BigAutoField()
    chat = peewee.ForeignKeyField(Chat, on_delete="CASCADE", backref="+", index=False)
    telegram_message_id = peewee.BigIntegerField()
    user = peewee.ForeignKeyField(User, null=True, on_delete="CASCADE", backref="+", index=False)
    author = peewee.CharField(max_length=255, null=True)  # the sender's name as it was then
    content = peewee.TextField()
    content_type = peewee.CharField(max_length=50, default="text")
    reply_to_message_id = peewee.BigIntegerField(null=True)
    thread_id = peewee.BigIntegerField(null=True)  # forum topic
    is_bot_message = peewee.BooleanField(default=False)
    created_at = UtcDateTimeField(default=utcnow)
    edited_at = UtcDateTimeField(null=True)

    class Meta:
        table_name = "messages"
        indexes = (
            (("chat", "created_at"), False),
            (("chat", "telegram_message_id"), True),
            (("user", "chat"), False),  # /forgetme and /deleteme without reading every chat
        )


class Summary(BaseModel):
    id = peewee.BigAutoField()
    chat = peewee.ForeignKeyField(Chat, on_delete="CASCADE", backref="+", index=False)
    summary_type = peewee.CharField(max_length=20)
    provider = peewee.CharField(max_length=20, default="local")  # local | llm
    content = peewee.TextField()
    token_count = peewee.IntegerField(default=0)
    period_start = UtcDateTimeField()
    period_end = UtcDateTimeField()
    cited = JSONField(default=list)  # Telegram message ids the summary cites, each checked to exist
    participants = JSONField(default=dict)  # user id (as text) → messages in the period: /context's share
    created_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "summaries"
        indexes = ((("chat", "summary_type", "period_end"), False),)


class UserMemory(BaseModel):
    id = peewee.BigAutoField()
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="+")
    fact = peewee.TextField()
    fact_key = peewee.CharField(max_length=600)  # casefolded, spacing collapsed: the de-duplication key
    source_message_id = peewee.BigIntegerField(null=True)  # the /remember message (Telegram id)
    source_chat_id = peewee.BigIntegerField(null=True)
    created_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "user_memories"
        indexes = ((("user", "fact_key"), True),)


class Profile(BaseModel):
    """The seed's profile extras, keyed by the core user."""

    user = peewee.ForeignKeyField(User, primary_key=True, on_delete="CASCADE", backref="+")
    full_name = peewee.CharField(max_length=255, null=True)
    pronouns = peewee.CharField(max_length=50, null=True)
    updated_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "chatmemory_profiles"


class OptOut(BaseModel):
    """A user who asked (/forgetme) that this chat's memory keep nothing of theirs."""

    chat = peewee.ForeignKeyField(Chat, on_delete="CASCADE", backref="+", index=False)
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="+")
    created_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "chatmemory_optouts"
        primary_key = peewee.CompositeKey("chat", "user")


MODELS = (Chat, Message, Summary, UserMemory, Profile, OptOut)
