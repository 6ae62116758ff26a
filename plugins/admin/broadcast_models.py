"""Tables of the admin broadcast: one row per broadcast, one per recipient, and who blocked the bot."""
from __future__ import annotations

import peewee

from framework import BaseModel, User, UtcDateTimeField, utcnow

# A recipient row moves pending → sending (claimed, the message about to leave) → sent | blocked | failed.
# A row left in "sending" by a process that died may or may not have arrived: it is never sent again.
PENDING, SENDING, SENT, BLOCKED, FAILED = "pending", "sending", "sent", "blocked", "failed"

# A broadcast moves draft → sending → done, or to cancelled from draft or sending.
DRAFT, ACTIVE, DONE, CANCELLED = "draft", "sending", "done", "cancelled"


class Broadcast(BaseModel):
    author = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    text = peewee.TextField()
    lang = peewee.CharField(max_length=10)            # the author's language, for progress and report
    status = peewee.CharField(max_length=20, default=DRAFT, index=True)
    chat_id = peewee.BigIntegerField(null=True)       # the message showing progress
    message_id = peewee.BigIntegerField(null=True)
    total = peewee.IntegerField(default=0)
    pauses = peewee.IntegerField(default=0)           # 429s that paused the whole broadcast
    worker = peewee.CharField(max_length=64, null=True)   # the process sending it, while its lease lasts
    lease_until = UtcDateTimeField(null=True)
    created_at = UtcDateTimeField(default=utcnow)
    started_at = UtcDateTimeField(null=True)
    finished_at = UtcDateTimeField(null=True)

    class Meta:
        table_name = "admin_broadcasts"


class BroadcastRecipient(BaseModel):
    broadcast = peewee.ForeignKeyField(Broadcast, on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, on_delete="CASCADE")
    telegram_id = peewee.BigIntegerField()
    status = peewee.CharField(max_length=20, default=PENDING)
    error = peewee.CharField(max_length=200, null=True)
    sent_at = UtcDateTimeField(null=True)

    class Meta:
        table_name = "admin_broadcast_recipients"
        indexes = ((("broadcast", "user"), True), (("broadcast", "status"), False))


class BotBlocked(BaseModel):
    """A user whose last message from the bot was refused with 403: they blocked it.

    They count as unreachable until they write to the bot again (``users.last_active`` moves past
    ``blocked_at``), which they can only do after unblocking it.
    """

    user = peewee.ForeignKeyField(User, unique=True, on_delete="CASCADE")
    blocked_at = UtcDateTimeField()

    class Meta:
        table_name = "admin_bot_blocked"
