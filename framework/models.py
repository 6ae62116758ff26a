"""Core tables shared by every plugin.

Column names follow the seeds (000 data & state, 002 tarot data, 003
personalisation, 004 chat memory). Where two seeds disagree the stricter
constraint wins, noted next to the field.
"""
from __future__ import annotations

import peewee

from .db import BaseModel, JSONField, UtcDateTimeField, utcnow

# active; suspended while banned; blocked after Telegram answered 403 (the user blocked the bot),
# until they write again; deleted: a tombstone after /deleteme (only the Telegram id and status).
USER_STATUSES = ("active", "suspended", "deleted", "blocked")


class User(BaseModel):
    """A Telegram user: profile, language and timezone, consent, and the status an admin set."""

    telegram_id = peewee.BigIntegerField(unique=True)
    username = peewee.CharField(max_length=255, null=True)
    first_name = peewee.CharField(max_length=255, null=True)
    last_name = peewee.CharField(max_length=255, null=True)
    language_code = peewee.CharField(max_length=10, default="en")
    timezone = peewee.CharField(max_length=50, default="UTC")
    # Seed 000: False mutes what the bot sends on its own (job.notify); replies are not muted.
    notifications_enabled = peewee.BooleanField(default=True)
    is_admin = peewee.BooleanField(default=False)
    status = peewee.CharField(
        max_length=20, default="active",
        constraints=[peewee.Check("status IN ('active', 'suspended', 'deleted', 'blocked')")],  # core 0009
    )
    created_at = UtcDateTimeField(default=utcnow)
    updated_at = UtcDateTimeField(default=utcnow)
    last_active = UtcDateTimeField(default=utcnow, index=True)

    class Meta:
        table_name = "users"


class UserSettings(BaseModel):
    """Core per-user preferences: language override, consent, inactivity reminders."""

    user = peewee.ForeignKeyField(User, unique=True, on_delete="CASCADE", backref="settings")
    language = peewee.CharField(max_length=10, null=True)  # /language override of language_code
    consent_at = UtcDateTimeField(null=True)
    inactivity_reminded_at = UtcDateTimeField(null=True)
    archived_at = UtcDateTimeField(null=True)
    preferences = JSONField(default=dict)
    created_at = UtcDateTimeField(default=utcnow)
    updated_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "user_settings"


class AuditLog(BaseModel):
    """Seed 000 audit_logs. ``user`` is nulled (not cascaded) when a user is erased."""

    user = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL", index=True)
    telegram_id = peewee.BigIntegerField(null=True)
    plugin = peewee.CharField(max_length=50, null=True)
    action = peewee.CharField(max_length=50, index=True)
    entity_type = peewee.CharField(max_length=50, null=True)
    entity_id = peewee.BigIntegerField(null=True)
    details = JSONField(null=True)
    ip_address = peewee.CharField(max_length=45, null=True)
    user_agent = peewee.TextField(null=True)
    created_at = UtcDateTimeField(default=utcnow, index=True)

    class Meta:
        table_name = "audit_logs"


class PdAuditLog(BaseModel):
    """Seed 003 pd_audit_log: every operation on personal data (152-FZ)."""

    actor = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    target_user = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    action = peewee.TextField()
    details = JSONField(null=True)
    created_at = UtcDateTimeField(default=utcnow, index=True)

    class Meta:
        table_name = "pd_audit_log"


class UserRestriction(BaseModel):
    """Seed 004 user_restrictions: bans and restrictions, optionally expiring."""

    user = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="restrictions")
    restriction_type = peewee.CharField(
        max_length=20, constraints=[peewee.Check("restriction_type IN ('ban', 'restrict')")]
    )
    reason = peewee.TextField(null=True)
    expires_at = UtcDateTimeField(null=True)
    created_by = peewee.BigIntegerField()
    is_active = peewee.BooleanField(default=True)
    created_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "user_restrictions"
        indexes = ((("user", "is_active"), False),)


