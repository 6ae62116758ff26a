"""/summary [day|7day|30day] and /context."""
from __future__ import annotations

from typing import Any

from framework import Context, arg

from . import privacy, summaries
from .models import Message
from .repositories import ChatRepository, MemoryRepository, ProfileRepository, SummaryRepository

PERIODS = {"day": "daily", "daily": "daily", "7day": "7day", "week": "7day", "30day": "30day", "month": "30day"}
SUMMARY_ARGS = [arg.choice("period", PERIODS, default="daily")]


def _state(ctx: Context) -> dict[str, Any] | None:
    chat = ctx.chat
    if chat is None or not privacy.configured(ctx.settings, chat.id):
        return None
    return privacy.chat_state(ctx, chat.id, chat.type, getattr(chat, "title", None))


def summary(ctx: Context, period: str) -> None:
    if ctx.chat_type == "private":
        ctx.reply(ctx.t("summary.only_groups"))
        return
    state = _state(ctx)
    if state is None or not state["on"]:
        ctx.reply(ctx.t("summary.memory_off"))
        return
    now = ctx.now()
    found = summaries.latest_fresh(ctx.chat_id, period, now)
    if found is None:
        found = summaries.generate(ctx.settings, ctx.llm, ctx.chat_id, period, now, set(state["out"]))
    if found is None:
        ctx.reply(ctx.t("summary.nothing"))
        return
    ctx.reply(summaries.render(found, ctx.t, ctx.chat_id, ctx.settings))


def context(ctx: Context) -> None:
    """What the bot keeps about the user, seen from this chat."""
    lines = [ctx.t("context.title")]
    facts = MemoryRepository(int(ctx.settings["max_facts"])).get_memories(ctx.user)
    lines.append(ctx.t("context.memories", count=len(facts)) if facts else ctx.t("context.no_memories"))
    profile = ProfileRepository().get(ctx.user)
    if profile is not None and profile.pronouns:
        lines.append(ctx.t("context.pronouns", pronouns=profile.pronouns))
    else:
        lines.append(ctx.t("context.no_pronouns"))
    state = _state(ctx)
    if state is None or not state["on"]:
        lines.append(ctx.t("context.memory_off"))
    elif ctx.user.id in state["out"]:
        lines.append(ctx.t("context.opted_out"))
    lineage = ChatRepository().lineage(ctx.chat_id)
    count = Message.select().where(Message.user == ctx.user.id, Message.chat.in_(lineage)).count()
    lines.append(ctx.t("context.messages", count=count))
    if ctx.chat_type != "private":
        latest = SummaryRepository().get_latest(ctx.chat_id, "daily")
        shares = (latest.participants or {}) if latest is not None else {}
        mine = int(shares.get(str(ctx.user.id), 0))
        if mine:
            lines.append(ctx.t("context.share", mine=mine, total=sum(int(v) for v in shares.values())))
        else:
            lines.append(ctx.t("context.no_share"))
    ctx.reply("\n".join(lines))
