"""Test plugin ``probe``: handlers and jobs that use the core services from inside a plugin.

Every call it wants a test to see is written to its table ``probe_events``,
in the transaction of the update or job that made it.
"""
from __future__ import annotations

import os
import threading
from typing import Any

import peewee

from framework import (
    SKIP,
    BaseModel,
    Context,
    JobContext,
    PluginInfo,
    User,
    UtcDateTimeField,
    arg,
    connection_scope,
    hookimpl,
    utcnow,
)

HERE = os.path.dirname(os.path.abspath(__file__))
FALLBACK_TEXT = "local fallback text"
AFTER_COMMIT: list[tuple[str, str, int]] = []  # (kind, note, rows of that kind another connection saw)


class ProbeEvent(BaseModel):
    kind = peewee.CharField(max_length=50)
    telegram_id = peewee.BigIntegerField(null=True)
    note = peewee.TextField(null=True)
    created_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "probe_events"


def events(kind: str, telegram_id: int | None = None) -> list[ProbeEvent]:
    """What the plugin recorded (read in a connection of its own)."""
    with connection_scope():
        query = ProbeEvent.select().where(ProbeEvent.kind == kind)
        if telegram_id is not None:
            query = query.where(ProbeEvent.telegram_id == telegram_id)
        return list(query.order_by(ProbeEvent.id))


def _after_commit(ctx: Context, kind: str, note: str) -> None:
    """Record, once the update committed, what a connection of another thread then sees."""
    telegram_id = ctx.telegram_id

    def seen_elsewhere() -> None:
        counted: list[int] = []
        reader = threading.Thread(target=lambda: counted.append(len(events(kind, telegram_id))))
        reader.start()
        reader.join(10)
        AFTER_COMMIT.append((kind, note, counted[0]))

    ctx.after_commit(seen_elsewhere)


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="probe", version="0.1.0", description="test plugin: probe")


@hookimpl
def plugbot_register_models(register: Any) -> None:
    register(ProbeEvent)


@hookimpl
def plugbot_register_migrations(register: Any) -> None:
    register(os.path.join(HERE, "migrations"))


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.command("write", write)
    register.command("boom", boom)
    register.command("limited", limited, rate_limit="2/hour")
    register.command("manage", manage, permission="manage_users")
    register.command("ask", ask)
    register.command("costly", costly, allow_restricted=False)
    register.command("whoami", whoami)
    register.command("whois", whois, permission="manage_users", args=[arg.int("telegram_id", min=1)])
    register.command("usertz", usertz, permission="manage_users", args=[arg.user("target"), arg.word("zone")])
    # Two text handlers on one update: the first writes and passes, the second may fail.
    register.text(chain_first, priority=10)
    register.text(chain_second)


@hookimpl
def plugbot_register_jobs(register: Any) -> None:
    # One-second intervals: they only run when a test starts the real scheduler.
    register("explode", explode, trigger="interval", seconds=1)
    register("tick", tick, trigger="interval", seconds=1)


@hookimpl
def plugbot_archive_user_data(user: User) -> None:
    ProbeEvent.create(kind="archived", telegram_id=user.telegram_id)


def _write(ctx: Context) -> ProbeEvent:
    row = ProbeEvent.create(kind="write", telegram_id=ctx.telegram_id, note=ctx.args, created_at=ctx.now())
    ctx.audit("probe_written", "probe_event", row.id, {"note": ctx.args})
    _after_commit(ctx, "write", ctx.args)
    return row


def write(ctx: Context) -> None:
    _write(ctx)
    ctx.reply("written")


def boom(ctx: Context) -> None:
    _write(ctx)
    ctx.reply("this reply must never be sent")
    raise RuntimeError("boom after writing")


def _chain_link(ctx: Context, kind: str, breaks_on: str) -> bool:
    """Record a "chain …" text (False, recording nothing, for any other text); raise on ``breaks_on``."""
    if not ctx.text.startswith("chain"):
        return False
    ProbeEvent.create(kind=kind, telegram_id=ctx.telegram_id, note=ctx.text)
    _after_commit(ctx, kind, ctx.text)
    if ctx.text == breaks_on:
        raise RuntimeError(f"{kind} broke")
    return True


def chain_first(ctx: Context) -> Any:
    _chain_link(ctx, "chain_first", "chain first boom")
    return SKIP  # pass the text on, as a recorder of chat messages does


def chain_second(ctx: Context) -> Any:
    if not _chain_link(ctx, "chain_second", "chain boom"):
        return SKIP
    ctx.reply("chained")
    return None


def limited(ctx: Context) -> None:
    ctx.reply("limited command ran")


def manage(ctx: Context) -> None:
    ProbeEvent.create(kind="manage", telegram_id=ctx.telegram_id)
    ctx.reply("managed")


def costly(ctx: Context) -> None:
    ProbeEvent.create(kind="costly", telegram_id=ctx.telegram_id)
    ctx.reply("costly command ran")


def whoami(ctx: Context) -> None:
    ctx.reply(f"restricted={ctx.restricted}")


def whois(ctx: Context, telegram_id: int) -> None:
    """An admin looks at a user's stored profile (the core audits the viewing)."""
    profile = ctx.users.profile(telegram_id, actor=ctx.user)
    if profile is None:
        ctx.reply("no such user")
        return
    ctx.reply(f"{profile['first_name']} tz={profile['timezone']} lang={profile['language']}")


def usertz(ctx: Context, target: User, zone: str) -> None:
    """An admin changes a user's timezone (the core audits the change)."""
    try:
        changed = ctx.users.change_settings(target, actor=ctx.user, timezone=zone)
    except ValueError as exc:
        ctx.reply(str(exc))
        return
    ctx.reply(f"changed {changed}")


def ask(ctx: Context) -> None:
    result = ctx.llm.complete([{"role": "user", "content": ctx.args or "hi"}], user_id=ctx.user.id,
                              fallback=lambda: FALLBACK_TEXT, cache=False)
    ctx.reply(f"{result.text} [vendor={result.vendor} fell_back={result.fell_back}]")


def explode(job: JobContext) -> None:
    raise RuntimeError("kaboom")


def tick(job: JobContext) -> None:
    ProbeEvent.create(kind="tick", created_at=job.now())