class AccessList(BaseModel):
    """Seed 004 access_list: white/black lists of users and chats."""

    entity_id = peewee.BigIntegerField()
    entity_type = peewee.CharField(max_length=20, constraints=[peewee.Check("entity_type IN ('user', 'chat')")])
    list_type = peewee.CharField(
        max_length=20, constraints=[peewee.Check("list_type IN ('whitelist', 'blacklist')")]
    )
    reason = peewee.TextField(null=True)
    created_by = peewee.BigIntegerField(null=True)
    created_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "access_list"
        indexes = ((("entity_id", "entity_type", "list_type"), True),)


class RateLimit(BaseModel):
    """Seed 002 rate_limits: fixed windows per user and endpoint (DB backend)."""

    user_id = peewee.BigIntegerField()  # telegram id: limits apply before a user row may exist
    endpoint = peewee.CharField(max_length=100)
    request_count = peewee.IntegerField(default=1)
    window_start = UtcDateTimeField()

    class Meta:
        table_name = "rate_limits"
        indexes = ((("user_id", "endpoint", "window_start"), True),)


class AppSettings(BaseModel):
    """Seed 003 app_settings: the single row of global, admin-controlled settings."""

    id = peewee.SmallIntegerField(primary_key=True, default=1)
    active_llm_vendor = peewee.TextField(default="local")
    llm_config = JSONField(default=dict)
    consent_text = peewee.TextField(null=True)
    updated_at = UtcDateTimeField(default=utcnow)
    consent_updated_at = UtcDateTimeField(null=True)  # core migration 0005: a new text asks users again
    access_mode = peewee.CharField(max_length=20, null=True)  # core migration 0005: over config access.mode

    class Meta:
        table_name = "app_settings"


class AdminUser(BaseModel):
    """Seed 003 admin_users: finer admin roles than the config's superadmins."""

    user = peewee.ForeignKeyField(User, unique=True, on_delete="CASCADE")
    can_manage_keys = peewee.BooleanField(default=False)
    can_view_stats = peewee.BooleanField(default=True)
    can_manage_users = peewee.BooleanField(default=True)
    notes = peewee.TextField(null=True)
    created_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "admin_users"


class LlmCache(BaseModel):
    """Seed 003 llm_cache: responses keyed per vendor, pruned when expired."""

    vendor = peewee.TextField()
    cache_key = peewee.TextField()
    request_payload = JSONField(null=True)
    response_payload = JSONField(null=True)
    created_at = UtcDateTimeField(default=utcnow)
    expires_at = UtcDateTimeField(null=True, index=True)

    class Meta:
        table_name = "llm_cache"
        indexes = ((("vendor", "cache_key"), True),)


class UsageStats(BaseModel):
    """Seed 003 usage_stats: LLM requests and tokens per user and vendor."""

    user = peewee.ForeignKeyField(User, null=True, on_delete="CASCADE")
    vendor = peewee.TextField(null=True)
    total_requests = peewee.IntegerField(default=0)
    total_tokens = peewee.IntegerField(default=0)
    last_request_at = UtcDateTimeField(null=True)

    class Meta:
        table_name = "usage_stats"
        indexes = ((("user", "vendor"), True),)


class ProcessedUpdate(BaseModel):
    """The exactly-once guard: an update id is inserted in the same transaction as its effects."""

    update_id = peewee.BigIntegerField(primary_key=True)
    processed_at = UtcDateTimeField(default=utcnow, index=True)

    class Meta:
        table_name = "processed_updates"


class PluginState(BaseModel):
    """Runtime status of a plugin (circuit breaker pauses, last error), for ``plugins`` listings."""

    name = peewee.CharField(max_length=100, primary_key=True)
    status = peewee.CharField(max_length=20)
    last_error = peewee.TextField(null=True)
    paused_until = UtcDateTimeField(null=True)
    updated_at = UtcDateTimeField(default=utcnow)
    enabled = peewee.BooleanField(null=True)  # core migration 0005: an admin's choice over the config (NULL: config)
    changed_by = peewee.BigIntegerField(null=True)  # the admin's telegram id

    class Meta:
        table_name = "plugin_state"


