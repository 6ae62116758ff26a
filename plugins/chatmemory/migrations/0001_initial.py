"""chatmemory, initial schema: chats, messages (indexed for a chat's recent messages and for one
message by its Telegram id), summaries, user memories, profile extras and per-chat opt-outs.

Frozen on purpose: the models below are copies of ``plugins/chatmemory/models.py`` as of this
migration and must never import it. ``users`` belongs to the core and is only referenced.
"""
import datetime
import json

from peewee import *

UTC = datetime.UTC


class TimestampTZField(DateTimeField):
    """Frozen copy of the core's UTC timestamp: TIMESTAMPTZ on PostgreSQL, naive UTC text on SQLite."""

    field_type = "TIMESTAMPTZ"

    def db_value(self, value: object) -> object:
        if isinstance(value, datetime.datetime):
            value = value.astimezone(UTC)
            if not isinstance(self.model._meta.database, PostgresqlDatabase):
                return value.replace(tzinfo=None).isoformat(" ")
        return value


class JsonField(TextField):
    field_type = "JSON"

    def db_value(self, value: object) -> object:
        return None if value is None else json.dumps(value)


def now() -> datetime.datetime:
    return datetime.datetime.now(UTC)


def up(migrator, db) -> None:
    class User(Model):
        class Meta:
            database = db
            table_name = "users"

    class Chat(Model):
        id = BigIntegerField(primary_key=True)
        title = CharField(max_length=255, null=True)
        chat_type = CharField(max_length=20, constraints=[
            Check("chat_type IN ('private', 'group', 'supergroup', 'channel')")])
        member_count = IntegerField(null=True)
        is_active = BooleanField(default=True)
        memory_enabled = BooleanField(default=True)
        migrated_to = BigIntegerField(null=True, index=True)
        created_at = TimestampTZField(default=now)
        updated_at = TimestampTZField(default=now)

        class Meta:
            database = db
            table_name = "chats"

    class Message(Model):
        id = BigAutoField()
        chat = ForeignKeyField(Chat, on_delete="CASCADE", index=False)
        telegram_message_id = BigIntegerField()
        user = ForeignKeyField(User, null=True, on_delete="CASCADE", index=False)
        author = CharField(max_length=255, null=True)
        content = TextField()
        content_type = CharField(max_length=50, default="text")
        reply_to_message_id = BigIntegerField(null=True)
        thread_id = BigIntegerField(null=True)
        is_bot_message = BooleanField(default=False)
        created_at = TimestampTZField(default=now)
        edited_at = TimestampTZField(null=True)

        class Meta:
            database = db
            table_name = "messages"
            indexes = ((("chat", "created_at"), False), (("chat", "telegram_message_id"), True),
                       (("user", "chat"), False))

    class Summary(Model):
        id = BigAutoField()
        chat = ForeignKeyField(Chat, on_delete="CASCADE", index=False)
        summary_type = CharField(max_length=20, constraints=[Check("summary_type IN ('daily', '7day', '30day')")])
        provider = CharField(max_length=20, default="local")
        content = TextField()
        token_count = IntegerField(default=0)
        period_start = TimestampTZField()
        period_end = TimestampTZField()
        cited = JsonField(default="[]")
        participants = JsonField(default="{}")
        created_at = TimestampTZField(default=now)

        class Meta:
            database = db
            table_name = "summaries"
            indexes = ((("chat", "summary_type", "period_end"), False),)

    class UserMemory(Model):
        id = BigAutoField()
        user = ForeignKeyField(User, on_delete="CASCADE")
        fact = TextField()
        fact_key = CharField(max_length=600)
        source_message_id = BigIntegerField(null=True)
        source_chat_id = BigIntegerField(null=True)
        created_at = TimestampTZField(default=now)

        class Meta:
            database = db
            table_name = "user_memories"
            indexes = ((("user", "fact_key"), True),)

    class Profile(Model):
        user = ForeignKeyField(User, primary_key=True, on_delete="CASCADE")
        full_name = CharField(max_length=255, null=True)
        pronouns = CharField(max_length=50, null=True)
        updated_at = TimestampTZField(default=now)

        class Meta:
            database = db
            table_name = "chatmemory_profiles"

    class OptOut(Model):
        chat = ForeignKeyField(Chat, on_delete="CASCADE", index=False)
        user = ForeignKeyField(User, on_delete="CASCADE")
        created_at = TimestampTZField(default=now)

        class Meta:
            database = db
            table_name = "chatmemory_optouts"
            primary_key = CompositeKey("chat", "user")

    db.create_tables([Chat, Message, Summary, UserMemory, Profile, OptOut])


def down(migrator, db) -> None:
    for table in ("chatmemory_optouts", "chatmemory_profiles", "user_memories", "summaries", "messages", "chats"):
        migrator.migrate(migrator.drop_table(table))