class JobRun(BaseModel):
    """Run statistics of one scheduled job (core migration 0002), kept in the database so
    ``plugbot plugins`` in another process and a restarted bot's ``/jobs`` can show them."""

    job_id = peewee.CharField(max_length=200, primary_key=True)  # '{owner}.{name}'
    runs = peewee.IntegerField(default=0)
    failures = peewee.IntegerField(default=0)
    missed = peewee.IntegerField(default=0)
    last_run_at = UtcDateTimeField(null=True)
    last_duration_s = peewee.DoubleField(null=True)
    last_outcome = peewee.CharField(max_length=10, null=True)
    last_error = peewee.TextField(null=True)
    updated_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "job_runs"


class JobTick(BaseModel):
    """One scheduled run of a job (core migration 0008), claimed before it runs: with several
    processes, the unique (job, fire time) key lets exactly one of them run each tick, even
    while the leadership changes hands (framework.scheduler.DbTickStore)."""

    job_id = peewee.CharField(max_length=200)  # '{owner}.{name}'
    fire_time = UtcDateTimeField()  # the time the trigger scheduled, the same in every process
    holder = peewee.CharField(max_length=200)  # host:pid of the process that ran it
    claimed_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "job_ticks"
        primary_key = peewee.CompositeKey("job_id", "fire_time")


class BotProcess(BaseModel):
    """A bot process serving this database (core migration 0003), kept alive by its heartbeat so
    ``plugbot health``, ``plugins``, ``restore`` and ``migrate --down`` in another process know
    whether a bot is running and whether it is getting anywhere."""

    instance = peewee.CharField(max_length=255, primary_key=True)  # '{host}:{pid}'
    host = peewee.CharField(max_length=255)
    pid = peewee.IntegerField()
    mode = peewee.CharField(max_length=20)  # polling | webhook
    started_at = UtcDateTimeField(default=utcnow)
    heartbeat_at = UtcDateTimeField(default=utcnow)
    polled_at = UtcDateTimeField(null=True)  # the last answer to getUpdates
    poll_error = peewee.TextField(null=True)  # why getUpdates fails, while it does
    in_hand = peewee.IntegerField(default=0)  # updates received and not yet processed
    stopped_at = UtcDateTimeField(null=True)

    class Meta:
        table_name = "bot_processes"


class OutboxMessage(BaseModel):
    """What one update or job queued to send, written in its transaction and deleted once sent
    (core migration 0004), so a process killed between commit and delivery loses no reply."""

    instance = peewee.CharField(max_length=255, index=True)  # '{host}:{pid}' of the process sending it
    created_at = UtcDateTimeField(default=utcnow)
    calls = peewee.TextField()  # JSON: [{"method": ..., "params": {...}}, ...] in sending order

    class Meta:
        table_name = "outbox"


class IncomingUpdate(BaseModel):
    """An update received and not processed yet (core migration 0007, ``framework.update_queue``):
    written before Telegram is told it arrived, deleted in the transaction of its effects."""

    update_id = peewee.BigIntegerField(primary_key=True)  # a redelivery hits the key and is ignored
    chat_key = peewee.BigIntegerField()  # its chat: one worker at a time per chat, in update_id order
    payload = peewee.TextField()  # the update as Telegram sent it (JSON, ASCII-escaped: NUL and lone surrogates survive)
    received_at = UtcDateTimeField(default=utcnow)  # wall time, not the app's clock: queue ages are real
    attempts = peewee.IntegerField(default=0)  # times a worker took it; a poison update is dropped after a few
    fast = peewee.BooleanField(default=False)  # a pre-checkout query: taken at once by its receiver's fast workers

    class Meta:
        table_name = "incoming_updates"
        indexes = ((("chat_key", "update_id"), False),)


CORE_MODELS = [
    User, UserSettings, AuditLog, PdAuditLog, UserRestriction, AccessList, RateLimit,
    AppSettings, AdminUser, LlmCache, UsageStats, ProcessedUpdate, PluginState, JobRun, BotProcess,
    OutboxMessage, IncomingUpdate, JobTick,
]
